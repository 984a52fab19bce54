"""Spreadsheet exports neutralise formulas (issue 15, item 5): a cell a user typed that starts
with = + - @ (or a tab / carriage return) is exported as text, in every CSV and XLSX."""

from __future__ import annotations

import csv
import io

from openpyxl import load_workbook

from server.db.models import Association, Role
from server.domain.community.overview import Overview, OverviewRow, overview_csv, overview_xlsx
from server.domain.year.stats import ActivityTable, MemberRow, csv_bytes
from tests.support.live import LiveServer
from tests.test_questionnaires_support import add_question, create_draft, make_world, publish, question_ids

EVIL = ['=HYPERLINK("http://evil","x")', "+1+cmd|' /C calc'!A0", "-2+3", "@SUM(A1)", "\t=1", "\r=1"]


def assert_neutral(cells: list[str]) -> None:
    for cell in cells:
        assert not cell.startswith(("=", "+", "-", "@", "\t", "\r")), repr(cell)


def read_csv(body: bytes, delimiter: str = ";") -> list[list[str]]:
    return list(csv.reader(io.StringIO(body.decode("utf-8-sig")), delimiter=delimiter))


async def test_questionnaire_results_csv_neutralises_formulas(server: LiveServer) -> None:
    w = await make_world(server)
    try:
        m = await w.as_("methodist")
        qid = await create_draft(m, w.association_id, title="Формулы", anonymous="1")
        assert (await add_question(m, qid, "text", "Комментарий")).status_code == 303
        await publish(m, qid)
        (qq,) = await question_ids(server, qid)
        for role, text in zip(("member", "mo_head", "methodist"), EVIL[:3], strict=True):
            r = await (await w.as_(role)).submit(f"/questionnaires/{qid}/answer", {f"q{qq}": text})
            assert r.status_code == 303, r.text[:300]
        r = await m.get(f"/questionnaires/{qid}/results.csv")
        assert r.status_code == 200
        cells = [row[0] for row in read_csv(r.content)[1:]]
        assert sorted(cells) == sorted("'" + t for t in EVIL[:3])
    finally:
        await w.close()


def test_stats_csv_neutralises_formulas() -> None:
    rows = [
        MemberRow(i, name, name, org, Role.member, {}, 0.0)
        for i, (name, org) in enumerate(zip(EVIL, reversed(EVIL), strict=True), start=1)
    ]
    table = ActivityTable(Association(name="СМО"), 2026, [2026], [], rows, [], True)
    body = read_csv(csv_bytes(table))
    assert_neutral([c for row in body for c in row])
    assert sorted(row[0] for row in body[1:]) == sorted("'" + t for t in EVIL)


def test_overview_csv_and_xlsx_neutralise_formulas() -> None:
    rows = [OverviewRow(i, name) for i, name in enumerate(EVIL, start=1)]
    ov = Overview(2026, "2026/2027", rows, OverviewRow(0, "Итого"), [], "name", False, [2026])
    body = read_csv(overview_csv(ov), ",")
    assert_neutral([c for row in body for c in row])
    assert [row[0] for row in body[1:-1]] == ["'" + t for t in EVIL]
    sheet = load_workbook(io.BytesIO(overview_xlsx(ov))).worksheets[0]
    names = [sheet.cell(row=i, column=1) for i in range(2, 2 + len(EVIL))]
    assert all(c.data_type == "s" for c in names), [(c.value, c.data_type) for c in names]
    assert [c.value for c in names] == ["'" + t for t in EVIL]
