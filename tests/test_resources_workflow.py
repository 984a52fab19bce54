"""The resource base over HTTP on both databases: propose (file / link) → pending and invisible;
publish → visible and found by Russian word forms with filters; reject with a reason; upload
limits and download headers; the role matrix; the annual summary and the activity metric."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import quote

import httpx
import pytest
from sqlalchemy import func, select

from server.db.models import Notification, NotificationKind, Role, SearchEntry, StoredFile
from server.db.models.resources import Resource, ResourceKind, ResourceStatus
from server.domain.year.activity import METRICS
from server.domain.year.resources import create_resource, resources_summary
from server.errors import Forbidden
from server.files import file_path
from server.search import search
from tests.support.client import WebClient
from tests.support.factories import add_member, logged_in_client, make_association, make_user
from tests.support.live import LiveServer

PDF = b"%PDF-1.4\n1 0 obj << /Type /Catalog >> endobj\ntrailer << >>\n%%EOF\n"
ELF = b"\x7fELF\x02\x01\x01\x00" + b"\x00" * 64 + b"\x90\x90\xc3"


@dataclass
class World:
    assoc_id: int
    other_id: int
    ids: dict[str, int]
    clients: dict[str, WebClient]

    async def close(self) -> None:
        for c in self.clients.values():
            await c.aclose()


async def _world(server: LiveServer, roles: tuple[str, ...] = ("methodist", "author", "member")) -> World:
    db = server.runtime.db
    a = await make_association(db)
    other = await make_association(db, name="СМО учителей физики", subject="Физика")
    ids: dict[str, int] = {}
    spec = {
        "methodist": (a.id, Role.methodist, False),
        "author": (a.id, Role.member, False),
        "member": (a.id, Role.member, False),
        "mo_head": (a.id, Role.mo_head, False),
        "outsider": (other.id, Role.methodist, False),
        "admin": (None, None, True),
    }
    clients: dict[str, WebClient] = {}
    for role in roles:
        assoc_id, member_role, is_admin = spec[role]
        u = await make_user(db, f"{role}@example.org", is_admin=is_admin, last_name=role.capitalize())
        if assoc_id is not None and member_role is not None:
            await add_member(db, assoc_id, u.id, member_role)
        ids[role] = u.id
        clients[role] = await logged_in_client(server, f"{role}@example.org")
    return World(a.id, other.id, ids, clients)


async def _propose(
    c: WebClient,
    assoc_id: int,
    *,
    files: dict[str, Any] | None = None,
    **fields: Any,
) -> httpx.Response:
    data: dict[str, Any] = {"csrf_token": await c.csrf(), "kind": "other"}
    data.update(fields)
    return await c.post(f"/associations/{assoc_id}/resources/new", data=data, files=files)


def _rid(r: httpx.Response) -> int:
    assert r.status_code == 303, (r.status_code, r.text[:2000])
    m = re.fullmatch(r"/resources/(\d+)", r.headers["location"])
    assert m, r.headers["location"]
    return int(m.group(1))


async def _count(server: LiveServer, model: Any, *where: Any) -> int:
    async with server.runtime.db.read() as s:
        return int(await s.scalar(select(func.count()).select_from(model).where(*where)) or 0)


async def test_propose_moderate_publish_and_search_by_word_forms(server: LiveServer) -> None:
    w = await _world(server, ("methodist", "author", "member", "outsider"))
    try:
        author, member, methodist, outsider = (
            w.clients[k] for k in ("author", "member", "methodist", "outsider")
        )
        # A file and a link, proposed by a member.
        r1 = _rid(
            await _propose(
                author,
                w.assoc_id,
                title="Открытые уроки геометрии",
                description="Разработки для седьмого класса",
                subject="Математика",
                kind="presentation",
                tags="геометрия, Открытый урок",
                **{"grades[]": ["7", "8"]},
                files={"file": ("../../etc/Открытые уроки.pdf", PDF, "application/pdf")},
            )
        )
        r2 = _rid(
            await _propose(
                author,
                w.assoc_id,
                title="Сценарии уроков в 5 классе",
                subject="Математика",
                kind="lesson_notes",
                tags="сценарий",
                link="https://example.org/lessons?id=5",
                **{"grades[]": ["5"]},
            )
        )
        r3 = _rid(
            await _propose(
                author,
                w.assoc_id,
                title="Олимпиадные задачи",
                subject="Алгебра",
                kind="didactic",
                link="http://example.org/olymp",
            )
        )
        async with server.runtime.db.read() as s:
            stored = (await s.scalars(select(StoredFile))).one()
            assert stored.original_name == "Открытые уроки.pdf"  # the path is gone
            assert "/" not in stored.storage_name and ".." not in stored.storage_name
            assert file_path(server.runtime.settings, stored).read_bytes() == PDF
            statuses = set((await s.scalars(select(Resource.status))).all())
            assert statuses == {ResourceStatus.pending}
        # The methodist is told; nothing is indexed; others see nothing.
        assert (
            await _count(
                server,
                Notification,
                Notification.user_id == w.ids["methodist"],
                Notification.kind == NotificationKind.resource_pending,
            )
            == 3
        )
        assert await _count(server, SearchEntry, SearchEntry.kind == "resource") == 0
        for c in (member, outsider):
            assert (await c.get(f"/resources/{r1}")).status_code == 404
            assert (await c.get(f"/resources/{r1}/download")).status_code == 404
            page = await c.get(f"/associations/{w.assoc_id}/resources?q=урок")
            assert (
                page.status_code == 200 and "Открытые уроки" not in page.text and "Сценарии" not in page.text
            )
        mine = await author.get(f"/resources/{r1}")
        assert mine.status_code == 200 and "На проверке" in mine.text
        queue = await methodist.get(f"/associations/{w.assoc_id}/resources")
        assert "Открытые уроки геометрии" in queue.text and "Ждут проверки" in queue.text
        # Only the methodist publishes.
        assert (await member.submit(f"/resources/{r1}/publish")).status_code == 404
        assert (await author.submit(f"/resources/{r1}/publish")).status_code == 403
        for rid in (r1, r2, r3):
            assert (await methodist.submit(f"/resources/{rid}/publish")).status_code == 303
        assert (
            await _count(
                server,
                Notification,
                Notification.user_id == w.ids["author"],
                Notification.kind == NotificationKind.resource_pending,
            )
            == 3
        )
        # Word forms: «урок» finds «уроки» and «уроков»; filters narrow.
        base = f"/associations/{w.assoc_id}/resources"

        async def found(query: str, c: WebClient = member) -> set[str]:
            page = await c.get(base + query)
            assert page.status_code == 200
            section = page.text.split('id="published"', 1)[1] if 'id="published"' in page.text else ""
            return {
                t
                for t in ("Открытые уроки геометрии", "Сценарии уроков", "Олимпиадные задачи")
                if t in section
            }

        assert await found("?q=урок") == {"Открытые уроки геометрии", "Сценарии уроков"}
        assert await found("?q=" + quote("уроков")) == {"Открытые уроки геометрии", "Сценарии уроков"}
        assert await found("?q=урок&kind=presentation") == {"Открытые уроки геометрии"}
        assert await found("?q=урок&grade=5") == {"Сценарии уроков"}
        assert await found("?tag=" + quote("открытый урок")) == {"Открытые уроки геометрии"}
        assert await found("?subject=" + quote("Алгебра")) == {"Олимпиадные задачи"}
        assert await found("?q=геометрия&grade=5") == set()
        assert await found("") == {"Открытые уроки геометрии", "Сценарии уроков", "Олимпиадные задачи"}
        # Published resources are shared with every signed-in user (decision in docs/resources.md).
        assert await found("?q=урок", outsider) == {"Открытые уроки геометрии", "Сценарии уроков"}
        async with server.runtime.db.read() as s:
            hits = await search(s, "уроки", association_ids={w.other_id}, kinds={"resource"})
            assert {h.object_id for h in hits} == {r1, r2}
        # Download: safe headers, attachment, the Russian name.
        d = await outsider.get(f"/resources/{r1}/download")
        assert d.status_code == 200 and d.content == PDF
        assert d.headers["x-content-type-options"] == "nosniff"
        assert d.headers["content-type"] == "application/pdf"
        cd = d.headers["content-disposition"]
        assert (
            cd.startswith("attachment;") and "filename*=UTF-8''" + quote("Открытые уроки.pdf", safe="") in cd
        )
        assert "sandbox" in d.headers["content-security-policy"]
        assert (await outsider.get(f"/resources/{r2}/download")).status_code == 404  # a link, no file
        link_page = await outsider.get(f"/resources/{r2}")
        assert 'href="https://example.org/lessons?id=5"' in link_page.text
        async with httpx.AsyncClient(base_url=server.url) as guest:
            assert (await guest.get(f"/resources/{r1}/download")).status_code == 303
            assert (await guest.get(base)).status_code == 303
        # Methodist withdraws a published one: gone from the index and from others' eyes.
        assert (await methodist.submit(f"/resources/{r3}/reject", {"reason": "Дубль"})).status_code == 303
        assert await found("?subject=" + quote("Алгебра")) == set()
        assert (await member.get(f"/resources/{r3}")).status_code == 404
        assert await _count(server, SearchEntry, SearchEntry.kind == "resource") == 2
    finally:
        await w.close()


async def test_reject_with_reason_edit_and_resubmit(server: LiveServer) -> None:
    w = await _world(server)
    try:
        author, member, methodist = w.clients["author"], w.clients["member"], w.clients["methodist"]
        rid = _rid(
            await _propose(
                author, w.assoc_id, title="Рабочая программа по алгебре", link="https://example.org/p"
            )
        )
        # A reason is required; nothing changes without it.
        r = await methodist.submit(f"/resources/{rid}/reject", {"reason": "   "})
        assert r.status_code == 422 and "Заполните это поле" in r.text
        async with server.runtime.db.read() as s:
            res = await s.get(Resource, rid)
            assert res is not None and res.status == ResourceStatus.pending
        assert (await author.submit(f"/resources/{rid}/reject", {"reason": "сам"})).status_code == 403
        r = await methodist.submit(f"/resources/{rid}/reject", {"reason": "Нет ссылки на источник"})
        assert r.status_code == 303
        page = await author.get(f"/resources/{rid}")
        assert "Отклонён" in page.text and "Нет ссылки на источник" in page.text
        assert (await member.get(f"/resources/{rid}")).status_code == 404
        assert await _count(server, SearchEntry) == 0
        async with server.runtime.db.read() as s:
            note = (
                await s.scalars(select(Notification).where(Notification.user_id == w.ids["author"]))
            ).one()
            assert "отклонён" in note.title and note.body == "Нет ссылки на источник"
        # The author edits the rejected resource: it goes back for review; methodist told again.
        edit = await author.submit(
            f"/resources/{rid}/edit",
            {
                "title": "Рабочая программа по алгебре, 7–9 классы",
                "kind": "work_program",
                "subject": "Алгебра",
                "tags": "программа",
                "grades[]": ["7", "8", "9"],
                "link": "",
            },
        )
        assert edit.status_code == 303
        async with server.runtime.db.read() as s:
            res = await s.get(Resource, rid)
            assert res is not None and res.status == ResourceStatus.pending
            assert res.kind == ResourceKind.work_program and res.link == "https://example.org/p"
        assert await _count(server, Notification, Notification.user_id == w.ids["methodist"]) == 2
        # Bad edit input: 422 with the field error, nothing changed.
        bad = await author.submit(
            f"/resources/{rid}/edit", {"title": "", "kind": "nonsense", "link": "ftp://x"}
        )
        assert bad.status_code == 422
        assert "Заполните это поле" in bad.text and "http://" in bad.text
        # Published: the author can no longer edit or delete; the methodist can.
        assert (await methodist.submit(f"/resources/{rid}/publish")).status_code == 303
        assert (await author.get(f"/resources/{rid}/edit")).status_code == 403
        assert (await author.submit(f"/resources/{rid}/delete")).status_code == 403
        ok = await methodist.submit(
            f"/resources/{rid}/edit", {"title": "Программа: алгебра", "kind": "work_program", "link": ""}
        )
        assert ok.status_code == 303
        async with server.runtime.db.read() as s:
            entry = (await s.scalars(select(SearchEntry))).one()
            assert entry.title == "Программа: алгебра" and entry.association_id is None
        assert (await methodist.submit(f"/resources/{rid}/delete")).status_code == 303
        assert await _count(server, Resource) == 0 and await _count(server, SearchEntry) == 0
    finally:
        await w.close()


async def test_upload_limits_and_bad_input(server: LiveServer, monkeypatch: pytest.MonkeyPatch) -> None:
    w = await _world(server, ("author",))
    author = w.clients["author"]
    monkeypatch.setattr(server.runtime.settings, "upload_max_bytes", 4096)
    try:
        too_big = await _propose(
            author,
            w.assoc_id,
            title="Большой файл",
            files={"file": ("big.pdf", PDF + b"0" * 5000, "application/pdf")},
        )
        assert too_big.status_code == 413
        exe = await _propose(
            author, w.assoc_id, title="Программа", files={"file": ("урок.pdf", ELF, "application/pdf")}
        )
        assert exe.status_code == 415
        assert "Этот тип файла не принимается" in exe.text and 'value="Программа"' in exe.text
        nothing = await _propose(author, w.assoc_id, title="Пусто")
        assert nothing.status_code == 422 and "Загрузите файл или укажите ссылку" in nothing.text
        both = await _propose(
            author,
            w.assoc_id,
            title="Оба",
            link="https://example.org",
            files={"file": ("a.pdf", PDF, "application/pdf")},
        )
        assert both.status_code == 422 and "что-то одно" in both.text
        for link in ("javascript:alert(1)", "ftp://example.org/x", "https://", "http://exa mple.org"):
            r = await _propose(author, w.assoc_id, title="Ссылка", link=link)
            assert r.status_code == 422, link
        r = await _propose(
            author, w.assoc_id, title="Классы", link="https://example.org", **{"grades[]": ["12"]}
        )
        assert r.status_code == 422 and "от 1 до 11" in r.text
        r = await _propose(author, w.assoc_id, title="Тип", link="https://example.org", kind="virus")
        assert r.status_code == 422
        r = await _propose(author, w.assoc_id, title="x" * 301, link="https://example.org")
        assert r.status_code == 422 and "Слишком длинный" in r.text
        r = await _propose(
            author,
            w.assoc_id,
            title="Теги",
            link="https://example.org",
            tags=",".join(f"t{i}" for i in range(11)),
        )
        assert r.status_code == 422 and "Не больше 10" in r.text
        # No CSRF token: refused.
        r = await author.post(
            f"/associations/{w.assoc_id}/resources/new", data={"title": "x", "link": "https://example.org"}
        )
        assert r.status_code == 403
        assert await _count(server, Resource) == 0 and await _count(server, StoredFile) == 0
        assert (await author.get("/resources/999999")).status_code == 404
        assert (await author.get("/associations/999999/resources")).status_code == 404
        # Escaping: markup in the title is text.
        rid = _rid(
            await _propose(author, w.assoc_id, title="<script>alert(1)</script>", link="https://example.org")
        )
        page = await author.get(f"/resources/{rid}")
        assert "<script>alert(1)</script>" not in page.text and "&lt;script&gt;" in page.text
    finally:
        await w.close()


# action -> role -> expected status. "author" proposed the pending resource.
MATRIX: dict[str, dict[str, int]] = {
    "list": {"guest": 303, "member": 200, "mo_head": 200, "methodist": 200, "admin": 200, "outsider": 200},
    "new_form": {
        "guest": 303,
        "member": 200,
        "mo_head": 200,
        "methodist": 200,
        "admin": 200,
        "outsider": 403,
    },
    "propose": {"guest": 303, "member": 303, "mo_head": 303, "methodist": 303, "admin": 303, "outsider": 403},
    "view_pending": {
        "guest": 303,
        "author": 200,
        "member": 404,
        "mo_head": 404,
        "methodist": 200,
        "admin": 200,
        "outsider": 404,
    },
    "download_pending": {
        "guest": 303,
        "author": 200,
        "member": 404,
        "mo_head": 404,
        "methodist": 200,
        "admin": 200,
        "outsider": 404,
    },
    "edit_pending": {
        "guest": 303,
        "author": 200,
        "member": 404,
        "mo_head": 404,
        "methodist": 200,
        "admin": 200,
        "outsider": 404,
    },
    "publish": {
        "guest": 303,
        "author": 403,
        "member": 404,
        "mo_head": 404,
        "methodist": 303,
        "admin": 303,
        "outsider": 404,
    },
    "reject": {
        "guest": 303,
        "author": 403,
        "member": 404,
        "mo_head": 404,
        "methodist": 303,
        "admin": 303,
        "outsider": 404,
    },
    "delete": {
        "guest": 303,
        "author": 303,
        "member": 404,
        "mo_head": 404,
        "methodist": 303,
        "admin": 303,
        "outsider": 404,
    },
}


async def test_role_matrix(server: LiveServer) -> None:
    w = await _world(server, ("methodist", "author", "member", "mo_head", "outsider", "admin"))
    guest = WebClient(base_url=server.url, follow_redirects=False, timeout=20)
    clients = {**w.clients, "guest": guest}

    async def pending() -> int:
        return _rid(
            await _propose(
                w.clients["author"],
                w.assoc_id,
                title="Черновик",
                files={"file": ("черновик.pdf", PDF, "application/pdf")},
            )
        )

    try:
        for action, expected in MATRIX.items():
            for role, status in expected.items():
                c = clients[role]
                rid = await pending()
                if action == "list":
                    r = await c.get(f"/associations/{w.assoc_id}/resources")
                elif action == "new_form":
                    r = await c.get(f"/associations/{w.assoc_id}/resources/new")
                elif action == "propose":
                    data = {"csrf_token": await c.csrf(), "title": "Ссылка", "link": "https://example.org"}
                    r = await c.post(f"/associations/{w.assoc_id}/resources/new", data=data)
                elif action == "view_pending":
                    r = await c.get(f"/resources/{rid}")
                elif action == "download_pending":
                    r = await c.get(f"/resources/{rid}/download")
                elif action == "edit_pending":
                    r = await c.get(f"/resources/{rid}/edit")
                elif action == "publish":
                    r = await c.submit(f"/resources/{rid}/publish")
                elif action == "reject":
                    r = await c.submit(f"/resources/{rid}/reject", {"reason": "Не по теме"})
                else:
                    r = await c.submit(f"/resources/{rid}/delete")
                assert r.status_code == status, (action, role, r.status_code)
                if status == 303 and role == "guest":
                    assert r.headers["location"].startswith("/login")
                done = status == 303 and role != "guest"
                async with server.runtime.db.read() as s:
                    res = await s.get(Resource, rid)
                    if action == "publish":
                        assert res is not None
                        assert (res.status == ResourceStatus.published) == done
                    if action == "reject":
                        assert res is not None
                        assert (res.status == ResourceStatus.rejected) == done
                    if action == "delete":
                        assert (res is None) == done
        # The methodist's direct publication; a member's "publish" box is ignored.
        m = await _propose(
            w.clients["methodist"], w.assoc_id, title="Сразу", link="https://e.org", publish="1"
        )
        mm = await _propose(
            w.clients["member"], w.assoc_id, title="Попытка", link="https://e.org", publish="1"
        )
        async with server.runtime.db.read() as s:
            r1, r2 = await s.get(Resource, _rid(m)), await s.get(Resource, _rid(mm))
            assert r1 is not None and r1.status == ResourceStatus.published
            assert r2 is not None and r2.status == ResourceStatus.pending
    finally:
        await guest.aclose()
        await w.close()


async def test_summary_and_activity_metric(server: LiveServer) -> None:
    db = server.runtime.db
    a = await make_association(db)
    m = await make_user(db, "m@example.org")
    t = await make_user(db, "t@example.org")
    await add_member(db, a.id, m.id, Role.methodist)
    await add_member(db, a.id, t.id, Role.member)
    settings = server.runtime.settings
    start = datetime(2026, 9, 1, tzinfo=UTC)
    end = datetime(2027, 9, 1, tzinfo=UTC)
    async with db.transaction() as s:
        with pytest.raises(Forbidden):
            await create_resource(
                s, settings, association_id=a.id, user=t, title="x", link="https://e.org", publish=True
            )
    async with db.transaction() as s:
        made = []
        for title, kind, author, publish in (
            ("Презентация 1", "presentation", m, True),
            ("Презентация 2", "presentation", m, True),
            ("Видео", "video", m, True),
            ("Конспект", "lesson_notes", t, False),
            ("Старое", "other", m, True),
        ):
            made.append(
                await create_resource(
                    s,
                    settings,
                    association_id=a.id,
                    user=author,
                    title=title,
                    kind=kind,
                    link="https://e.org/" + kind,
                    grades=[5],
                    tags=["Урок"],
                    publish=publish,
                )
            )
        for r in made[:3]:
            r.published_at = datetime(2026, 10, 1, tzinfo=UTC)
        made[4].published_at = start - timedelta(days=1)  # last year
        made[3].status = ResourceStatus.published  # the member's, published in the period
        made[3].published_at = datetime(2027, 3, 1, tzinfo=UTC)
    async with db.read() as s:
        summary = await resources_summary(s, a.id, start, end)
        assert summary.published == 4
        assert summary.by_type == {"presentation": 2, "video": 1, "lesson_notes": 1}
        metric = METRICS["resources_published"]
        assert await metric.source(s, a.id, start, end) == {m.id: 3.0, t.id: 1.0}
        assert metric.weight > 0
