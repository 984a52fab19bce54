"""A member of one association never sees another association's private data: not on any
page of that association, not in an export, not in search results, not in notifications.
The other association is the demo one (``smo demo-data``): a plan, an announcement, a topic
proposal, a published resource, a meeting with its agenda."""

from __future__ import annotations

from server.db.models import Role
from server.demo import seed_demo
from server.domain.year.plans import current_school_year
from tests.support.factories import add_member, logged_in_client, make_association, make_user
from tests.support.live import LiveServer

PRIVATE = (
    "Формирование функциональной грамотности обучающихся",  # the plan's theme
    "Круглый стол «Оценивание без отметок»",  # a plan row
    "Заседание СМО завтра в 15:00",  # the announcement
    "Подготовка к ОГЭ: разбор типичных ошибок",  # the topic proposal
    "Задачи на функциональную грамотность в 7–9 классах",  # the meeting's agenda
)
SECTIONS = (
    "",
    "/plan",
    f"/plan/{current_school_year()}.docx",
    f"/plan/{current_school_year()}.pdf",
    "/announcements",
    "/questionnaires",
    "/consultations",
    "/competitions",
    "/topics",
    "/stats",
    "/stats.csv",
    "/analysis",
    "/analysis.docx",
    "/analysis.pdf",
    "/library",
)


async def test_an_outsider_sees_nothing_private(server: LiveServer) -> None:
    assert await seed_demo(server.runtime.settings)
    other = await make_association(server.runtime.db, name="СМО учителей физики")
    outsider = await make_user(server.runtime.db, "outsider@example.org", last_name="Чужой")
    await add_member(server.runtime.db, other.id, outsider.id, Role.methodist)
    client = await logged_in_client(server, "outsider@example.org")
    try:
        seen: dict[str, int] = {}
        for path in SECTIONS:
            r = await client.get(f"/associations/1{path}")
            seen[path] = r.status_code
            for secret in PRIVATE:
                assert secret not in r.text, (path, secret)
        refused = {p: s for p, s in seen.items() if s not in (403, 404)}
        assert not refused, f"an outsider got these sections of another association: {refused}"
        r = await client.get("/meetings/1")
        assert r.status_code in (403, 404)
        for query in ("функциональной грамотности", "ОГЭ", "оценивание без отметок", "Заседание СМО завтра"):
            r = await client.get("/search", params={"q": query})
            assert r.status_code == 200
            for secret in PRIVATE:
                assert secret not in r.text, (query, secret)
        for page in ("/", "/notifications"):
            r = await client.get(page)
            assert r.status_code == 200
            for secret in PRIVATE:
                assert secret not in r.text, (page, secret)
        # The demo's published resource is shared with every signed-in user (by design), and
        # its association's member list is not on it.
        r = await client.get("/search", params={"q": "банк заданий"})
        assert "Открытый банк заданий по функциональной грамотности" in r.text
        assert "Иванова" not in r.text
    finally:
        await client.aclose()


async def test_a_member_sees_the_same_pages(server: LiveServer) -> None:
    """The control: the same requests by a member of the demo association succeed."""
    assert await seed_demo(server.runtime.settings)
    client = await logged_in_client(server, "ivanova@demo.smo", "demo12345")
    try:
        for path in ("", "/plan", "/announcements", "/topics", "/library"):
            r = await client.get(f"/associations/1{path}")
            assert r.status_code == 200, path
        assert PRIVATE[0] in (await client.get("/associations/1/plan")).text
        assert PRIVATE[2] in (await client.get("/associations/1/announcements")).text
        assert PRIVATE[3] in (await client.get("/associations/1/topics")).text
        found = await client.get("/search", params={"q": "Заседание СМО завтра"})
        assert PRIVATE[2] in found.text  # the search the outsider ran does find it for a member
    finally:
        await client.aclose()
