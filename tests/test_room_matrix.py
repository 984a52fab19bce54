"""Role x action: every client->server message of the room for a guest, a member, a school-MO
head, a methodist and an administrator. Moderator-only messages are refused with ``forbidden``
for the first three and succeed for the other two."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from realtime.meeting.registry import all_handlers
from tests.support.live import LiveServer
from tests.support.room_seed import ROLES, Cast, seed_cast
from tests.support.sio import RoomClient

OTHER_AREAS = ("poll.", "vote.", "media.", "doc.", "board.", "groups.", "mic.", "screen.")
MODERATOR_ONLY = {
    "meeting.start",
    "meeting.end",
    "meeting.lock",
    "meeting.admission",
    "waiting.admit",
    "waiting.deny",
    "participant.remove",
    "participant.readmit",
    "participant.promote",
    "agenda.start",
    "agenda.end",
    "floor.grant",
    "recording.switch",
    "transcription.switch",
}
EVERYONE = {
    "join",
    "sync",
    "leave",
    "chat.send",
    "hand.raise",
    "hand.lower",
    "floor.end",
    "reaction.send",
    "transcript.list",
}
MODERATORS = {"methodist", "admin"}


def room_messages() -> set[str]:
    return {name for name in all_handlers() if not name.startswith(OTHER_AREAS)}


def test_the_matrix_covers_every_room_message() -> None:
    assert room_messages() == MODERATOR_ONLY | EVERYONE
    for name in MODERATOR_ONLY:
        assert all_handlers()[name].moderator


@pytest.fixture
async def cast(server: LiveServer) -> AsyncIterator[Cast]:
    cast = await seed_cast(server.runtime.db, server.url, server.runtime.secret_key)
    yield cast
    await cast.close_all(server.runtime.sio)


class Check:
    """Sends one message as the role under test and records the outcome per message name."""

    def __init__(self, actor: RoomClient, moderator: bool) -> None:
        self.actor = actor
        self.moderator = moderator
        self.seen: dict[str, list[str]] = {}

    async def send(
        self, name: str, payload: dict[str, object] | None = None, *, moderated: bool = False
    ) -> bool:
        """``moderated``: this use of an everyone-message acts on someone else."""
        ack = await self.actor.emit_ack(name, payload or {})
        outcome = "ok" if ack["ok"] else ack["error"]["code"]
        self.seen.setdefault(name, []).append(outcome)
        restricted = name in MODERATOR_ONLY or moderated
        expected = "forbidden" if (restricted and not self.moderator) else "ok"
        assert outcome == expected, (name, payload, ack)
        return bool(ack["ok"])


@pytest.mark.parametrize("role", ROLES)
async def test_role_action_matrix(cast: Cast, role: str) -> None:
    m = cast.meeting.id
    host, _ = await cast.joined("methodist") if role != "methodist" else await cast.joined("admin")
    teacher, _ = await cast.joined("teacher2")
    actor = await cast.client(role).connect()
    check = Check(actor, role in MODERATORS)
    await check.send("join", {"meeting_id": m})
    await check.send("sync", {"last_seq": 0})
    items = (await actor.ok("join", {"meeting_id": m}))["state"]["agenda"]

    if not await check.send("meeting.start"):
        await host.ok("meeting.start")
    await check.send("chat.send", {"text": f"{role}: добрый день"})
    await check.send("hand.raise")
    await check.send("hand.lower")
    await teacher.ok("hand.raise")
    if not await check.send("hand.lower", {"participant": cast.key("teacher2")}, moderated=True):
        await host.ok("hand.lower", {"participant": cast.key("teacher2")})
    if not await check.send("floor.grant", {"participant": cast.key("teacher2")}):
        await host.ok("floor.grant", {"participant": cast.key("teacher2")})
    if not await check.send("floor.end", moderated=True):  # someone else's floor
        await host.ok("floor.end")
    if not check.moderator:
        await host.ok("floor.grant", {"participant": cast.key(role)})
        await check.send("floor.end")  # one's own floor may be yielded
    if not await check.send("agenda.start", {"item_id": items[0]["id"]}):
        await host.ok("agenda.start", {"item_id": items[0]["id"]})
    await check.send("agenda.end")
    await check.send("meeting.lock", {"locked": True})
    await check.send("meeting.lock", {"locked": False})
    await check.send("meeting.admission", {"admission": "guests"})
    await check.send("participant.promote", {"participant": cast.key("teacher2")})
    await check.send("participant.remove", {"participant": cast.key("teacher2")})
    if not check.moderator:
        await host.ok("participant.remove", {"participant": cast.key("teacher2")})
    await check.send("participant.readmit", {"participant": cast.key("teacher2")})

    await host.ok("meeting.admission", {"admission": "everyone"})
    for knocker in ("teacher3", "teacher4"):
        k = await cast.client(knocker).connect()
        assert (await k.ok("join", {"meeting_id": m}))["status"] == "waiting"
    await check.send("waiting.admit", {"participant": cast.key("teacher3")})
    await check.send("waiting.deny", {"participant": cast.key("teacher4")})
    await check.send("recording.switch", {"on": True})
    await check.send("recording.switch", {"on": False})
    await check.send("transcription.switch", {"on": False})  # already off: no engine needed
    await check.send("reaction.send", {"kind": "applause"})
    await check.send("transcript.list")
    await check.send("meeting.end")
    await check.send("leave")
    assert set(check.seen) == room_messages()
