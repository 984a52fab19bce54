"""Issue 14 through the real server: a meeting driven over Socket.IO, then the protocol page.

A vote still open at «Завершить заседание» is reported as interrupted; an absent secretary is
named in ПРИМЕЧАНИЯ and warned about; approval is refused (typed error, nothing changed) until
the methodist names a secretary from those present or confirms; the edit form saves officers,
chat promotion, decisions' «Срок»/«Ответственный», the speech gist (never the name twice) and
ПРИМЕЧАНИЯ, keeps them across re-assembly, and approval reports the letters queued.
"""

from __future__ import annotations

import re
from html import unescape

from sqlalchemy import func, select, update

from server.db.models import Meeting, OutboxMessage, ProtocolEdit, User
from server.db.models.protocols import MeetingProtocol, ProtocolStatus
from server.domain.meeting.meeting_log import append_events
from server.domain.protocol.workflow import assemble_draft
from tests.support.factories import logged_in_client
from tests.support.live import LiveServer
from tests.support.net import wait_for
from tests.support.room_seed import Cast, seed_cast


async def _email(server: LiveServer, cast: Cast, role: str) -> str:
    async with server.runtime.db.read() as s:
        user = await s.get(User, cast.ids[role])
        assert user is not None
        return user.email


async def _draft(server: LiveServer, meeting_id: int) -> MeetingProtocol:
    async def drafted() -> MeetingProtocol | None:
        async with server.runtime.db.read() as s:
            return await s.scalar(select(MeetingProtocol).where(MeetingProtocol.meeting_id == meeting_id))

    return await wait_for(drafted, 30, what="protocol draft assembled")


def _document(page: str) -> str:
    """The protocol's text as the page shows it (tags dropped)."""
    part = page.split('id="protocol-document"', 1)[1].split("</section>", 1)[0]
    return unescape(re.sub(r"<[^>]+>", "\n", part))


async def _count(server: LiveServer, model: type, *where: object) -> int:
    async with server.runtime.db.read() as s:
        return int(await s.scalar(select(func.count()).select_from(model).where(*where)) or 0)  # type: ignore[arg-type]


async def _officers(server: LiveServer, cast: Cast, chair: str | None, secretary: str | None) -> None:
    async with server.runtime.db.transaction() as s:
        await s.execute(
            update(Meeting)
            .where(Meeting.id == cast.meeting.id)
            .values(
                chair_id=cast.ids[chair] if chair else None,
                secretary_id=cast.ids[secretary] if secretary else None,
            )
        )


async def hold_meeting_with_absent_secretary(server: LiveServer) -> tuple[Cast, int, int]:
    """Over Socket.IO: the secretary never joins, a vote is still open at the end, two chat
    messages. Returns the cast, the draft protocol's id and the seq of the proposal message."""
    cast = await seed_cast(server.runtime.db, server.url, server.runtime.secret_key)
    await _officers(server, cast, "methodist", "teacher2")  # the secretary never joins
    try:
        host, _ = await cast.joined("methodist")
        teacher, _ = await cast.joined("member")
        await host.ok("meeting.start")
        poll = await host.ok(
            "poll.create", {"question": "Провести пробный экзамен", "kind": "decision", "secret": False}
        )
        await host.ok("poll.open", {"poll_id": poll["poll_id"]})
        await teacher.ok("vote.cast", {"poll_id": poll["poll_id"], "choices": [0]})
        await host.ok("vote.cast", {"poll_id": poll["poll_id"], "choices": [1]})
        await teacher.ok("chat.send", {"text": "Добрый день, коллеги!"})
        proposal = await teacher.ok("chat.send", {"text": "Предлагаю провести пробный экзамен в феврале"})
        await host.ok("meeting.end")  # the poll is still open
    finally:
        await cast.close_all(server.runtime.sio)
    row = await _draft(server, cast.meeting.id)
    return cast, row.id, proposal["seq"]


async def test_interrupted_vote_absent_secretary_and_the_edit_form(server: LiveServer) -> None:
    db = server.runtime.db
    cast, pid, proposal_seq = await hold_meeting_with_absent_secretary(server)
    member_key, outsider_key = cast.key("member"), cast.key("outsider")

    methodist = await logged_in_client(server, await _email(server, cast, "methodist"))
    try:
        page = await methodist.get(f"/protocols/{pid}")
        assert page.status_code == 200
        doc = _document(page.text)
        # 1. The vote was cut off: not completed, the ballots so far, no outcome; named in ПРИМЕЧАНИЯ.
        assert "Голосование не завершено: прервано окончанием заседания." in doc
        assert "Подано голосов до окончания: «за» — 1, «против» — 1, «воздержались» — 0." in doc
        assert "Решение принято" not in doc and "Решение не принято" not in doc
        assert "Голосование «Провести пробный экзамен» не завершено: прервано окончанием заседания." in doc
        # 3. Chat lines are not speeches: they are in the «Сообщения чата» attachment.
        assert "ВЫСТУПИЛИ" not in doc and "СООБЩЕНИЯ ЧАТА" in doc and "Добрый день, коллеги!" in doc
        # 2. The absent secretary: ПРИМЕЧАНИЯ, a warning on the page, a choice in the form.
        assert "На заседании отсутствовал секретарь Е.П. Кузнецова." in doc
        warning = page.text.split('id="protocol-warnings"', 1)[1].split("</div>", 1)[0]
        assert "секретарь Е.П. Кузнецова" in warning
        select_html = page.text.split('name="officer.secretary"', 1)[1].split("</select>", 1)[0]
        assert f'value="{member_key}"' in select_html and f'value="{cast.key("methodist")}"' in select_html
        assert outsider_key not in select_html and "не присутствовал" in select_html
        assert 'name="confirm_absent"' in page.text

        # Approval without the confirmation is refused with a typed error; nothing changes.
        r = await methodist.submit(f"/protocols/{pid}/approve")
        assert r.status_code == 409 and "Подписант протокола не присутствовал" in r.text
        async with db.read() as s:
            again = await s.get(MeetingProtocol, pid)
            assert again is not None and again.number is None and again.status == ProtocolStatus.draft
        assert (
            await _count(server, OutboxMessage, OutboxMessage.dedupe_key.like(f"mail:protocol:{pid}:%")) == 0
        )

        # Bad input: someone absent or unknown as secretary, an unknown key: 422, no edit stored.
        for bad in (
            {"officer.secretary": outsider_key},
            {"officer.chair": "u:999999"},
            {"item.1.bogus": "x"},
        ):
            r = await methodist.submit(f"/protocols/{pid}/edit", bad)
            assert r.status_code == 422, bad
        assert await _count(server, ProtocolEdit, ProtocolEdit.protocol_id == pid) == 0

        # The edit form: a secretary from those present, a promoted chat message, the decision's
        # «Срок» and «Ответственный», an extra note.
        decision = re.search(r'name="(decision\.\d+)\.deadline"', page.text)
        assert decision is not None
        d = decision.group(1)
        r = await methodist.submit(
            f"/protocols/{pid}/edit",
            {
                "officer.secretary": member_key,
                "chat_shown": "1",
                "promote[]": str(proposal_seq),
                f"{d}.deadline": "до 1 февраля 2027 г.",
                f"{d}.responsible": "А.П. Петрова",
                "notes.extra": "Голосование будет проведено повторно на следующем заседании",
            },
        )
        assert r.status_code == 303 and r.headers["location"] == f"/protocols/{pid}?saved=1#protocol-edit"
        page = await methodist.get(r.headers["location"])
        assert 'id="edit-saved"' in page.text and "Правки сохранены." in page.text
        doc = _document(page.text)
        assert "Секретарь — А.П. Петрова" in doc and "Секретарь — Е.П. Кузнецова" not in doc
        assert "отсутствовал секретарь" not in doc and 'id="protocol-warnings"' not in page.text
        assert 'name="confirm_absent"' not in page.text
        assert "ВЫСТУПИЛИ:" in doc
        assert "А.П. Петрова — «Предлагаю провести пробный экзамен в феврале» (сообщение в чате)." in doc
        assert "Срок — до 1 февраля 2027 г. Ответственный — А.П. Петрова." in doc
        assert "Голосование будет проведено повторно на следующем заседании." in doc

        # The speech field holds the gist only: a name typed in is not printed twice.
        speech = re.search(r'name="(item\.\d+\.speech\.u:\d+)"', page.text)
        assert speech is not None
        r = await methodist.submit(
            f"/protocols/{pid}/edit", {speech.group(1): "А.П. Петрова — предложила провести пробный экзамен"}
        )
        assert r.status_code == 303
        doc = _document((await methodist.get(f"/protocols/{pid}")).text)
        assert "А.П. Петрова — предложила провести пробный экзамен." in doc
        assert "А.П. Петрова — А.П. Петрова" not in doc

        # Re-assembly after a late correction of the log keeps every edit.
        async with db.transaction() as s:
            await append_events(
                s, cast.meeting.id, [("chat.message", member_key, {"text": "После", "to": None})]
            )
            await assemble_draft(s, cast.meeting.id)
        doc = _document((await methodist.get(f"/protocols/{pid}")).text)
        assert "Секретарь — А.П. Петрова" in doc and "Срок — до 1 февраля 2027 г." in doc
        assert "А.П. Петрова — предложила провести пробный экзамен." in doc

        # Approval now needs no confirmation and says how many letters are queued.
        r = await methodist.submit(f"/protocols/{pid}/approve")
        assert r.status_code == 303
        page = await methodist.get(f"/protocols/{pid}")
        assert "Протокол № 1 утверждён. Писем поставлено в очередь на отправку: 6." in page.text
        assert (
            await _count(server, OutboxMessage, OutboxMessage.dedupe_key.like(f"mail:protocol:{pid}:%")) == 6
        )
    finally:
        await methodist.aclose()


async def test_absent_chair_needs_an_explicit_confirmation(server: LiveServer) -> None:
    db = server.runtime.db
    cast = await seed_cast(db, server.url, server.runtime.secret_key)
    await _officers(server, cast, "teacher3", None)  # the chair never joins
    try:
        host, _ = await cast.joined("methodist")
        await host.ok("meeting.start")
        await host.ok("meeting.end")
    finally:
        await cast.close_all(server.runtime.sio)
    pid = (await _draft(server, cast.meeting.id)).id
    methodist = await logged_in_client(server, await _email(server, cast, "methodist"))
    try:
        page = await methodist.get(f"/protocols/{pid}")
        assert "председатель А.П. Смирнов" in page.text.split('id="protocol-warnings"', 1)[1]
        assert "На заседании отсутствовал председатель А.П. Смирнов." in _document(page.text)
        assert 'data-confirm="Утвердить протокол и разослать его всем членам СМО (писем: 6)?' in page.text
        r = await methodist.submit(f"/protocols/{pid}/approve", {"confirm_absent": "false"})
        assert r.status_code == 409 and "Подписант протокола не присутствовал" in r.text
        r = await methodist.submit(f"/protocols/{pid}/approve", {"confirm_absent": "true"})
        assert r.status_code == 303
        async with db.read() as s:
            row = await s.get(MeetingProtocol, pid)
            assert row is not None and row.status == ProtocolStatus.approved and row.number == 1
            assert "На заседании отсутствовал председатель А.П. Смирнов." in row.text
        page = await methodist.get(f"/protocols/{pid}")
        assert 'id="protocol-warnings"' not in page.text  # approved: nothing left to settle
    finally:
        await methodist.aclose()
