"""The live room's state as a pure fold over the meeting's event log.

``RoomState.base(...)`` starts from the meeting's row and agenda; ``apply(event)`` advances it
by one logged event. The same fold gives a late joiner's snapshot, a reconnect's state and the
permission checks of domain actions (who is removed, waiting, a co-moderator, holding the floor).
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Any, Generic, TypeVar

from server.domain.meeting import group_fold
from server.domain.meeting.meeting_log import LoggedEvent

if TYPE_CHECKING:
    from server.db.models import MeetingGuest, User

T = TypeVar("T")
CHAT_SNAPSHOT = 200
CHAT_KEPT = 1000


@dataclass(frozen=True, slots=True)
class Actor:
    """The person acting: a user or a guest, named by the participant key."""

    key: str
    user: User | None = None
    guest: MeetingGuest | None = None
    office_moderator: bool = False


@dataclass
class Outcome(Generic[T]):
    """What a domain action returns: the events to broadcast (after commit) and a value."""

    events: list[LoggedEvent] = field(default_factory=list)
    value: T | None = None


def iso(at: datetime | None) -> str | None:
    return at.isoformat().replace("+00:00", "Z") if at is not None else None


def parse_iso(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


def visible_to(event: dict[str, Any], viewer: str | None, state: RoomState | None = None) -> bool:
    """Private chat messages are seen by their sender and recipient only; a breakout group's
    messages by those who have been in the group and the meeting's moderators (``state``: the
    meeting's fold; without it, by the sender only)."""
    if event["type"] != "chat.message":
        return True
    payload = event["payload"]
    to = payload.get("to")
    if to is not None:
        return viewer in (to, event["actor"])
    group = payload.get("group")
    if group is None or viewer == event["actor"]:
        return True
    return (
        state is not None
        and viewer is not None
        and (state.groups.may_read(group, viewer) or state.is_moderator(viewer))
    )


class RoomState:
    def __init__(self, meeting: dict[str, Any], agenda: list[dict[str, Any]]) -> None:
        self.meeting = meeting
        self.agenda = agenda
        self.last_seq = 0
        self.current_item_id: int | None = None
        self.participants: dict[str, dict[str, Any]] = {}
        self.waiting: list[str] = []
        self.hands: list[str] = []
        self.floor: str | None = None
        self.speaking: list[str] = []
        self.polls: dict[int, dict[str, Any]] = {}
        self.chat: deque[dict[str, Any]] = deque(maxlen=CHAT_KEPT)
        self.chat_seqs: set[int] = set()
        self._item_since: dict[int, datetime] = {}
        self.groups = group_fold.Groups()  # breakout groups (docs/groups.md)
        self.stamp: object = None  # identifies the meeting row the fold belongs to (cache check)

    @classmethod
    def base(
        cls,
        *,
        meeting_id: int,
        title: str,
        status: str,
        locked: bool,
        admission: str,
        agenda: list[dict[str, Any]],
    ) -> RoomState:
        meeting = {
            "id": meeting_id,
            "title": title,
            "status": status,
            "started_at": None,
            "ended_at": None,
            "locked": locked,
            "admission": admission,
            "transcription": False,  # transcription.switched: «Ведётся расшифровка»
            "recording": False,  # recording.switched: «Идёт запись»
        }
        items = [{**item, "started_at": None, "ended_at": None, "spent_seconds": 0} for item in agenda]
        return cls(meeting, items)

    # --- queries --------------------------------------------------------------------------
    @property
    def status(self) -> str:
        return str(self.meeting["status"])

    @property
    def recording(self) -> bool:
        return bool(self.meeting.get("recording"))

    def is_moderator(self, key: str) -> bool:
        person = self.participants.get(key)
        return bool(person and person["moderator"] and not person["removed"])

    def is_removed(self, key: str) -> bool:
        person = self.participants.get(key)
        return bool(person and person["removed"])

    def is_connected(self, key: str) -> bool:
        person = self.participants.get(key)
        return bool(person and person["connected"])

    def item(self, item_id: int) -> dict[str, Any] | None:
        return next((i for i in self.agenda if i["id"] == item_id), None)

    def has_message(self, seq: int) -> bool:
        return seq in self.chat_seqs

    def snapshot(self, viewer: str | None) -> dict[str, Any]:
        chat = [e for e in self.chat if visible_to(e, viewer, self)][-CHAT_SNAPSHOT:]
        return {
            "meeting": dict(self.meeting),
            "last_seq": self.last_seq,
            "agenda": [dict(i) for i in self.agenda],
            "current_item_id": self.current_item_id,
            "participants": {k: dict(v) for k, v in self.participants.items()},
            "waiting": list(self.waiting),
            "hands": list(self.hands),
            "floor": self.floor,
            "speaking": list(self.speaking),
            "polls": {str(k): dict(v) for k, v in self.polls.items()},
            "chat": chat,
            "groups": self.groups.snapshot(),
        }

    # --- the fold -------------------------------------------------------------------------
    def apply(self, event: LoggedEvent) -> None:
        self.last_seq = event.seq
        handler = _APPLY.get(event.type)
        if handler is not None:
            handler(self, event, event.payload)

    def apply_all(self, events: list[LoggedEvent]) -> RoomState:
        for event in events:
            self.apply(event)
        return self

    def _person(self, key: str) -> dict[str, Any]:
        return self.participants.setdefault(
            key,
            {
                "name": key,
                "short_name": key,
                "role": "guest" if key.startswith("g:") else "member",
                "organisation": "",
                "moderator": False,
                "connected": False,
                "hand_raised_at": None,
                "removed": False,
                "waiting": False,
                "admitted": False,
            },
        )

    def _drop_hand(self, key: str) -> None:
        if key in self.hands:
            self.hands.remove(key)
        if key in self.participants:
            self.participants[key]["hand_raised_at"] = None

    def _end_item(self, item_id: int, at: datetime) -> None:
        item = self.item(item_id)
        since = self._item_since.pop(item_id, None)
        if item is not None:
            item["ended_at"] = iso(at)
            if since is not None:
                item["spent_seconds"] += int((at - since).total_seconds())
        if self.current_item_id == item_id:
            self.current_item_id = None


def _started(s: RoomState, e: LoggedEvent, p: dict[str, Any]) -> None:
    s.meeting.update(status="live", started_at=iso(e.at))


def _ended(s: RoomState, e: LoggedEvent, p: dict[str, Any]) -> None:
    s.meeting.update(status="ended", ended_at=iso(e.at))
    if s.current_item_id is not None:
        s._end_item(s.current_item_id, e.at)
    s.floor = None
    s.hands.clear()
    s.speaking.clear()
    group_fold.meeting_ended(s, e.at)
    for person in s.participants.values():
        person["connected"] = False
        person["hand_raised_at"] = None


def _joined(s: RoomState, e: LoggedEvent, p: dict[str, Any]) -> None:
    person = s._person(p["participant"])
    person.update(
        name=p["name"],
        short_name=p["short_name"],
        role=p["role"],
        organisation=p.get("organisation", ""),
        moderator=person["moderator"] or p.get("moderator", False),
        office_moderator=person.get("office_moderator", False) or p.get("moderator", False),
        connected=True,
        waiting=False,
        admitted=True,
    )
    if p["participant"] in s.waiting:
        s.waiting.remove(p["participant"])


def _left(s: RoomState, e: LoggedEvent, p: dict[str, Any]) -> None:
    key = p["participant"]
    s._person(key)["connected"] = False
    s._drop_hand(key)
    if key in s.speaking:
        s.speaking.remove(key)


def _waiting(s: RoomState, e: LoggedEvent, p: dict[str, Any]) -> None:
    person = s._person(p["participant"])
    if not person["connected"]:
        person.update(name=p["name"], short_name=p.get("short_name") or p["name"], role=p["role"])
    person["waiting"] = True
    if p["participant"] not in s.waiting:
        s.waiting.append(p["participant"])


def _admitted(s: RoomState, e: LoggedEvent, p: dict[str, Any]) -> None:
    person = s._person(p["participant"])
    person.update(waiting=False, admitted=True)
    if p["participant"] in s.waiting:
        s.waiting.remove(p["participant"])


def _denied(s: RoomState, e: LoggedEvent, p: dict[str, Any]) -> None:
    s._person(p["participant"])["waiting"] = False
    if p["participant"] in s.waiting:
        s.waiting.remove(p["participant"])


def _removed(s: RoomState, e: LoggedEvent, p: dict[str, Any]) -> None:
    key = p["participant"]
    s._person(key).update(removed=True, waiting=False, admitted=False)
    s._drop_hand(key)
    if key in s.waiting:
        s.waiting.remove(key)
    if s.floor == key:
        s.floor = None


def _readmitted(s: RoomState, e: LoggedEvent, p: dict[str, Any]) -> None:
    s._person(p["participant"]).update(removed=False)


def _promoted(s: RoomState, e: LoggedEvent, p: dict[str, Any]) -> None:
    s._person(p["participant"]).update(moderator=True, promoted=True)


def _locked(s: RoomState, e: LoggedEvent, p: dict[str, Any]) -> None:
    s.meeting["locked"] = p["locked"]


def _admission(s: RoomState, e: LoggedEvent, p: dict[str, Any]) -> None:
    s.meeting["admission"] = p["admission"]


def _chat(s: RoomState, e: LoggedEvent, p: dict[str, Any]) -> None:
    if len(s.chat) == s.chat.maxlen:
        s.chat_seqs.discard(s.chat[0]["seq"])
    s.chat.append(e.to_wire())
    s.chat_seqs.add(e.seq)


def _hand_raised(s: RoomState, e: LoggedEvent, p: dict[str, Any]) -> None:
    key = p["participant"]
    if key not in s.hands:
        s.hands.append(key)
        s._person(key)["hand_raised_at"] = iso(e.at)


def _hand_lowered(s: RoomState, e: LoggedEvent, p: dict[str, Any]) -> None:
    s._drop_hand(p["participant"])


def _floor_granted(s: RoomState, e: LoggedEvent, p: dict[str, Any]) -> None:
    s.floor = p["participant"]
    s._drop_hand(p["participant"])


def _floor_ended(s: RoomState, e: LoggedEvent, p: dict[str, Any]) -> None:
    if s.floor == p["participant"]:
        s.floor = None


def _speech_started(s: RoomState, e: LoggedEvent, p: dict[str, Any]) -> None:
    if p["participant"] not in s.speaking:
        s.speaking.append(p["participant"])


def _speech_ended(s: RoomState, e: LoggedEvent, p: dict[str, Any]) -> None:
    if p["participant"] in s.speaking:
        s.speaking.remove(p["participant"])


def _item_started(s: RoomState, e: LoggedEvent, p: dict[str, Any]) -> None:
    if s.current_item_id is not None and s.current_item_id != p["item_id"]:
        s._end_item(s.current_item_id, e.at)
    item = s.item(p["item_id"])
    if item is not None:
        item["started_at"] = item["started_at"] or iso(e.at)
        item["ended_at"] = None
    s._item_since[p["item_id"]] = e.at
    s.current_item_id = p["item_id"]


def _item_ended(s: RoomState, e: LoggedEvent, p: dict[str, Any]) -> None:
    s._end_item(p["item_id"], e.at)


def _poll_created(s: RoomState, e: LoggedEvent, p: dict[str, Any]) -> None:
    s.polls[p["poll_id"]] = {**p, "status": "draft", "ballots": 0}


def _poll_opened(s: RoomState, e: LoggedEvent, p: dict[str, Any]) -> None:
    if p["poll_id"] in s.polls:
        s.polls[p["poll_id"]].update(status="open", opened_at=iso(e.at))


def _vote_cast(s: RoomState, e: LoggedEvent, p: dict[str, Any]) -> None:
    if p["poll_id"] in s.polls:
        s.polls[p["poll_id"]]["ballots"] = p["ballots"]


def _poll_closed(s: RoomState, e: LoggedEvent, p: dict[str, Any]) -> None:
    if p["poll_id"] in s.polls:
        s.polls[p["poll_id"]].update(
            status="closed", result=p["result"], ballots=p["result"]["cast"], closed_at=iso(e.at)
        )


def _switched(s: RoomState, e: LoggedEvent, p: dict[str, Any]) -> None:
    s.meeting[e.type.split(".")[0]] = bool(p["on"])


_APPLY = {
    "meeting.started": _started,
    "meeting.ended": _ended,
    "participant.joined": _joined,
    "participant.left": _left,
    "waiting.entered": _waiting,
    "waiting.admitted": _admitted,
    "waiting.denied": _denied,
    "participant.removed": _removed,
    "participant.readmitted": _readmitted,
    "participant.promoted": _promoted,
    "meeting.locked": _locked,
    "meeting.admission": _admission,
    "chat.message": _chat,
    "hand.raised": _hand_raised,
    "hand.lowered": _hand_lowered,
    "floor.granted": _floor_granted,
    "floor.ended": _floor_ended,
    "speech.started": _speech_started,
    "speech.ended": _speech_ended,
    "agenda.item.started": _item_started,
    "agenda.item.ended": _item_ended,
    "poll.created": _poll_created,
    "poll.opened": _poll_opened,
    "vote.cast": _vote_cast,
    "poll.closed": _poll_closed,
    "transcription.switched": _switched,
    "recording.switched": _switched,
    **group_fold.APPLY,
}
