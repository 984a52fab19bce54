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

from server import names
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
        "transcript.segment",  # the transcriber may finish after the end
    }
)
# poll.closed reasons: the meeting's end closed a poll still open (an unfinished vote).
INTERRUPTED = "meeting_ended"

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
    interrupted: bool = False  # closed by the meeting's end: not a completed vote
    legacy_automatic: bool = False  # automatic close written before closes carried a reason


@dataclass(slots=True)
class Segment:
    """A transcribed stretch of one speaker (``transcript.segment``)."""

    seq: int
    participant: str
    started: datetime
    ended: datetime
    text: str


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
    # (item id, participant) -> (moment, seq) they first spoke on the item (orally)
    first_spoke: dict[tuple[int | None, str], tuple[datetime, int]] = field(default_factory=dict)
    # (moment, item id) whenever the current item changes, from the start on
    item_changes: list[tuple[datetime, int | None]] = field(default_factory=list)
    segments: list[Segment] = field(default_factory=list)
    chat: list[Chat] = field(default_factory=list)
    polls: dict[int, Poll] = field(default_factory=dict)
    documents: dict[int, tuple[str, str]] = field(default_factory=dict)
    boards: dict[int, dict[str, Any]] = field(default_factory=dict)  # a board's last description
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


def _moment(value: Any) -> datetime | None:
    if isinstance(value, datetime):
        return value
    if isinstance(value, str):
        try:
            moment = datetime.fromisoformat(value)
        except ValueError:
            return None
        return moment if moment.tzinfo is not None else None
    return None


def item_at(state: LogState, moment: datetime) -> int | None:
    """The agenda item being considered at ``moment`` (the first one before any was taken up)."""
    current = state.item_changes[0][1] if state.item_changes else None
    for at, item in state.item_changes:
        if at > moment:
            break
        current = item
    return current


def _segment(e: LoggedEvent, p: dict[str, Any]) -> Segment | None:
    # The transcript feature's payload: participant, started_at, ended_at, text (who/from/to
    # are read too, so an early shape of the event is not lost).
    who = _payload_str(p, "participant") or _payload_str(p, "who") or (e.actor if e.actor != "system" else "")
    started = _moment(p.get("started_at", p.get("from")))
    ended = _moment(p.get("ended_at", p.get("to")))
    text = " ".join(_payload_str(p, "text").split())
    if not who or started is None or not text:
        return None
    return Segment(e.seq, who, started, ended if ended is not None and ended >= started else started, text)


def _mark_legacy_interruptions(state: LogState, ordered: Sequence[LoggedEvent], ended_seq: int) -> None:
    """Logs written before poll.closed carried a reason: an automatic close followed only by the
    meeting's closing events is the end closing an open poll."""
    types = {e.seq: e.type for e in ordered}
    for poll in state.polls.values():
        if poll.legacy_automatic and poll.closed_seq is not None and poll.closed_seq < ended_seq:
            between = (types.get(s) for s in range(poll.closed_seq + 1, ended_seq))
            if all(t is None or t in _CLOSING for t in between):
                poll.interrupted = True


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
        state.first_spoke.setdefault((current, participant), (at, seq))

    state.item_changes.append((start, current))

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
            person.role = _payload_str(p, "role") or person.role
            typed = _payload_str(p, "name") or person.full_name or who
            if person.role == "guest" or who.startswith("g:"):
                # A guest's name is typed text: parsed, so it reads «И.О. Фамилия» like everyone's.
                parsed = names.parse_name(typed)
                person.full_name, person.short_name = parsed.full or typed, parsed.short or typed
            else:
                person.full_name = typed
                person.short_name = _payload_str(p, "short_name") or names.short_from_full(typed)
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
            state.item_changes.append((e.at, current))
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
                poll.interrupted = p.get("reason") == INTERRUPTED
                poll.legacy_automatic = p.get("automatic") is True and p.get("reason") is None
        elif t == "transcript.segment":
            segment = _segment(e, p)
            if segment is not None:
                state.segments.append(segment)
        elif t == "doc.snapshot" and isinstance(p.get("doc_id"), int):
            state.documents[p["doc_id"]] = (_payload_str(p, "title"), _payload_str(p, "text"))
            if p.get("kind") == "board" and isinstance(p.get("board"), dict):
                state.boards[p["doc_id"]] = p["board"]

    for who, since in joined.items():
        interval = clip(since, end)
        if interval is not None and who in state.people:
            state.people[who].intervals.append(interval)
    for participant, source in list(speaking_open):
        close_speech(participant, source, end)
    if ended is not None:
        _mark_legacy_interruptions(state, ordered, ended.seq)
    for seg in state.segments:  # a transcribed speaker spoke, even without a floor event
        if start <= seg.started <= end:
            key = (item_at(state, seg.started), seg.participant)
            state.first_spoke[key] = min(
                state.first_spoke.get(key, (seg.started, seg.seq)), (seg.started, seg.seq)
            )
    if ignored:
        state.notes.append(
            f"После окончания заседания в журнале {ignored} "
            f"{ru.plural(ignored, 'событие', 'события', 'событий')}; в протокол они не включены."
        )
    return state


def merged(intervals: Sequence[Interval]) -> list[Interval]:
    """The union of the intervals as disjoint intervals, in time order (touching ones join)."""
    out: list[Interval] = []
    for a, b in sorted(intervals):
        if out and a <= out[-1][1]:
            if b > out[-1][1]:
                out[-1] = (out[-1][0], b)
        else:
            out.append((a, b))
    return out


def merged_seconds(intervals: Sequence[Interval]) -> int:
    """Total length of the union of the intervals, in whole seconds."""
    return round(sum((b - a).total_seconds() for a, b in merged(intervals)))
