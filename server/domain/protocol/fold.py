"""One pass over a meeting's event log, collecting what the protocol is made of.

Tolerant by design: the log may have gaps, may lack its start or end, may go on after the
end, may hold polls that were never closed. Nothing here raises on odd input; what is
missing is written down in ``notes`` so the protocol can name it.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from server.domain.meeting.meeting_log import LoggedEvent
from server.domain.protocol import russian as ru

# Events that naturally follow meeting.ended (closing what was open); others are ignored there.
_CLOSING = frozenset(
    {
        "meeting.ended",
        "participant.left",
        "floor.ended",
        "speech.ended",
        "agenda.item.ended",
        "poll.closed",
        "doc.snapshot",
        "hand.lowered",
        "screen.stopped",
    }
)

Interval = tuple[datetime, datetime]


@dataclass(slots=True)
class Person:
    key: str
    full_name: str
    short_name: str
    role: str
    organisation: str
    intervals: list[Interval] = field(default_factory=list)


@dataclass(slots=True)
class Poll:
    poll_id: int
    seq: int
    question: str
    kind: str
    options: list[str]
    secret: bool
    agenda_item_id: int | None
    decision_text: str
    item_at_creation: int | None
    ballots: dict[str, list[int]] = field(default_factory=dict)
    cast: int = 0
    result: dict[str, Any] | None = None
    closed_seq: int | None = None
    item_at_close: int | None = None


@dataclass(slots=True)
class Chat:
    seq: int
    at: datetime
    participant: str
    text: str
    item: int | None


@dataclass(slots=True)
class LogState:
    start: datetime | None = None
    end: datetime | None = None
    people: dict[str, Person] = field(default_factory=dict)
    # (item id, participant) -> speaking intervals (floor and detected speech, unmerged)
    speaking: dict[tuple[int | None, str], list[Interval]] = field(default_factory=dict)
    first_spoke: dict[tuple[int | None, str], int] = field(default_factory=dict)
    chat: list[Chat] = field(default_factory=list)
    polls: dict[int, Poll] = field(default_factory=dict)
    documents: dict[int, tuple[str, str]] = field(default_factory=dict)
    started_items: set[int] = field(default_factory=set)
    notes: list[str] = field(default_factory=list)


def _gaps(events: Sequence[LoggedEvent]) -> list[str]:
    notes: list[str] = []
    expected = 1
    for e in events:
        if e.seq > expected:
            lo, hi = expected, e.seq - 1
            if lo == hi:
                notes.append(f"В журнале заседания отсутствует событие № {lo}.")
            else:
                notes.append(f"В журнале заседания отсутствуют события № {lo}–{hi}.")
        expected = max(expected, e.seq + 1)
    return notes


def as_int(value: Any) -> int:
    return value if isinstance(value, int) and not isinstance(value, bool) else 0


def number_list(value: Any) -> list[int]:
    return [as_int(v) for v in value] if isinstance(value, list) else []


def _payload_str(payload: dict[str, Any], name: str) -> str:
    value = payload.get(name)
    return value if isinstance(value, str) else ""


def fold_log(events: Sequence[LoggedEvent], first_item: int | None) -> LogState:
    state = LogState()
    seen: set[int] = set()
    ordered = []
    for e in sorted(events, key=lambda ev: ev.seq):
        if e.seq not in seen:  # a duplicated seq is read once
            seen.add(e.seq)
            ordered.append(e)
    state.notes.extend(_gaps(ordered))
    if not ordered:
        state.notes.append("Журнал заседания пуст.")
        return state

    started = next((e for e in ordered if e.type == "meeting.started"), None)
    ended = next((e for e in ordered if e.type == "meeting.ended"), None)
    state.start = started.at if started else ordered[0].at
    if started is None:
        state.notes.append(
            "В журнале нет отметки о начале заседания; началом считается время первого события "
            f"({ru.time_text(state.start)})."
        )
    if ended is not None:
        state.end = ended.at
    else:
        state.end = ordered[-1].at
        state.notes.append(
            "В журнале нет отметки об окончании заседания; окончанием считается время последнего "
            f"события ({ru.time_text(state.end)})."
        )
    start, end = state.start, max(state.end, state.start)
    state.end = end

    def clip(a: datetime, b: datetime) -> Interval | None:
        a, b = max(a, start), min(b, end)
        return (a, b) if b > a else None

    current: int | None = first_item
    joined: dict[str, datetime] = {}
    speaking_open: dict[tuple[str, str], datetime] = {}  # (participant, source) -> since
    ignored = 0

    def close_speech(participant: str, source: str, at: datetime) -> None:
        since = speaking_open.pop((participant, source), None)
        if since is not None:
            interval = clip(since, at)
            if interval is not None:
                state.speaking.setdefault((current, participant), []).append(interval)

    def open_speech(participant: str, source: str, at: datetime, seq: int) -> None:
        speaking_open.setdefault((participant, source), at)
        state.first_spoke.setdefault((current, participant), seq)

    for e in ordered:
        p = e.payload if isinstance(e.payload, dict) else {}
        if ended is not None and e.seq > ended.seq and e.type not in _CLOSING:
            ignored += 1
            continue
        t = e.type
        who = _payload_str(p, "participant")
        if t == "participant.joined" and who:
            person = state.people.get(who)
            if person is None:
                person = state.people[who] = Person(who, "", "", "", "")
            person.full_name = _payload_str(p, "name") or person.full_name or who
            person.short_name = _payload_str(p, "short_name") or ru.short_name(person.full_name)
            person.role = _payload_str(p, "role") or person.role
            person.organisation = _payload_str(p, "organisation") or person.organisation
            joined.setdefault(who, e.at)
        elif t == "participant.left" and who:
            since = joined.pop(who, None)
            if since is not None and who in state.people:
                interval = clip(since, e.at)
                if interval is not None:
                    state.people[who].intervals.append(interval)
            for source in ("floor", "speech"):
                close_speech(who, source, e.at)
        elif t in ("floor.granted", "speech.started") and who:
            open_speech(who, t.split(".")[0], e.at, e.seq)
        elif t in ("floor.ended", "speech.ended") and who:
            close_speech(who, t.split(".")[0], e.at)
        elif t == "agenda.item.started" and isinstance(p.get("item_id"), int):
            reopen = list(speaking_open)
            for participant, source in reopen:
                close_speech(participant, source, e.at)
            current = p["item_id"]
            state.started_items.add(p["item_id"])
            for participant, source in reopen:
                open_speech(participant, source, e.at, e.seq)
        elif t == "chat.message" and p.get("to") is None and isinstance(p.get("text"), str):
            state.chat.append(Chat(e.seq, e.at, e.actor, p["text"], current))
        elif t == "poll.created" and isinstance(p.get("poll_id"), int):
            state.polls[p["poll_id"]] = Poll(
                poll_id=p["poll_id"],
                seq=e.seq,
                question=_payload_str(p, "question"),
                kind=_payload_str(p, "kind") or "single",
                options=[str(o) for o in p["options"]] if isinstance(p.get("options"), list) else [],
                secret=bool(p.get("secret")),
                agenda_item_id=p.get("agenda_item_id") if isinstance(p.get("agenda_item_id"), int) else None,
                decision_text=_payload_str(p, "decision_text"),
                item_at_creation=current,
            )
        elif t == "vote.cast" and as_int(p.get("poll_id")) in state.polls:
            poll = state.polls[p["poll_id"]]
            if poll.closed_seq is None:
                poll.cast = max(poll.cast, as_int(p.get("ballots")))
                voter, choices = p.get("voter"), p.get("choices")
                if not poll.secret and isinstance(voter, str) and isinstance(choices, list):
                    poll.ballots[voter] = [c for c in choices if isinstance(c, int)]
        elif t == "poll.closed" and as_int(p.get("poll_id")) in state.polls:
            poll = state.polls[p["poll_id"]]
            if poll.closed_seq is None and isinstance(p.get("result"), dict):
                poll.result = p["result"]
                poll.closed_seq = e.seq
                poll.item_at_close = current
        elif t == "doc.snapshot" and isinstance(p.get("doc_id"), int):
            state.documents[p["doc_id"]] = (_payload_str(p, "title"), _payload_str(p, "text"))

    for who, since in joined.items():
        interval = clip(since, end)
        if interval is not None and who in state.people:
            state.people[who].intervals.append(interval)
    for participant, source in list(speaking_open):
        close_speech(participant, source, end)
    if ignored:
        state.notes.append(
            f"После окончания заседания в журнале {ignored} "
            f"{ru.plural(ignored, 'событие', 'события', 'событий')}; в протокол они не включены."
        )
    return state


def merged_seconds(intervals: Sequence[Interval]) -> int:
    """Total length of the union of the intervals, in whole seconds."""
    total = 0.0
    cur_a: datetime | None = None
    cur_b: datetime | None = None
    for a, b in sorted(intervals):
        if cur_b is None or a > cur_b:
            if cur_a is not None and cur_b is not None:
                total += (cur_b - cur_a).total_seconds()
            cur_a, cur_b = a, b
        elif b > cur_b:
            cur_b = b
    if cur_a is not None and cur_b is not None:
        total += (cur_b - cur_a).total_seconds()
    return round(total)
