"""Shared pieces of the meeting preparation tests (no tests here): the world fixture, creating
and editing meetings through the real forms, reading the outbox, running delayed jobs now."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from datetime import UTC, date, datetime, timedelta
from email.message import Message
from typing import Any

import pytest
from icalendar import Calendar
from sqlalchemy import select, update

from server.db.models import Meeting, OutboxMessage
from server.domain.protocol.russian import MOSCOW
from server.workers import wake_outbox
from tests.support.client import WebClient
from tests.support.live import LiveServer
from tests.support.meeting_world import World, make_world
from tests.support.net import wait_for


@pytest.fixture
async def world(server: LiveServer, client: WebClient) -> AsyncIterator[World]:
    async with make_world(server, client) as w:
        yield w


def meeting_form(
    world: World, day: date, start: str = "15:00", end: str = "16:30", **over: Any
) -> dict[str, Any]:
    data: dict[str, Any] = {
        "title": "Формирующее оценивание на уроках математики",
        "form": "workshop",
        "description": "Практикум по плану работы.",
        "date": day.isoformat(),
        "start_time": start,
        "end_time": end,
        "chair_id": str(world.ids["methodist"]),
        "secretary_id": str(world.ids["mo_head"]),
        "admission": "open",
        "agenda_title[]": ["О плане работы", "Из опыта работы"],
        "agenda_rapporteur[]": [str(world.ids["methodist"]), str(world.ids["member"])],
        "agenda_minutes[]": ["15", "25"],
    }
    data.update(over)
    return data


async def create_meeting(world: World, day: date, **over: Any) -> int:
    methodist = await world.client("methodist")
    r = await methodist.submit(
        f"/associations/{world.association_id}/meetings/new", meeting_form(world, day, **over)
    )
    assert r.status_code == 303, r.text[:500]
    m = re.fullmatch(r"/meetings/(\d+)", r.headers["location"])
    assert m
    return int(m.group(1))


async def edit_meeting(world: World, meeting_id: int, day: date, **over: Any) -> None:
    methodist = await world.client("methodist")
    r = await methodist.submit(f"/meetings/{meeting_id}/edit", meeting_form(world, day, **over))
    assert r.status_code == 303, r.text[:500]


async def load_meeting(server: LiveServer, meeting_id: int) -> Meeting:
    async with server.runtime.db.read() as s:
        meeting = await s.get(Meeting, meeting_id)
    assert meeting is not None
    return meeting


def moscow_day(days: int) -> date:
    return (datetime.now(MOSCOW) + timedelta(days=days)).date()


async def outbox_rows(server: LiveServer, prefix: str) -> list[OutboxMessage]:
    async with server.runtime.db.read() as s:
        rows = await s.scalars(
            select(OutboxMessage)
            .where(OutboxMessage.dedupe_key.startswith(prefix))
            .order_by(OutboxMessage.id)
        )
        return list(rows)


async def all_done(server: LiveServer, prefix: str = "") -> bool:
    """Every row (of ``prefix``) that is due has been handled."""
    now = datetime.now(UTC)
    rows = await outbox_rows(server, prefix)
    # (a claimed row is "running" with its lease in next_attempt_at: not done yet)
    return all(
        r.status in ("sent", "failed") or (r.status == "pending" and r.next_attempt_at > now) for r in rows
    )


async def settle(server: LiveServer, what: str = "outbox settled") -> None:
    wake_outbox(server.runtime)
    await wait_for(lambda: all_done(server), 30, interval=0.1, what=what)


async def run_now(server: LiveServer, dedupe_key: str) -> None:
    """Make a (delayed or already handled) job due now and wait until the worker ran it."""
    async with server.runtime.db.transaction() as s:
        result = await s.execute(
            update(OutboxMessage)
            .where(OutboxMessage.dedupe_key == dedupe_key)
            .values(status="pending", next_attempt_at=datetime.now(UTC) - timedelta(seconds=1))
        )
        assert result.rowcount == 1, dedupe_key  # type: ignore[attr-defined]
    await settle(server, f"job {dedupe_key} ran")


def calendar_of(msg: Message) -> tuple[str, Calendar]:
    """The calendar attachment: (its Content-Type's method parameter, the parsed calendar)."""
    for part in msg.walk():
        if part.get_content_type() == "text/calendar":
            payload = part.get_payload(decode=True)
            assert isinstance(payload, bytes)
            return str(part.get_param("method")), Calendar.from_ical(payload)
    raise AssertionError("no text/calendar part")


def event_of(cal: Calendar) -> Any:
    events = [c for c in cal.walk() if c.name == "VEVENT"]
    assert len(events) == 1
    return events[0]


def mails(inbox: Any, subject_part: str) -> list[Message]:
    return [m for m in inbox.messages if subject_part in str(m["Subject"])]
