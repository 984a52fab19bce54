"""Competitions over HTTP on both databases: the call, entries with files, the jury's scores,
published results with ties, certificates read back, and who may do what."""

from __future__ import annotations

import io
from datetime import UTC, datetime, timedelta

import pypdf
from sqlalchemy import func, select, update

from server.db.models import (
    Competition,
    CompetitionCriterion,
    CompetitionEntry,
    CompetitionScore,
    Notification,
    NotificationKind,
    Role,
)
from server.domain.year.activity import METRICS
from server.domain.year.competitions import competition_results
from tests.support.client import WebClient
from tests.support.factories import add_member, logged_in_client, make_association, make_user
from tests.support.live import LiveServer

PDF = b"%PDF-1.4\n1 0 obj<<>>endobj\ntrailer<<>>\n%%EOF\n"
EXE = b"MZ\x90\x00\x03\x00\x00\x00\x04\x00\x00\x00\xff\xff\x00\x00" * 8
TODAY = datetime.now(UTC).date()


def call_form(jury: list[int], **over: str) -> dict[str, object]:
    form: dict[str, object] = {
        "title": "Лучший урок по функциональной грамотности",
        "description": "Конкурс методических разработок уроков.",
        "entries_from": (TODAY - timedelta(days=1)).isoformat(),
        "entries_until": (TODAY + timedelta(days=10)).isoformat(),
        "judging_until": (TODAY + timedelta(days=20)).isoformat(),
        "winners_count": "3",
        "criterion-0-name": "Актуальность",
        "criterion-0-max": "10",
        "criterion-1-name": "Оформление",
        "criterion-1-max": "5",
        "jury[]": [str(j) for j in jury],
    }
    form.update(over)
    return form


async def upload_entry(c: WebClient, cid: int, title: str, data: bytes, name: str = "work.pdf") -> int:
    token = await c.csrf()
    r = await c.post(
        f"/competitions/{cid}/entry",
        data={"csrf_token": token, "title": title, "annotation": "Аннотация"},
        files={"file": (name, data, "application/octet-stream")},
    )
    return r.status_code


async def score(c: WebClient, cid: int, eid: int, crits: list[int], values: list[int]) -> int:
    data = {f"c{cr}": str(v) for cr, v in zip(crits, values, strict=True)}
    return (await c.submit(f"/competitions/{cid}/entries/{eid}/scores", data)).status_code


async def test_competition_flow_to_certificates(server: LiveServer) -> None:
    db = server.runtime.db
    assoc = await make_association(db)
    other = await make_association(db, name="СМО учителей физики")
    users = {}
    for key, last, role in (
        ("m", "Методистова", Role.methodist),
        ("a", "Андреева", Role.member),
        ("b", "Борисова", Role.member),
        ("c", "Васильева", Role.mo_head),
        ("j1", "Жюрина", Role.member),
        ("j2", "Судейкина", Role.member),
    ):
        users[key] = await make_user(db, f"{key}@example.org", last_name=last, school="МБОУ СОШ № 5")
        await add_member(db, assoc.id, users[key].id, role)
    users["o"] = await make_user(db, "o@example.org", last_name="Чужова")
    await add_member(db, other.id, users["o"].id, Role.methodist)
    cl = {k: await logged_in_client(server, f"{k}@example.org") for k in users}
    try:
        # The call: validation, then announcement with notifications.
        r = await cl["m"].submit(
            f"/associations/{assoc.id}/competitions/new",
            call_form([users["j1"].id], title="", **{"criterion-0-max": "0"}),
        )
        assert r.status_code == 422 and "Заполните это поле" in r.text
        r = await cl["m"].submit(f"/associations/{assoc.id}/competitions/new", call_form([users["o"].id]))
        assert r.status_code == 422
        r = await cl["a"].submit(
            f"/associations/{assoc.id}/competitions/new", call_form([users["j1"].id, users["j2"].id])
        )
        assert r.status_code == 403
        r = await cl["m"].submit(
            f"/associations/{assoc.id}/competitions/new", call_form([users["j1"].id, users["j2"].id])
        )
        assert r.status_code == 303, r.text[:500]
        cid = int(r.headers["location"].rsplit("/", 1)[1])
        async with db.read() as s:
            notified = set(
                (
                    await s.scalars(
                        select(Notification.user_id).where(Notification.kind == NotificationKind.competition)
                    )
                ).all()
            )
            crits = [
                c.id
                for c in (
                    await s.scalars(
                        select(CompetitionCriterion)
                        .where(CompetitionCriterion.competition_id == cid)
                        .order_by(CompetitionCriterion.position)
                    )
                ).all()
            ]
        assert notified == {u.id for k, u in users.items() if k != "o"}
        assert len(crits) == 2
        r = await cl["a"].get(f"/associations/{assoc.id}/competitions")
        assert r.status_code == 200 and "Лучший урок" in r.text
        assert (await cl["o"].get(f"/competitions/{cid}")).status_code == 403

        # Entries: type and size checks, one entry per member, the file may be replaced.
        assert await upload_entry(cl["a"], cid, "Программа", EXE, "virus.exe") == 415
        big = b"%PDF-1.4\n" + b"0" * (20 * 1024 * 1024)
        assert await upload_entry(cl["a"], cid, "Большой", big) == 413
        assert await upload_entry(cl["a"], cid, "Урок А", PDF) == 303
        assert await upload_entry(cl["a"], cid, "Урок А, редакция 2", PDF + b"% v2\n") == 303
        assert await upload_entry(cl["b"], cid, "Урок Б", PDF) == 303
        assert await upload_entry(cl["c"], cid, "Урок В", PDF) == 303
        assert await upload_entry(cl["j1"], cid, "Урок жюри", PDF) == 303
        assert await upload_entry(cl["o"], cid, "Чужой", PDF) == 403
        async with db.read() as s:
            entries = {
                e.user_id: e
                for e in (
                    await s.scalars(select(CompetitionEntry).where(CompetitionEntry.competition_id == cid))
                ).all()
            }
        assert len(entries) == 4 and entries[users["a"].id].title == "Урок А, редакция 2"
        ea, eb, ec, ej = (entries[users[k].id].id for k in ("a", "b", "c", "j1"))
        r = await cl["a"].get(f"/competitions/entries/{ea}/file")
        assert r.status_code == 200 and r.content.endswith(b"% v2\n")
        assert r.headers["x-content-type-options"] == "nosniff"
        assert (await cl["b"].get(f"/competitions/entries/{ea}/file")).status_code == 403
        assert (await cl["j2"].get(f"/competitions/entries/{ea}/file")).status_code == 200
        # The jury cannot score while entries are open.
        assert await score(cl["j1"], cid, ea, crits, [5, 5]) == 409

        async with db.transaction() as s:
            await s.execute(
                update(Competition)
                .where(Competition.id == cid)
                .values(entries_until=datetime.now(UTC) - timedelta(minutes=1))
            )
        assert await upload_entry(cl["b"], cid, "Поздно", PDF) == 409

        # Scoring: range, jurors only, never one's own entry.
        assert await score(cl["j1"], cid, ea, crits, [11, 5]) == 422
        assert await score(cl["j1"], cid, ea, crits, [-1, 5]) == 422
        assert await score(cl["a"], cid, eb, crits, [5, 5]) == 403
        assert await score(cl["m"], cid, eb, crits, [5, 5]) == 403
        assert await score(cl["j1"], cid, ej, crits, [10, 5]) == 403
        async with db.read() as s:
            assert await s.scalar(select(func.count(CompetitionScore.id))) == 0
        for juror, eid, vals in (
            ("j1", ea, [10, 5]), ("j2", ea, [8, 5]),   # 9 + 5 = 14
            ("j1", eb, [7, 4]), ("j2", eb, [9, 4]),    # 8 + 4 = 12
            ("j1", ec, [9, 2]), ("j2", ec, [9, 4]),    # 9 + 3 = 12
            ("j2", ej, [5, 1]),                        # 6
        ):  # fmt: skip
            assert await score(cl[juror], cid, eid, crits, vals) == 303
        assert await score(cl["j2"], cid, ej, crits, [5, 0]) == 303  # a juror may correct a score: 5

        # Before the results a participant sees no scores and no other entries.
        page = (await cl["a"].get(f"/competitions/{cid}")).text
        assert "entries-table" not in page and "Урок Б" not in page and "14.00" not in page
        assert "Урок Б" in (await cl["j1"].get(f"/competitions/{cid}")).text
        assert "14.00" in (await cl["m"].get(f"/competitions/{cid}")).text
        assert (await cl["a"].get(f"/competitions/entries/{ea}/certificate.pdf")).status_code == 409

        # Publishing: the methodist only, once.
        assert (await cl["a"].submit(f"/competitions/{cid}/publish")).status_code == 403
        assert (await cl["o"].submit(f"/competitions/{cid}/publish")).status_code == 403
        assert (await cl["m"].submit(f"/competitions/{cid}/publish")).status_code == 303
        assert (await cl["m"].submit(f"/competitions/{cid}/publish")).status_code == 409
        assert await score(cl["j1"], cid, eb, crits, [0, 0]) == 409
        async with db.read() as s:
            placed = {
                e.id: (e.place, e.total)
                for e in (
                    await s.scalars(select(CompetitionEntry).where(CompetitionEntry.competition_id == cid))
                ).all()
            }
            notified = (
                await s.scalars(
                    select(Notification.user_id).where(
                        Notification.dedupe_key == f"competition:{cid}:results"
                    )
                )
            ).all()
        assert placed == {ea: (1, 14.0), eb: (2, 12.0), ec: (2, 12.0), ej: (4, 5.0)}
        assert len(notified) == 6
        page = (await cl["b"].get(f"/competitions/{cid}")).text
        assert "14.00" in page and "Диплом II степени" in page and "Урок А, редакция 2" in page

        # Certificates: the person's own and the methodist's; nobody else's.
        r = await cl["a"].get(f"/competitions/entries/{ea}/certificate.pdf")
        assert r.status_code == 200 and r.headers["content-type"] == "application/pdf"
        text = " ".join(pypdf.PdfReader(io.BytesIO(r.content)).pages[0].extract_text().split())
        assert "Андреева Мария Петровна" in text and "Лучший урок по функциональной грамотности" in text
        assert "ДИПЛОМ" in text and "I степени" in text and "за I место" in text
        page0 = pypdf.PdfReader(io.BytesIO(r.content)).pages[0]
        assert float(page0.mediabox.width) > float(page0.mediabox.height)  # landscape
        r = await cl["m"].get(f"/competitions/entries/{ej}/certificate.pdf")
        text = " ".join(pypdf.PdfReader(io.BytesIO(r.content)).pages[0].extract_text().split())
        assert "СЕРТИФИКАТ" in text and "участника" in text and "Жюрина" in text and "место — 4" in text
        r = await cl["c"].get(f"/competitions/entries/{ec}/certificate.pdf")
        text = " ".join(pypdf.PdfReader(io.BytesIO(r.content)).pages[0].extract_text().split())
        assert "II степени" in text and "Васильева" in text and f"{assoc.id}-{cid}-" in text
        assert (await cl["b"].get(f"/competitions/entries/{ea}/certificate.pdf")).status_code == 403
        assert (await cl["o"].get(f"/competitions/entries/{ea}/certificate.pdf")).status_code == 403
        assert (await cl["m"].get("/competitions/entries/999999/certificate.pdf")).status_code == 404

        # For the annual analysis and the statistics.
        start, end = datetime.now(UTC) - timedelta(days=30), datetime.now(UTC) + timedelta(days=1)
        async with db.read() as s:
            results = await competition_results(s, assoc.id, start, end)
            entries_metric = await METRICS["competition_entries"].source(s, assoc.id, start, end)
            places_metric = await METRICS["competition_places"].source(s, assoc.id, start, end)
            assert await competition_results(s, other.id, start, end) == []
        assert len(results) == 1 and results[0].entries == 4 and results[0].published
        assert results[0].winners == [
            ("Андреева Мария Петровна", 1),
            ("Борисова Мария Петровна", 2),
            ("Васильева Мария Петровна", 2),
        ]
        assert entries_metric == {users[k].id: 1.0 for k in ("a", "b", "c", "j1")}
        assert places_metric == {users["a"].id: 3.0, users["b"].id: 2.0, users["c"].id: 2.0}
    finally:
        for c in cl.values():
            await c.aclose()
