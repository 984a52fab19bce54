"""The room's fold as a pure function: no server, synthetic events."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from realtime.meeting.state import fold
from server.domain.meeting.meeting_log import LoggedEvent
from server.domain.meeting.room_state import CHAT_SNAPSHOT, RoomState

T0 = datetime(2026, 11, 25, 10, 0, tzinfo=UTC)


def base() -> RoomState:
    agenda = [
        {"id": 11, "position": 1, "title": "О плане", "rapporteur": "", "planned_minutes": 10},
        {"id": 12, "position": 2, "title": "Обмен опытом", "rapporteur": "", "planned_minutes": 20},
    ]
    return RoomState.base(
        meeting_id=1, title="Заседание", status="scheduled", locked=False, admission="open", agenda=agenda
    )


class Log:
    def __init__(self) -> None:
        self.events: list[LoggedEvent] = []

    def add(self, type_: str, payload: dict[str, Any], actor: str = "u:1", minutes: float = 0) -> None:
        seq = len(self.events) + 1
        self.events.append(LoggedEvent(1, seq, type_, actor, payload, T0 + timedelta(minutes=minutes)))


def joined(log: Log, key: str, moderator: bool = False) -> None:
    log.add(
        "participant.joined",
        {
            "participant": key,
            "name": key,
            "short_name": key,
            "role": "member",
            "organisation": "",
            "moderator": moderator,
        },
        actor=key,
    )


def test_agenda_time_hands_floor_and_end() -> None:
    log = Log()
    joined(log, "u:1", moderator=True)
    joined(log, "u:2")
    joined(log, "u:3")
    log.add("meeting.started", {})
    log.add("agenda.item.started", {"item_id": 11, "position": 1, "title": "О плане"}, minutes=0)
    log.add("hand.raised", {"participant": "u:3"}, actor="u:3", minutes=1)
    log.add("hand.raised", {"participant": "u:2"}, actor="u:2", minutes=2)
    state = fold(base(), log.events)
    assert state.hands == ["u:3", "u:2"]
    log.add("floor.granted", {"participant": "u:3"}, minutes=3)
    log.add("agenda.item.started", {"item_id": 12, "position": 2, "title": "Обмен опытом"}, minutes=5)
    log.add("agenda.item.started", {"item_id": 11, "position": 1, "title": "О плане"}, minutes=15)
    log.add("agenda.item.ended", {"item_id": 11}, minutes=17)
    state = fold(base(), log.events)
    assert state.hands == ["u:2"] and state.floor == "u:3"
    spent = {i["id"]: i["spent_seconds"] for i in state.agenda}
    assert spent == {11: 7 * 60, 12: 10 * 60}  # 5 + 2 minutes, resumed
    assert state.current_item_id is None
    log.add("meeting.ended", {}, minutes=20)
    state = fold(base(), log.events)
    assert state.status == "ended" and state.floor is None and state.hands == []
    assert not any(p["connected"] for p in state.participants.values())


def test_moderation_flags() -> None:
    log = Log()
    joined(log, "u:1", moderator=True)
    joined(log, "u:2")
    log.add("waiting.entered", {"participant": "g:5", "name": "Гость", "role": "guest"}, actor="g:5")
    state = fold(base(), log.events)
    assert state.waiting == ["g:5"] and not state.participants["g:5"]["admitted"]
    log.add("waiting.admitted", {"participant": "g:5"})
    log.add("participant.promoted", {"participant": "u:2"})
    log.add("hand.raised", {"participant": "u:2"}, actor="u:2")
    log.add("participant.removed", {"participant": "u:2"})
    state = fold(base(), log.events)
    assert state.waiting == [] and state.participants["g:5"]["admitted"]
    assert state.is_removed("u:2") and not state.is_moderator("u:2") and state.hands == []
    log.add("participant.readmitted", {"participant": "u:2"})
    assert fold(base(), log.events).is_moderator("u:2")


def test_snapshot_chat_is_per_viewer_and_bounded() -> None:
    log = Log()
    for i in range(CHAT_SNAPSHOT + 5):
        log.add("chat.message", {"text": f"m{i}", "reply_to": None, "to": None})
    log.add("chat.message", {"text": "лично", "reply_to": None, "to": "u:2"}, actor="u:1")
    state = fold(base(), log.events)
    for viewer, sees in (("u:1", True), ("u:2", True), ("u:3", False)):
        chat = state.snapshot(viewer)["chat"]
        assert len(chat) == CHAT_SNAPSHOT
        assert (chat[-1]["payload"]["text"] == "лично") is sees
    assert state.has_message(log.events[-1].seq)
