"""Meetings created from plan rows, the rows' status following them (rescheduled → moved,
cancelled, ended in the live room → held, with the protocol linked), the plan's DOCX and PDF
read back, and «Утвердить и опубликовать» adding versions to the documents section."""

from __future__ import annotations

import io
import re
from datetime import date, datetime, timedelta

import docx
import pypdf
from sqlalchemy import select

from server.db.models import AgendaItem, Meeting, MeetingForm, MeetingStatus, PlanRow, PlanRowStatus, Role
from server.db.models.library import LibraryDocument, LibraryKind, LibraryVersion
from server.db.models.protocols import MeetingProtocol
from server.domain.protocol.russian import moscow
from server.domain.year.plans import current_school_year, school_year_bounds
from tests.support.client import WebClient
from tests.support.factories import add_member, logged_in_client, make_association, make_user
from tests.support.live import LiveServer
from tests.support.net import wait_for
from tests.support.sio import RoomClient, user_cookie


def future_day(weeks: int = 3) -> date:
    """A day a few weeks ahead (the meeting must be in the future to be held in the room)."""
    return moscow(datetime.now().astimezone()).date() + timedelta(weeks=weeks)


def year_of(day: date) -> int:
    return day.year if day.month >= 9 else day.year - 1


async def seed(server: LiveServer) -> tuple[int, int, int]:
    db = server.runtime.db
    a = await make_association(db, name="СМО учителей математики")
    methodist = await make_user(db, "metodist@example.org", last_name="Смирнова", first_name="Елена")
    teacher = await make_user(db, "teacher@example.org", last_name="Петрова", first_name="Анна")
    await add_member(db, a.id, methodist.id, Role.methodist)
    await add_member(db, a.id, teacher.id, Role.member)
    return a.id, methodist.id, teacher.id


async def row(server: LiveServer, row_id: int) -> PlanRow:
    async with server.runtime.db.read() as s:
        found = await s.get(PlanRow, row_id)
        assert found is not None
        return found


async def add_row(c: WebClient, aid: int, year: int, **fields: str) -> int:
    r = await c.submit(f"/associations/{aid}/plan/rows", {"year": str(year), **fields})
    assert r.status_code == 303, r.text[:800]
    page = await c.get(f"/associations/{aid}/plan?year={year}")
    ids = [int(x) for x in re.findall(r'id="row-(\d+)"', page.text)]
    return max(ids)


def meeting_form(meeting: Meeting, day: date, agenda: list[str]) -> dict[str, object]:
    return {
        "title": meeting.title,
        "form": meeting.form.value,
        "date": day.isoformat(),
        "start_time": "15:00",
        "end_time": "16:30",
        "admission": "open",
        "agenda_title[]": agenda,
        "agenda_rapporteur[]": [""] * len(agenda),
        "agenda_minutes[]": ["10"] * len(agenda),
    }


async def test_meeting_from_row_and_status_transitions(server: LiveServer) -> None:
    aid, methodist_id, _ = await seed(server)
    day = future_day()
    year = year_of(day)
    c = await logged_in_client(server, "metodist@example.org")
    try:
        rid = await add_row(
            c,
            aid,
            year,
            topic="Функциональная грамотность на уроках математики",
            questions="Читательская грамотность\nЗадачи PISA в 7 классе",
            form="Семинар-практикум",
            planned_date=day.isoformat(),
            responsible="Е.В. Смирнова",
        )
        r = await c.submit(f"/associations/{aid}/plan/rows/{rid}/meeting")
        assert r.status_code == 303
        mid = int(r.headers["location"].split("/")[2])
        assert r.headers["location"] == f"/meetings/{mid}/edit"
        async with server.runtime.db.read() as s:
            meeting = await s.get(Meeting, mid)
            assert meeting is not None
            agenda = list(await s.scalars(select(AgendaItem.title).where(AgendaItem.meeting_id == mid)))
        assert meeting.title == "Функциональная грамотность на уроках математики"
        assert meeting.form == MeetingForm.workshop
        assert moscow(meeting.starts_at).date() == day and moscow(meeting.starts_at).hour == 15
        assert agenda == ["Читательская грамотность", "Задачи PISA в 7 классе"]
        linked = await row(server, rid)
        assert (linked.meeting_id, linked.status) == (mid, PlanRowStatus.planned)
        meeting_page = await c.get(f"/meetings/{mid}")
        assert "Заседание по строке № 1 плана" in meeting_page.text
        edit = await c.get(f"/meetings/{mid}/edit")
        assert edit.status_code == 200 and "Задачи PISA в 7 классе" in edit.text
        # A second meeting for the same row is refused.
        r = await c.submit(f"/associations/{aid}/plan/rows/{rid}/meeting")
        assert r.status_code == 409 and "заседание уже создано" in r.text

        # Rescheduled to another day → moved, with the new date shown; back → planned.
        moved_day = day + timedelta(days=3)
        r = await c.submit(f"/meetings/{mid}/edit", meeting_form(meeting, moved_day, agenda))
        assert r.status_code == 303, r.text[:800]
        assert (await row(server, rid)).status == PlanRowStatus.moved
        page = await c.get(f"/associations/{aid}/plan?year={year}")
        assert f"перенесено на {moved_day.strftime('%d.%m.%Y')}" in page.text
        assert f'href="/meetings/{mid}"' in page.text
        r = await c.submit(f"/meetings/{mid}/edit", meeting_form(meeting, day, agenda))
        assert (await row(server, rid)).status == PlanRowStatus.planned

        # Cancelled → cancelled; a new meeting can then be created from the row.
        r = await c.submit(f"/meetings/{mid}/cancel")
        assert r.status_code == 303
        assert (await row(server, rid)).status == PlanRowStatus.cancelled
        page = await c.get(f"/associations/{aid}/plan?year={year}")
        assert "отменено" in page.text
        r = await c.submit(f"/associations/{aid}/plan/rows/{rid}/meeting")
        assert r.status_code == 303
        mid2 = int(r.headers["location"].split("/")[2])
        assert mid2 != mid
        assert ((await row(server, rid)).meeting_id, (await row(server, rid)).status) == (
            mid2,
            PlanRowStatus.planned,
        )

        # A row dated by month only: moved when the meeting leaves that month.
        rid2 = await add_row(c, aid, year, topic="Круглый стол", form="Круглый стол", dates_text="в марте")
        r = await c.submit(f"/associations/{aid}/plan/rows/{rid2}/meeting")
        mid3 = int(r.headers["location"].split("/")[2])
        async with server.runtime.db.read() as s:
            m3 = await s.get(Meeting, mid3)
            assert m3 is not None
        assert moscow(m3.starts_at).date() == date(year + 1, 3, 15)
        assert m3.form == MeetingForm.round_table
        assert (await row(server, rid2)).status == PlanRowStatus.planned
        await c.submit(f"/meetings/{mid3}/edit", meeting_form(m3, date(year + 1, 3, 28), ["Круглый стол"]))
        assert (await row(server, rid2)).status == PlanRowStatus.planned
        await c.submit(f"/meetings/{mid3}/edit", meeting_form(m3, date(year + 1, 4, 2), ["Круглый стол"]))
        assert (await row(server, rid2)).status == PlanRowStatus.moved
    finally:
        await c.aclose()

    # Held: the methodist starts and ends the meeting in the live room → held, protocol linked.
    room = RoomClient(server.url, user_cookie(server.runtime.secret_key, methodist_id))
    try:
        await room.connect()
        await room.ok("join", {"meeting_id": mid2})
        await room.ok("meeting.start")
        await room.ok("meeting.end")
    finally:
        await room.close()
    assert (await row(server, rid)).status == PlanRowStatus.held

    async def drafted() -> MeetingProtocol | None:
        async with server.runtime.db.read() as s:
            return await s.scalar(select(MeetingProtocol).where(MeetingProtocol.meeting_id == mid2))

    protocol = await wait_for(drafted, 20, what="protocol draft assembled")
    c = await logged_in_client(server, "teacher@example.org")
    try:
        page = await c.get(f"/associations/{aid}/plan?year={year}")
        assert "проведено" in page.text and f'href="/protocols/{protocol.id}"' in page.text
    finally:
        await c.aclose()
    async with server.runtime.db.read() as s:
        m2 = await s.get(Meeting, mid2)
        assert m2 is not None and m2.status == MeetingStatus.ended


async def test_plan_documents_and_publishing(server: LiveServer) -> None:
    aid, _, _ = await seed(server)
    year = current_school_year()
    first, _ = school_year_bounds(year)
    c = await logged_in_client(server, "metodist@example.org")
    try:
        # An empty plan cannot be published.
        r = await c.submit(f"/associations/{aid}/plan/publish", {"year": str(year)})
        assert r.status_code == 409 and "План пуст" in r.text
        assert (await c.get(f"/associations/{aid}/plan/{year}.docx")).status_code == 404
        r = await c.submit(
            f"/associations/{aid}/plan/header",
            {
                "year": str(year),
                "theme": "Развитие функциональной грамотности обучающихся",
                "goal": "Совершенствование педагогического мастерства",
                "tasks": "Изучить новые ФГОС\nОбобщить опыт",
            },
        )
        assert r.status_code == 303
        await add_row(
            c,
            aid,
            year,
            topic="Организационное заседание",
            questions="Утверждение плана работы",
            form="Организационное заседание",
            planned_date=(first + timedelta(days=14)).isoformat(),
            responsible="Е.В. Смирнова",
        )
        await add_row(
            c, aid, year, topic="Мастер-класс «Смысловое чтение»", form="Мастер-класс", dates_text="январь"
        )

        r = await c.get(f"/associations/{aid}/plan/{year}.docx")
        assert r.status_code == 200
        assert r.headers["content-type"].startswith("application/vnd.openxmlformats")
        assert "filename*=UTF-8''" in r.headers["content-disposition"]
        assert r.headers["content-disposition"].startswith("attachment")
        document = docx.Document(io.BytesIO(r.content))
        text = "\n".join(p.text for p in document.paragraphs)
        assert "ПЛАН РАБОТЫ" in text
        assert f"СМО учителей математики на {year}/{year + 1} учебный год" in text
        assert "Методическая тема: Развитие функциональной грамотности обучающихся." in text
        assert "1. Изучить новые ФГОС." in text and "2. Обобщить опыт." in text
        table = document.tables[-1]
        cells = [[cell.text for cell in tr.cells] for tr in table.rows]
        assert cells[0] == [
            "№",
            "Тема заседания (рассматриваемые вопросы)",
            "Форма проведения",
            "Сроки",
            "Ответственные",
        ]
        assert cells[1][0] == "1" and cells[1][1].startswith("Организационное заседание.")
        assert "Утверждение плана работы" in cells[1][1]
        assert cells[1][3] == (first + timedelta(days=14)).strftime("%d.%m.%Y")
        assert cells[2][1:4] == ["Мастер-класс «Смысловое чтение»", "Мастер-класс", "январь"]

        r = await c.get(f"/associations/{aid}/plan/{year}.pdf")
        assert r.status_code == 200 and r.headers["content-type"] == "application/pdf"
        pdf_text = " ".join(
            (page.extract_text() or "") for page in pypdf.PdfReader(io.BytesIO(r.content)).pages
        )
        flat = " ".join(pdf_text.split())
        assert "ПЛАН РАБОТЫ" in flat and "Развитие функциональной грамотности" in flat
        assert "Смысловое чтение" in flat
        assert (await c.get(f"/associations/{aid}/plan/{year}.txt")).status_code == 404

        # Publish twice: versions 1 and 2 in the documents section.
        r = await c.submit(f"/associations/{aid}/plan/publish", {"year": str(year)})
        assert r.status_code == 303
        page = await c.get(f"/associations/{aid}/plan?year={year}")
        assert "План утверждён и опубликован в разделе «Документы» (версия 1)." in page.text
        await add_row(c, aid, year, topic="Итоговое заседание", dates_text="май")
        r = await c.submit(f"/associations/{aid}/plan/publish", {"year": str(year)})
        assert r.status_code == 303
        async with server.runtime.db.read() as s:
            doc = await s.scalar(
                select(LibraryDocument).where(
                    LibraryDocument.association_id == aid, LibraryDocument.kind == LibraryKind.plan
                )
            )
            assert doc is not None and doc.school_year == year
            versions = list(
                await s.scalars(
                    select(LibraryVersion)
                    .where(LibraryVersion.document_id == doc.id)
                    .order_by(LibraryVersion.version)
                )
            )
        assert [v.version for v in versions] == [1, 2]
        library = await c.get(f"/associations/{aid}/library")
        assert library.status_code == 200
        assert f"План работы на {year}/{year + 1} учебный год" in library.text
        assert "версия 1" in library.text and "версия 2" in library.text
    finally:
        await c.aclose()

    # A teacher downloads both versions from the documents section; they differ as published.
    c = await logged_in_client(server, "teacher@example.org")
    try:
        texts = []
        for v in versions:
            r = await c.get(f"/associations/{aid}/library/versions/{v.id}/file")
            assert r.status_code == 200 and r.headers["x-content-type-options"] == "nosniff"
            table = docx.Document(io.BytesIO(r.content)).tables[-1]
            texts.append([tr.cells[1].text for tr in table.rows][1:])
            pdf = await c.get(f"/associations/{aid}/library/versions/{v.id}/pdf")
            assert pdf.status_code == 200 and pdf.content.startswith(b"%PDF")
        assert len(texts[0]) == 2 and texts[1][-1] == "Итоговое заседание"
        assert (await c.submit(f"/associations/{aid}/plan/publish", {"year": str(year)})).status_code == 403
    finally:
        await c.aclose()
