"""CSV exports of polls: counts of every closed poll, who voted what in named polls; members
and administrators only; an overdue poll is closed by the read (a restart never leaves it open)."""

from __future__ import annotations

import csv
import io
from datetime import timedelta

from sqlalchemy import select

from realtime.meeting.handlers.polls import cancel_timer
from server.db.models import MeetingEvent, Poll
from server.db.types import utcnow
from tests.support.client import WebClient
from tests.support.live import LiveServer
from tests.test_polls_support import DECISION, World, close_all, create_open, make_world

JSON = {"Accept": "application/json"}


def parse_csv(body: bytes) -> list[list[str]]:
    assert body.startswith("\ufeff".encode()), "Excel needs the UTF-8 BOM"
    return list(csv.reader(io.StringIO(body.decode("utf-8-sig")), delimiter=";"))


async def get(world: World, label: str | None, url: str) -> tuple[int, bytes, str]:
    client = await world.web(label) if label else WebClient(base_url=world.server.url, timeout=20)
    try:
        r = await client.get(url, headers=JSON)
        code = r.json()["error"]["code"] if r.status_code >= 400 else ""
        return r.status_code, r.content, code
    finally:
        await client.aclose()


async def test_named_poll_exports_who_voted_what_and_the_counts(server: LiveServer) -> None:
    world = await make_world(server, members=2, guests=1)
    mod = await world.room("methodist")
    voters = {label: await world.room(label) for label in ("member1", "member2", "guest1")}
    try:
        poll_id = await create_open(
            mod,
            {
                "question": "Форма проведения семинара",
                "kind": "multiple",
                "options": ["Очно", "Онлайн", '=HYPERLINK("x")'],
                "guests_vote": True,
            },
        )
        base = f"/meetings/{world.meeting_id}/polls/{poll_id}"
        status, _, code = await get(world, "member1", f"{base}/results.csv")
        assert (status, code) == (409, "poll_not_closed")
        for label, choices in (("member2", [0, 2]), ("member1", [1]), ("guest1", [0])):
            assert (await voters[label].call("vote.cast", {"poll_id": poll_id, "choices": choices}))["ok"]

        status, body, _ = await get(world, "member1", f"{base}/votes.csv")
        assert status == 200
        rows = parse_csv(body)
        m1, m2 = world.users["member1"], world.users["member2"]
        assert rows == [
            ["№", "Фамилия Имя Отчество", "Организация", "Голос"],
            ["1", "Гость Гостевой 1 (гость)", "Лицей № 2", "Очно"],  # sorted by name
            ["2", f"{m1.last_name} {m1.first_name} {m1.middle_name}", "МБОУ «СОШ № 1»", "Онлайн"],
            [
                "3",
                f"{m2.last_name} {m2.first_name} {m2.middle_name}",
                "МБОУ «СОШ № 1»",
                'Очно; =HYPERLINK("x")',
            ],
        ]

        assert (await mod.call("poll.close", {"poll_id": poll_id}))["ok"]
        status, body, _ = await get(world, "admin", f"{base}/results.csv")
        assert status == 200
        rows = parse_csv(body)
        assert rows[0] == ["Вопрос", "Форма проведения семинара"]
        assert ["Очно", "2"] in rows and ["Онлайн", "1"] in rows and ['\'=HYPERLINK("x")', "1"] in rows
        assert ["Проголосовали", "3"] in rows and ["Кворум", "да"] in rows
        assert not any(r[0] == "Решение" for r in rows)  # a choice poll has no outcome
    finally:
        await close_all([mod, *voters.values()])


async def test_decision_results_and_who_may_read_the_exports(server: LiveServer) -> None:
    world = await make_world(server, members=1, guests=1)
    other = await make_world(server, members=1)
    mod, voter = await world.room("methodist"), await world.room("member1")
    try:
        poll_id = await create_open(mod)
        assert (await voter.call("vote.cast", {"poll_id": poll_id, "choices": [0]}))["ok"]
        assert (await mod.call("poll.close", {"poll_id": poll_id}))["ok"]
        base = f"/meetings/{world.meeting_id}/polls/{poll_id}"

        status, body, _ = await get(world, "mo_head", f"{base}/results.csv")
        rows = parse_csv(body)
        assert status == 200 and ["за", "1"] in rows and ["против", "0"] in rows
        assert ["Решение", "принято"] in rows and ["Единогласно", "да"] in rows
        for url in (f"{base}/results.csv", f"{base}/votes.csv"):
            assert (await get(world, "methodist", url))[0] == 200
            assert (await get(world, "admin", url))[0] == 200
            assert (await get(world, "outsider", url))[::2] == (403, "forbidden")
            assert (await get(world, None, url))[::2] == (401, "unauthenticated")
            assert (await get(world, "guest1", url))[::2] == (401, "unauthenticated")
            # The poll of another meeting, and a poll that does not exist.
            wrong = url.replace(f"/meetings/{world.meeting_id}/", f"/meetings/{other.meeting_id}/")
            assert (await get(other, "member1", wrong))[::2] == (404, "poll_not_found")
            assert (await get(world, "member1", url.replace(f"/{poll_id}/", "/999999/")))[::2] == (
                404,
                "poll_not_found",
            )
    finally:
        await close_all([mod, voter])


async def test_an_overdue_poll_is_closed_by_a_read(server: LiveServer) -> None:
    """As after a restart: the deadline passed and no timer ran; the next read closes it."""
    world = await make_world(server, members=1)
    mod, voter = await world.room("methodist"), await world.room("member1")
    try:
        poll_id = await create_open(mod, {**DECISION, "closes_in_seconds": 3600})
        cancel_timer(server.runtime, poll_id)  # the "restarted" process has no timer
        assert (await voter.call("vote.cast", {"poll_id": poll_id, "choices": [1]}))["ok"]
        async with server.runtime.db.transaction() as s:
            poll = await s.get(Poll, poll_id)
            assert poll is not None
            poll.opened_at = utcnow() - timedelta(hours=2)

        status, body, _ = await get(
            world, "member1", f"/meetings/{world.meeting_id}/polls/{poll_id}/results.csv"
        )
        assert status == 200 and ["против", "1"] in parse_csv(body)
        closed = await voter.wait_event("poll.closed", poll_id=poll_id)
        assert closed["actor"] == "system" and closed["payload"]["automatic"] is True
        async with server.runtime.db.read() as s:
            events = list(
                await s.scalars(select(MeetingEvent.type).where(MeetingEvent.meeting_id == world.meeting_id))
            )
        assert events.count("poll.closed") == 1
    finally:
        await close_all([mod, voter])


async def test_a_vote_after_the_deadline_closes_the_overdue_poll(server: LiveServer) -> None:
    world = await make_world(server, members=1)
    mod, voter = await world.room("methodist"), await world.room("member1")
    try:
        poll_id = await create_open(mod, {**DECISION, "closes_in_seconds": 3600})
        cancel_timer(server.runtime, poll_id)
        async with server.runtime.db.transaction() as s:
            poll = await s.get(Poll, poll_id)
            assert poll is not None
            poll.opened_at = utcnow() - timedelta(hours=2)
        late = await voter.call("vote.cast", {"poll_id": poll_id, "choices": [0]})
        assert late["ok"] is False and late["error"]["code"] == "poll_closed"
        closed = await voter.wait_event("poll.closed", poll_id=poll_id)
        assert closed["payload"]["automatic"] is True and closed["payload"]["result"]["cast"] == 0
    finally:
        await close_all([mod, voter])
