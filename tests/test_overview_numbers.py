"""The regional overview checked against a seeded data set: two associations (and an empty
one), plan rows, meetings with presence events, protocols, resources, questions; sorting,
CSV and XLSX read back, the chart, and administrators only."""

from __future__ import annotations

import csv
import io
import re
from datetime import timedelta

from openpyxl import load_workbook

from server.db.models import Meeting, MeetingStatus, Role
from server.db.models.consultations import Question
from server.db.models.protocols import MeetingProtocol, ProtocolStatus
from server.db.models.resources import Resource, ResourceStatus
from server.db.types import utcnow
from server.domain.community.overview import MOSCOW, year_bounds
from server.domain.meeting.meeting_log import append_events
from server.domain.year.plans import add_plan_row, current_school_year
from tests.support.factories import add_member, logged_in_client, make_association, make_meeting, make_user
from tests.support.live import LiveServer


def _joined(uid: int, role: str = "member") -> tuple[str, str, dict[str, object]]:
    key = f"u:{uid}"
    return (
        "participant.joined",
        key,
        {"participant": key, "name": "Иванова Мария Петровна", "short_name": "М.П. Иванова", "role": role},
    )


async def _ended_meeting(server: LiveServer, association_id: int, ended_at, joins: list) -> int:  # type: ignore[no-untyped-def]
    db = server.runtime.db
    m = await make_meeting(db, association_id, starts_at=ended_at - timedelta(hours=1))
    async with db.transaction() as s:
        if joins:
            await append_events(s, m.id, joins, at=ended_at - timedelta(minutes=50))
        row = await s.get(Meeting, m.id)
        assert row is not None
        row.status, row.started_at, row.ended_at = (
            MeetingStatus.ended,
            ended_at - timedelta(hours=1),
            ended_at,
        )
    return m.id


async def _seed(server: LiveServer) -> dict[str, int]:
    db = server.runtime.db
    year = current_school_year()
    start, _ = year_bounds(year)
    a = await make_association(db, name="Б-объединение (учителя истории)")
    b = await make_association(db, name="А-объединение (учителя химии)")
    c = await make_association(db, name="В-объединение (пустое)")
    am = [await make_user(db, f"a{i}@example.org") for i in range(4)]
    bm = [await make_user(db, f"b{i}@example.org") for i in range(2)]
    for u in am:
        await add_member(db, a.id, u.id, Role.member)
    for u in bm:
        await add_member(db, b.id, u.id, Role.member)
    await make_user(db, "admin@example.org", is_admin=True)
    now = utcnow()
    d1, d2 = now - timedelta(days=1), now - timedelta(days=2)
    # A: 3/4 present (one joined twice, a guest and someone from B do not count), then 1/4.
    m1 = await _ended_meeting(
        server,
        a.id,
        d1,
        [
            _joined(am[0].id),
            _joined(am[1].id),
            _joined(am[0].id),
            _joined(am[2].id),
            _joined(bm[0].id),
            (
                "participant.joined",
                "g:5",
                {"participant": "g:5", "name": "Гость", "short_name": "Гость", "role": "guest"},
            ),
        ],
    )
    m2 = await _ended_meeting(server, a.id, d2, [_joined(am[3].id)])
    old = await _ended_meeting(server, a.id, start - timedelta(days=10), [_joined(am[0].id)])  # last year
    await make_meeting(db, a.id)  # scheduled: not held
    # B: everybody present once.
    await _ended_meeting(server, b.id, d1, [_joined(bm[0].id), _joined(bm[1].id)])
    async with db.transaction() as s:
        for topic in ("Тема 1", "Тема 2", "Тема 3"):
            await add_plan_row(s, a.id, year, topic=topic)
        await add_plan_row(s, a.id, year - 1, topic="Прошлый год")
        await add_plan_row(s, b.id, year, topic="Тема Б")
        s.add(
            MeetingProtocol(
                meeting_id=m1, association_id=a.id, status=ProtocolStatus.approved, school_year=year, number=1
            )
        )
        s.add(MeetingProtocol(meeting_id=m2, association_id=a.id, status=ProtocolStatus.draft))
        s.add(
            MeetingProtocol(
                meeting_id=old,
                association_id=a.id,
                status=ProtocolStatus.approved,
                school_year=year - 1,
                number=7,
            )
        )
        for status, when, assoc in (
            (ResourceStatus.published, d1, a.id),
            (ResourceStatus.published, d2, a.id),
            (ResourceStatus.pending, None, a.id),
            (ResourceStatus.published, start - timedelta(days=3), b.id),
        ):
            s.add(Resource(association_id=assoc, title="Ресурс", status=status, published_at=when))
        s.add(Question(association_id=a.id, title="Открытый вопрос"))
        s.add(Question(association_id=a.id, title="Решённый вопрос", solved_at=now))
        s.add(Question(association_id=b.id, title="Вопрос 1"))
        s.add(Question(association_id=b.id, title="Вопрос 2"))
    return {
        "a": a.id,
        "b": b.id,
        "c": c.id,
        "year": year,
        "d1_month": d1.astimezone(MOSCOW).month,
        "d2_month": d2.astimezone(MOSCOW).month,
    }


def _table(html: str) -> dict[int, list[str]]:
    out = {}
    for aid, body in re.findall(r'<tr data-association="(\d+)">(.*?)</tr>', html, re.S):
        out[int(aid)] = [
            re.sub(r"<[^>]+>", "", c).strip() for c in re.findall(r"<td[^>]*>(.*?)</td>", body, re.S)
        ]
    return out


async def test_overview_numbers_exports_and_roles(server: LiveServer, client) -> None:  # type: ignore[no-untyped-def]
    ids = await _seed(server)
    admin = await logged_in_client(server, "admin@example.org")
    member = await logged_in_client(server, "a0@example.org")
    try:
        page = await admin.get("/admin/overview")
        assert page.status_code == 200
        rows = _table(page.text)
        #                       members planned held attendance protocols resources questions
        assert rows[ids["a"]][1:] == ["4", "3", "2", "50.0 %", "1", "2", "1"]
        assert rows[ids["b"]][1:] == ["2", "1", "1", "100.0 %", "0", "0", "2"]
        assert rows[ids["c"]][1:] == ["0", "0", "0", "—", "0", "0", "0"]
        # By name by default (А-, Б-, В-); sorted by held, descending; attendance ascending.
        assert list(rows) == [ids["b"], ids["a"], ids["c"]]
        assert list(_table((await admin.get("/admin/overview?sort=-held")).text)) == [
            ids["a"],
            ids["b"],
            ids["c"],
        ]
        assert list(_table((await admin.get("/admin/overview?sort=attendance")).text)) == [
            ids["a"],
            ids["b"],
            ids["c"],
        ]
        assert next(iter(_table((await admin.get("/admin/overview?sort=-questions")).text))) == ids["b"]
        assert (await admin.get("/admin/overview?sort=<script>")).status_code == 200
        # Totals: 3 held meetings with shares 3/4, 1/4, 1 → 66.7 %.
        foot = re.search(r"<tfoot>(.*?)</tfoot>", page.text, re.S).group(1)  # type: ignore[union-attr]
        cells = [re.sub(r"<[^>]+>", "", x).strip() for x in re.findall(r"<td[^>]*>(.*?)</td>", foot, re.S)]
        assert cells[1:] == ["6", "4", "3", "66.7 %", "1", "2", "3"]
        # The chart: an inline SVG.
        assert "<svg" in page.text and "Проведено заседаний по месяцам" in page.text
        # Last school year: the old meeting and the old protocol.
        prev = _table((await admin.get(f"/admin/overview?year={ids['year'] - 1}")).text)
        assert prev[ids["a"]][1:] == ["4", "1", "1", "25.0 %", "1", "0", "0"]
        assert prev[ids["b"]][6] == "1"  # the resource published last year

        # CSV (UTF-8 with BOM) and XLSX say the same.
        r = await admin.get("/admin/overview.csv?sort=-held")
        assert r.status_code == 200 and r.headers["content-type"].startswith("text/csv")
        assert "filename*=UTF-8''" in r.headers["content-disposition"]
        assert r.content.startswith(b"\xef\xbb\xbf")
        table = list(csv.reader(io.StringIO(r.content.decode("utf-8-sig"))))
        assert table[0][0] == "Объединение" and len(table) == 5
        assert table[1] == ["Б-объединение (учителя истории)", "4", "3", "2", "50.0", "1", "2", "1"]
        assert table[-1][0] == "Всего по региону" and table[-1][4] == "66.7"
        r = await admin.get("/admin/overview.xlsx")
        assert r.status_code == 200 and r.content[:2] == b"PK"
        wb = load_workbook(io.BytesIO(r.content))
        ws = wb.worksheets[0]
        values = [[c.value for c in row] for row in ws.iter_rows()]
        assert values[0][3] == "Проведено заседаний"
        by_name = {v[0]: v[1:] for v in values[1:]}
        assert by_name["Б-объединение (учителя истории)"] == [4, 3, 2, 50.0, 1, 2, 1]
        assert by_name["В-объединение (пустое)"][3] in ("", None)
        months = {row[0].value: row[1].value for row in wb["По месяцам"].iter_rows(min_row=2)}
        assert sum(months.values()) == 3
        labels = ["Сен", "Окт", "Ноя", "Дек", "Янв", "Фев", "Мар", "Апр", "Май", "Июн", "Июл", "Авг"]
        expected = {}
        for m in (ids["d1_month"], ids["d1_month"], ids["d2_month"]):
            expected[labels[(m - 9) % 12]] = expected.get(labels[(m - 9) % 12], 0) + 1
        assert {k: v for k, v in months.items() if v} == expected

        # Administrators only.
        for url in ("/admin/overview", "/admin/overview.csv", "/admin/overview.xlsx"):
            assert (await member.get(url)).status_code == 403
            r = await client.get(url)
            assert r.status_code == 303 and r.headers["location"].startswith("/login")
        assert 'href="/admin/overview"' in (await admin.get("/admin")).text
    finally:
        await admin.aclose()
        await member.aclose()
