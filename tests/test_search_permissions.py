"""Search over HTTP: meetings indexed on create/update/cancel, results limited to the reader's
associations (administrators see all), labelled by kind, escaped snippets, pagination."""

from __future__ import annotations

import re
from typing import Any

from server.db.models import Role
from server.search import index_entry
from tests.support.factories import add_member, logged_in_client, make_association, make_user
from tests.support.live import LiveServer


def _form(methodist_id: int, **over: Any) -> dict[str, Any]:
    data: dict[str, Any] = {
        "title": "Смысловое чтение на уроках литературы",
        "form": "seminar",
        "description": "Приёмы работы с <текстом> & вопросами.",
        "date": "2030-12-01",
        "start_time": "15:00",
        "end_time": "16:30",
        "chair_id": str(methodist_id),
        "secretary_id": "",
        "admission": "open",
        "agenda_title[]": ["Стратегии смыслового чтения", "Обмен опытом"],
        "agenda_rapporteur[]": ["", ""],
        "agenda_minutes[]": ["20", "20"],
    }
    data.update(over)
    return data


def _hits(html: str) -> list[tuple[str, str]]:
    return re.findall(r'<article class="search-hit" data-kind="(\w+)" data-id="(\d+)">', html)


async def test_search_respects_associations(server: LiveServer, client) -> None:  # type: ignore[no-untyped-def]
    db = server.runtime.db
    lit = await make_association(db, name="СМО учителей литературы")
    rus = await make_association(db, name="СМО учителей русского языка")
    m = await make_user(db, "m@example.org")
    t = await make_user(db, "t@example.org")
    o = await make_user(db, "o@example.org")
    await make_user(db, "admin@example.org", is_admin=True)
    await add_member(db, lit.id, m.id, Role.methodist)
    await add_member(db, lit.id, t.id, Role.member)
    await add_member(db, rus.id, o.id, Role.methodist)
    mc, tc, oc = [await logged_in_client(server, f"{x}@example.org") for x in "mto"]
    ac = await logged_in_client(server, "admin@example.org")
    try:
        r = await mc.submit(f"/associations/{lit.id}/meetings/new", _form(m.id))
        assert r.status_code == 303, r.text[:500]
        meeting_id = int(r.headers["location"].rsplit("/", 1)[1])
        r = await oc.submit(
            f"/associations/{rus.id}/meetings/new", _form(o.id, title="Смысловое чтение в начальной школе")
        )
        assert r.status_code == 303
        other_id = int(r.headers["location"].rsplit("/", 1)[1])

        # A word form of the agenda finds the meeting for its members only.
        page = await tc.get("/search", params={"q": "стратегия чтения"})
        assert ("meeting", str(meeting_id)) in _hits(page.text)
        assert ("meeting", str(other_id)) not in _hits(page.text)
        assert "&lt;текстом&gt; &amp; вопросами" in page.text and "<текстом>" not in page.text
        assert 'value="стратегия чтения"' in page.text  # the header box keeps the query
        page = await oc.get("/search", params={"q": "чтение"})
        assert _hits(page.text) == [("meeting", str(other_id))]
        page = await ac.get("/search", params={"q": "чтение"})
        assert {h[1] for h in _hits(page.text)} == {str(meeting_id), str(other_id)}
        # Update re-indexes (the new agenda is found, the old one is not).
        r = await mc.submit(
            f"/meetings/{meeting_id}/edit",
            _form(
                m.id,
                **{
                    "agenda_title[]": ["Читательская грамотность"],
                    "agenda_rapporteur[]": [""],
                    "agenda_minutes[]": ["30"],
                },
            ),
        )
        assert r.status_code == 303, r.text[:500]
        assert ("meeting", str(meeting_id)) in _hits(
            (await tc.get("/search", params={"q": "грамотность"})).text
        )
        assert ("meeting", str(meeting_id)) not in _hits(
            (await tc.get("/search", params={"q": "стратегии"})).text
        )
        # Cancel keeps it findable, labelled cancelled.
        assert (await mc.submit(f"/meetings/{meeting_id}/cancel")).status_code == 303
        page = await tc.get("/search", params={"q": "отменено грамотность"})
        assert ("meeting", str(meeting_id)) in _hits(page.text)

        # Kinds filter, labels, pagination (25 resource entries of lit: 20 + 5).
        async with db.transaction() as s:
            for i in range(25):
                await index_entry(
                    s,
                    kind="resource",
                    object_id=1000 + i,
                    association_id=lit.id,
                    title=f"Разработка урока {i}",
                    body="Смысловое чтение",
                    url=f"/resources/{1000 + i}",
                )
        page1 = await tc.get("/search", params={"q": "чтение", "kind": "resource"})
        assert len(_hits(page1.text)) == 20 and all(k == "resource" for k, _ in _hits(page1.text))
        assert "Ресурс" in page1.text and "page=2" in page1.text
        page2 = await tc.get("/search", params={"q": "чтение", "kind": "resource", "page": "2"})
        assert len(_hits(page2.text)) == 5 and "page=3" not in page2.text
        assert not {h[1] for h in _hits(page1.text)} & {h[1] for h in _hits(page2.text)}
        assert _hits((await oc.get("/search", params={"q": "разработка урока"})).text) == []
        # Odd input never fails.
        for q in ('"; DROP TABLE search_entries; --', "a" * 500, "***", "NEAR(x y)"):
            assert (await tc.get("/search", params={"q": q})).status_code == 200
        assert (
            await tc.get("/search", params={"q": "чтение", "page": "abc", "kind": "<x>"})
        ).status_code == 200
        r = await client.get("/search", params={"q": "чтение"})
        assert r.status_code == 303 and r.headers["location"].startswith("/login")
    finally:
        for c in (mc, tc, oc, ac):
            await c.aclose()
