"""Activity statistics over HTTP: a school year of meetings written into real event logs, the
exact figures per member (attendance merged from intervals, speaking from floor and detected
speech, public chat, named and secret votes), the ranking and its formula, the CSV for Excel,
and who may see what."""

from __future__ import annotations

import csv
import io
import re
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import update

from server.db.models import Meeting, MeetingStatus, Poll, PollParticipation, Role
from server.db.models.polls import PollKind, PollStatus
from server.domain.meeting.meeting_log import append_events
from tests.support.client import WebClient
from tests.support.factories import add_member, logged_in_client, make_association, make_meeting, make_user
from tests.support.live import LiveServer

YEAR = 2025  # the school year 2025/2026, in the past whatever today is


def at(month: int, day: int, hour: int, minute: int = 0, year: int = 2025) -> datetime:
    return datetime(year, month, day, hour, minute, tzinfo=UTC)


@dataclass
class Year:
    association_id: int
    other_association_id: int
    ids: dict[str, int]  # methodist, member, mo_head, teacher, admin, outsider
    emails: dict[str, str]
    meetings: list[int] = field(default_factory=list)

    def key(self, who: str) -> str:
        return f"u:{self.ids[who]}"


async def _ended(server: LiveServer, aid: int, title: str, start: datetime, end: datetime, **kw: Any) -> int:
    db = server.runtime.db
    meeting = await make_meeting(
        db, aid, title, starts_at=start, minutes=int((end - start).total_seconds() // 60), **kw
    )
    async with db.transaction() as s:
        await s.execute(
            update(Meeting)
            .where(Meeting.id == meeting.id)
            .values(status=MeetingStatus.ended, started_at=start, ended_at=end)
        )
    return meeting.id


def _joined(y: Year, who: str, name: str, role: str) -> tuple[str, str, dict[str, Any]]:
    return (
        "participant.joined",
        y.key(who),
        {"participant": y.key(who), "name": name, "short_name": name, "role": role},
    )


def _ev(event_type: str, who: str, **payload: Any) -> tuple[str, str, dict[str, Any]]:
    return (event_type, who, payload)


async def seed_year(server: LiveServer) -> Year:
    """Association A with a methodist, a teacher, a school-MO head and a second teacher; an
    administrator and an outsider (a member of association B). Two meetings in 2025/2026 with
    hand-written logs, one in 2024/2025, one cancelled, and one of association B."""
    db = server.runtime.db
    a = await make_association(db, name="СМО учителей математики")
    b = await make_association(db, name="СМО учителей физики")
    people = {
        "methodist": ("Иванова", "Мария", "Школа № 1", False),
        "member": ("Петрова", "Анна", "Школа № 1", False),
        "mo_head": ("Сидоров", "Олег", "Школа № 2", False),
        "teacher": ("Кузнецова", "Елена", "Школа № 3", False),
        "admin": ("Админов", "Павел", None, True),
        "outsider": ("Чужой", "Иван", None, False),
    }
    ids: dict[str, int] = {}
    emails: dict[str, str] = {}
    for who, (last, first, school, admin) in people.items():
        email = f"{who}@stats.example.org"
        user = await make_user(db, email, is_admin=admin, last_name=last, first_name=first, school=school)
        ids[who], emails[who] = user.id, email
    for who, role in (("methodist", Role.methodist), ("member", Role.member), ("mo_head", Role.mo_head)):
        await add_member(db, a.id, ids[who], role)
    await add_member(db, a.id, ids["teacher"], Role.member)
    await add_member(db, b.id, ids["outsider"], Role.member)
    y = Year(a.id, b.id, ids, emails)

    # Meeting 1: 15.10.2025, 10:00–11:00 UTC (60 min).
    m1 = await _ended(server, a.id, "Функциональная грамотность", at(10, 15, 10), at(10, 15, 11), agenda=())
    # Meeting 2: 10.03.2026, 09:00–10:30 UTC (90 min).
    m2 = await _ended(
        server,
        a.id,
        "Формирующее оценивание",
        at(3, 10, 9, year=2026),
        at(3, 10, 10, 30, year=2026),
        agenda=(),
    )
    # Last school year: 20.05.2025 — the mo_head attends in full.
    m0 = await _ended(server, a.id, "Итоги года", at(5, 20, 10), at(5, 20, 11), agenda=())
    # Cancelled in the year, and association B's meeting with our methodist attending: both ignored.
    cancelled = await make_meeting(db, a.id, "Отменённое", starts_at=at(11, 20, 10), agenda=())
    async with db.transaction() as s:
        await s.execute(
            update(Meeting).where(Meeting.id == cancelled.id).values(status=MeetingStatus.cancelled)
        )
    mb = await _ended(server, b.id, "Чужое заседание", at(11, 5, 10), at(11, 5, 11), agenda=())
    y.meetings = [m1, m2, m0, mb]

    M, P, S, K = y.key("methodist"), y.key("member"), y.key("mo_head"), y.key("teacher")
    async with db.transaction() as s:
        log = lambda when, *items: append_events(s, m1, list(items), at=when)  # noqa: E731
        await log(
            at(10, 15, 10),
            _ev("meeting.started", M),
            _joined(y, "methodist", "Иванова Мария Петровна", "methodist"),
            _joined(y, "member", "Петрова Анна Петровна", "member"),
            _joined(y, "mo_head", "Сидоров Олег Петрович", "mo_head"),
        )
        await log(at(10, 15, 10, 5), _ev("floor.granted", "system", participant=P))
        await log(at(10, 15, 10, 7), _ev("speech.started", "system", participant=P))
        await log(at(10, 15, 10, 9), _ev("floor.ended", "system", participant=P))
        await log(at(10, 15, 10, 11), _ev("speech.ended", "system", participant=P))  # P: 10:05–10:11 = 6 min
        await log(
            at(10, 15, 10, 12),
            _ev("chat.message", P, text="Предлагаю провести диагностику"),
            _ev("chat.message", P, text="Это личное", to=M),  # private: not counted
            _ev("chat.message", S, text="Согласен"),
        )
        await log(at(10, 15, 10, 20), _ev("participant.left", "system", participant=S))  # S: 20 min
        await log(at(10, 15, 10, 20), _ev("floor.granted", "system", participant=M))
        await log(at(10, 15, 10, 25), _ev("floor.ended", "system", participant=M))  # M: 5 min
        await log(
            at(10, 15, 10, 30),
            _ev(
                "poll.created",
                M,
                poll_id=9001,
                question="Утвердить план работы",
                kind="decision",
                options=["за", "против", "воздержались"],
                decision_text="Утвердить план работы СМО на 2025/2026 учебный год",
            ),
            _ev("poll.opened", M, poll_id=9001),
            _ev("vote.cast", P, poll_id=9001, ballots=1, voter=P, choices=[0]),
            _ev("vote.cast", M, poll_id=9001, ballots=2, voter=M, choices=[0]),
            _ev(
                "poll.closed",
                M,
                poll_id=9001,
                result={
                    "eligible": 4,
                    "present": 2,
                    "cast": 2,
                    "counts": [2, 0, 0],
                    "quorum": True,
                    "outcome": "accepted",
                    "unanimous": True,
                },
            ),
        )
        await log(at(10, 15, 10, 40), _joined(y, "teacher", "Кузнецова Елена Петровна", "member"))
        await log(at(10, 15, 10, 50), _ev("participant.left", "system", participant=K))
        await log(at(10, 15, 10, 55), _joined(y, "teacher", "Кузнецова Елена Петровна", "member"))
        await log(at(10, 15, 11), _ev("meeting.ended", M))  # K: 10 + 5 = 15 min

        log = lambda when, *items: append_events(s, m2, list(items), at=when)  # noqa: E731
        await log(
            at(3, 10, 9, year=2026),
            _ev("meeting.started", M),
            _joined(y, "methodist", "Иванова Мария Петровна", "methodist"),
            _joined(y, "member", "Петрова Анна Петровна", "member"),
            _joined(y, "teacher", "Кузнецова Елена Петровна", "member"),
        )
        await log(at(3, 10, 9, 10, year=2026), _ev("speech.started", "system", participant=K))
        await log(at(3, 10, 9, 22, year=2026), _ev("speech.ended", "system", participant=K))  # K: 12 min
        await log(
            at(3, 10, 9, 25, year=2026),
            _ev("chat.message", K, text="Вопрос по критериям"),
            _ev("chat.message", K, text="Спасибо"),
        )
        await log(at(3, 10, 9, 30, year=2026), _ev("participant.left", "system", participant=P))
        await log(at(3, 10, 9, 40, year=2026), _joined(y, "member", "Петрова Анна Петровна", "member"))
        poll = Poll(
            meeting_id=m2,
            question="Выбрать тему следующего заседания",
            kind=PollKind.single,
            options=["Наставничество", "Проекты"],
            secret=True,
            status=PollStatus.closed,
            ballots=2,
            created_by=M,
        )
        s.add(poll)
        await s.flush()
        s.add_all([PollParticipation(poll_id=poll.id, voter=K), PollParticipation(poll_id=poll.id, voter=P)])
        await log(
            at(3, 10, 10, year=2026),
            _ev(
                "poll.created",
                M,
                poll_id=poll.id,
                question="Выбрать тему следующего заседания",
                kind="single",
                options=["Наставничество", "Проекты"],
                secret=True,
            ),
            _ev("vote.cast", "system", poll_id=poll.id, ballots=1),
            _ev("vote.cast", "system", poll_id=poll.id, ballots=2),
        )
        await log(at(3, 10, 10, 30, year=2026), _ev("meeting.ended", M))  # P: 30 + 50 = 80 min; M, K: 90

        await append_events(
            s,
            m0,
            [_ev("meeting.started", M), _joined(y, "mo_head", "Сидоров Олег Петрович", "mo_head")],
            at=at(5, 20, 10),
        )
        await append_events(s, m0, [_ev("meeting.ended", M)], at=at(5, 20, 11))
        await append_events(
            s,
            mb,
            [_ev("meeting.started", M), _joined(y, "methodist", "Иванова Мария Петровна", "methodist")],
            at=at(11, 5, 10),
        )
        await append_events(s, mb, [_ev("chat.message", M, text="Гость")], at=at(11, 5, 10, 10))
        await append_events(s, mb, [_ev("meeting.ended", M)], at=at(11, 5, 11))
    return y


# Expected per member in 2025/2026: attended, minutes present, speaking minutes, chat, votes.
EXPECTED = {
    "methodist": (2, 150, 5, 0, 1),
    "member": (2, 140, 6, 1, 2),
    "mo_head": (0, 20, 0, 1, 0),
    "teacher": (1, 105, 12, 2, 1),
}
SCORES = {"teacher": "17", "member": "14,5", "methodist": "12", "mo_head": "0,5"}
METRICS = ("meetings_attended", "time_present", "speaking_minutes", "chat_messages", "votes_cast")


def _cells(html: str, user_id: int) -> dict[str, str]:
    row = re.search(rf'<tr data-user="{user_id}">(.*?)</tr>', html, re.S)
    assert row, f"no row for user {user_id}"
    cells = dict(re.findall(r'<td class="num" data-metric="([a-z_]+)">([^<]*)</td>', row.group(1)))
    score = re.search(r"<td class=\"num\" data-score>([^<]*)</td>", row.group(1))
    assert score
    cells["score"] = score.group(1)
    return cells


async def test_year_figures_ranking_and_csv(server: LiveServer) -> None:
    y = await seed_year(server)
    c = await logged_in_client(server, y.emails["methodist"])
    try:
        r = await c.get(f"/associations/{y.association_id}/stats?year={YEAR}")
        assert r.status_code == 200, r.text[:500]
        assert "2025/2026" in r.text
        for who, values in EXPECTED.items():
            cells = _cells(r.text, y.ids[who])
            assert [cells[m] for m in METRICS] == [str(v) for v in values], who
            assert cells["score"] == SCORES[who], who
        # Outsider and administrator are no members: no rows.
        assert f'data-user="{y.ids["outsider"]}"' not in r.text
        assert f'<tr data-user="{y.ids["admin"]}"' not in r.text

        ranking = re.search(r'<section class="card" id="stats-ranking">(.*?)</section>', r.text, re.S)
        assert ranking
        order = re.findall(r'<li data-user="(\d+)" value="(\d+)">', ranking.group(1))
        assert order == [
            (str(y.ids["teacher"]), "1"),
            (str(y.ids["member"]), "2"),
            (str(y.ids["methodist"]), "3"),
            (str(y.ids["mo_head"]), "4"),
        ]
        formula = re.search(r'<section class="card" id="stats-formula">(.*?)</section>', r.text, re.S)
        assert formula
        text = formula.group(1)
        assert "S = Σ wᵢ·xᵢ = 3·x₁ + 1·x₂ + 0,5·x₃ + 1·x₄" in text
        assert "3 × «Посещено заседаний» + 1 × «Время выступлений, мин» + 0,5 × «Сообщений в чате»" in text
        assert re.search(r'<tr data-weight="time_present">.*?не учитывается', text, re.S)

        # The previous school year: only the mo_head's meeting.
        prev = await c.get(f"/associations/{y.association_id}/stats?year=2024")
        assert _cells(prev.text, y.ids["mo_head"])["meetings_attended"] == "1"
        assert _cells(prev.text, y.ids["methodist"])["meetings_attended"] == "0"

        r = await c.get(f"/associations/{y.association_id}/stats.csv?year={YEAR}")
        assert r.status_code == 200
        assert r.headers["content-type"].startswith("text/csv")
        assert "filename*=UTF-8''" in r.headers["content-disposition"]
        assert r.content.startswith(b"\xef\xbb\xbf")
        rows = list(csv.reader(io.StringIO(r.content.decode("utf-8-sig")), delimiter=";"))
        head = rows[0]
        assert head[:3] == ["Участник", "Организация", "Роль"] and head[-2:] == ["Балл", "Место"]
        for m in ("Посещено заседаний", "Время присутствия, мин", "Время выступлений, мин"):
            assert m in head
        body = {row[0].split()[0]: row for row in rows[1:]}
        assert [row[0].split()[0] for row in rows[1:]] == ["Кузнецова", "Петрова", "Иванова", "Сидоров"]
        k = body["Кузнецова"]
        assert k[1] == "Школа № 3" and k[2] == "педагог"
        assert k[head.index("Время присутствия, мин")] == "105"
        assert k[head.index("Время выступлений, мин")] == "12"
        assert k[head.index("Участие в голосованиях")] == "1"
        assert k[-2:] == ["17", "1"]
        assert body["Петрова"][-2:] == ["14,5", "2"]
        assert body["Сидоров"][2] == "руководитель школьного МО"
    finally:
        await c.aclose()


async def test_role_matrix(server: LiveServer) -> None:
    y = await seed_year(server)
    url = f"/associations/{y.association_id}/stats?year={YEAR}"
    guest = WebClient(base_url=server.url, follow_redirects=False, timeout=20)
    try:
        r = await guest.get(url)
        assert r.status_code == 303 and r.headers["location"].startswith("/login")
        assert (await guest.get(url.replace("stats?", "stats.csv?"))).status_code == 303
    finally:
        await guest.aclose()
    for who, full in (("methodist", True), ("admin", True), ("member", False), ("mo_head", False)):
        c = await logged_in_client(server, y.emails[who])
        try:
            r = await c.get(url)
            assert r.status_code == 200, who
            shown = set(re.findall(r'<tr data-user="(\d+)">', r.text))
            members = {str(y.ids[w]) for w in ("methodist", "member", "mo_head", "teacher")}
            assert shown == (members if full else {str(y.ids[who])}), who
            assert ('id="stats-ranking"' in r.text) is full, who
            assert ('id="stats-csv"' in r.text) is full, who
            assert 'id="stats-formula"' in r.text
            csv_r = await c.get(url.replace("stats?", "stats.csv?"))
            assert csv_r.status_code == (200 if full else 403), who
            if not full:
                own = _cells(r.text, y.ids[who])
                assert own["meetings_attended"] == str(EXPECTED[who][0])
                assert "Кузнецова" not in r.text
        finally:
            await c.aclose()
    c = await logged_in_client(server, y.emails["outsider"])
    try:
        assert (await c.get(url)).status_code == 403
        assert (await c.get(url.replace("stats?", "stats.csv?"))).status_code == 403
        assert (await c.get(f"/associations/{y.other_association_id}/stats")).status_code == 200
        assert (await c.get("/associations/999999/stats")).status_code == 404
        # A nonsense year falls back to the current one rather than failing.
        assert (await c.get(f"/associations/{y.other_association_id}/stats?year=abc")).status_code == 200
    finally:
        await c.aclose()
