"""The browser's fold of meeting events (static/js/room/state.js) against the server's
(server/domain/meeting/room_state.py): a scripted log with every event type, compared after each
event, for two viewers (private messages differ), in real headless Chromium."""

from __future__ import annotations

from typing import Any

from server.domain.meeting.meeting_log import LoggedEvent
from server.domain.meeting.room_state import RoomState, visible_to
from tests.support.browser import chromium, open_tab
from tests.support.live import LiveServer
from tests.support.logs import LogBuilder, person
from tests.test_room_browser import browser_test, comparable

FOLD_IN_PAGE = """async (events) => {
    const { fromSnapshot, applyEvent } = await import("/static/js/room/state.js");
    const [snapshot, wire] = events;
    const state = fromSnapshot(snapshot.meeting.id, snapshot);
    return wire.map((ev) => { applyEvent(state, ev); return JSON.parse(JSON.stringify(state)); });
}"""


def scripted_log() -> list[LoggedEvent]:
    """Every event type, in the orders that are easy to get wrong."""
    log = LogBuilder()
    m, t1, t2 = (person(i).key for i in range(3))
    g = "g:7"

    def add(type_: str, payload: dict[str, Any] | None = None, actor: str = "system") -> None:
        log.add(type_, payload, actor)

    def joined(key: str, role: str = "member", moderator: bool = False) -> None:
        p = person(int(key[2:]) - 1)
        payload = {"participant": key, "name": p.full_name, "short_name": p.short_name, "role": role}
        add("participant.joined", {**payload, "organisation": p.organisation, "moderator": moderator}, key)

    joined(m, "methodist", moderator=True)
    joined(t1)
    add("waiting.entered", {"participant": t2, "name": person(2).full_name, "role": "member"}, t2)
    add("waiting.entered", {"participant": g, "name": "Гость Гостевич", "role": "guest"}, g)
    add("waiting.admitted", {"participant": t2}, m)
    joined(t2)
    add("waiting.denied", {"participant": g}, m)
    add("chat.message", {"text": "до начала"}, t1)
    add("meeting.started", {}, m)
    log.at(1)
    add("agenda.item.started", {"item_id": 101, "position": 1, "title": "Первый"}, m)
    log.at(3.5)
    add("hand.raised", {"participant": t1}, t1)
    add("hand.raised", {"participant": t2}, t2)
    add("hand.raised", {"participant": t1}, t1)
    add("floor.granted", {"participant": t1}, m)
    add("speech.started", {"participant": t1})
    log.at(4.25)
    add("speech.ended", {"participant": t1})
    add("chat.message", {"text": "лично", "to": m}, t2)
    add("chat.message", {"text": "чужое лично", "to": t2}, t1)
    add("chat.message", {"text": "ответ", "reply_to": 8}, m)
    add("agenda.item.started", {"item_id": 102, "position": 2, "title": "Второй"}, m)
    log.at(6)
    add("floor.ended", {"participant": t1}, m)
    add("meeting.locked", {"locked": True}, m)
    add("meeting.admission", {"admission": "everyone"}, m)
    add("participant.promoted", {"participant": t2}, m)
    add("floor.granted", {"participant": t2}, m)
    add("participant.removed", {"participant": t2}, m)
    add("participant.left", {"participant": t2, "reason": "removed"}, t2)
    add("participant.readmitted", {"participant": t2}, m)
    joined(t2)
    log.at(7)
    add("agenda.item.ended", {"item_id": 102}, m)
    log.at(8)
    add("agenda.item.started", {"item_id": 101, "position": 1, "title": "Первый"}, m)
    log.at(9.75)
    options = ["за", "против", "воздержались"]
    add("poll.created", {"poll_id": 5, "question": "Утвердить?", "kind": "decision", "options": options}, m)
    add("poll.opened", {"poll_id": 5}, m)
    add("vote.cast", {"poll_id": 5, "ballots": 1, "voter": t1, "choices": [0]}, t1)
    add("vote.cast", {"poll_id": 5, "ballots": 2})
    result = {
        "eligible": 3,
        "present": 3,
        "cast": 2,
        "counts": [2, 0, 0],
        "quorum": True,
        "outcome": "accepted",
    }
    add("poll.closed", {"poll_id": 5, "result": result}, m)
    add("mic.muted", {"participant": None, "locked": True}, m)
    add("mic.unlocked", {}, m)
    add("screen.started", {"participant": m}, m)
    add("screen.stopped", {"participant": m}, m)
    add("doc.snapshot", {"doc_id": 1, "title": "Протокол", "text": "…"})
    add("hand.raised", {"participant": t2}, t2)
    add("participant.left", {"participant": t1, "reason": "left"}, t1)
    log.at(12)
    add("meeting.ended", {}, m)
    return log.events


@browser_test
async def test_the_page_folds_events_exactly_as_the_server(server: LiveServer) -> None:
    """static/js/room/state.js against server/domain/meeting/room_state.py, event by event."""
    events = scripted_log()
    agenda = [
        {"id": 101, "position": 1, "title": "Первый", "rapporteur": "", "planned_minutes": 10},
        {"id": 102, "position": 2, "title": "Второй", "rapporteur": "", "planned_minutes": 5},
    ]

    def base() -> RoomState:
        return RoomState.base(
            meeting_id=1,
            title="Заседание",
            status="scheduled",
            locked=False,
            admission="guests",
            agenda=agenda,
        )

    async with chromium() as browser:
        tab = await open_tab(browser)
        try:
            await tab.page.goto(f"{server.url}/healthz")
            for viewer in (person(0).key, person(2).key):
                visible = [e for e in events if visible_to(e.to_wire(), viewer)]
                start = base().snapshot(viewer)
                folded = await tab.page.evaluate(FOLD_IN_PAGE, [start, [e.to_wire() for e in visible]])
                server_state = base()
                for event, page_state in zip(visible, folded, strict=True):
                    server_state.apply(event)
                    expected = comparable(server_state.snapshot(viewer))
                    assert comparable(page_state) == expected, f"after {event.seq} {event.type} for {viewer}"
            tab.assert_clean()
        finally:
            await tab.close()
