"""A small builder of scripted meeting event logs for the protocol tests and benchmark.

Every payload is checked against the event catalogue (server/domain/meeting/events.py), so the
scripts stay in step with what the live room really writes.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from server.domain.meeting.events import EVENT_TYPES, validate_payload
from server.domain.meeting.meeting_log import LoggedEvent
from server.domain.protocol.model import AgendaEntry, MeetingInfo, Member

# 10:00 Moscow time on 25 November 2026.
START = datetime(2026, 11, 25, 7, 0, tzinfo=UTC)

LAST_NAMES = (
    "Абрамова", "Белов", "Васильева", "Григорьев", "Дмитриева", "Егоров", "Жукова", "Зайцев",
    "Ильина", "Козлов", "Лебедева", "Морозов", "Новикова", "Орлов", "Павлова", "Романов",
    "Соколова", "Тарасов", "Устинова", "Фёдоров", "Харитонова", "Цветков", "Чернова", "Шестаков",
)  # fmt: skip
FIRST_NAMES = (("Анна", "Сергеевна"), ("Борис", "Петрович"), ("Вера", "Ивановна"), ("Глеб", "Олегович"))
SCHOOLS = ("МБОУ «СОШ № 1»", "МБОУ «Лицей № 2»", "МАОУ «Гимназия № 3»")


def person(i: int) -> Member:
    """The i-th scripted member (0-based), deterministic, alphabetical by surname for i < 24."""
    last = LAST_NAMES[i % len(LAST_NAMES)] + ("" if i < len(LAST_NAMES) else f"-{i // len(LAST_NAMES)}")
    first, middle = FIRST_NAMES[i % len(FIRST_NAMES)]
    if last.endswith("а") and not first.endswith("а"):
        first, middle = "Елена", "Викторовна"
    if not last.endswith("а") and first.endswith("а"):
        first, middle = "Игорь", "Андреевич"
    return Member(f"u:{i + 1}", f"{last} {first} {middle}", f"{first[0]}.{middle[0]}. {last}", SCHOOLS[i % 3])


def meeting_info(
    members: int = 8,
    agenda: tuple[tuple[str, int | None], ...] = (),
    quorum_rule: str = "more_than_half",
    **extra: Any,
) -> MeetingInfo:
    """``agenda``: (title, rapporteur member index or None) per item; item ids are 101, 102, …"""
    people = tuple(person(i) for i in range(members))
    entries = tuple(
        AgendaEntry(
            item_id=101 + n,
            position=n + 1,
            title=title,
            rapporteur=people[r].short_name if r is not None else "",
            rapporteur_key=people[r].key if r is not None else None,
        )
        for n, (title, r) in enumerate(agenda)
    )
    fields: dict[str, Any] = {
        "meeting_id": 1,
        "association_name": "Сетевое методическое объединение учителей математики",
        "title_genitive": "учителей математики",
        "title": "Итоги первой четверти",
        "founder_name": "Управление образования администрации города Энска",
        "place": "онлайн",
        "quorum_rule": quorum_rule,
        "members": people,
        "agenda": entries,
        "chair": people[0].short_name if people else "",
        "secretary": people[1].short_name if len(people) > 1 else "",
        "chair_key": people[0].key if people else None,
        "secretary_key": people[1].key if len(people) > 1 else None,
        "scheduled_start": START,
        "scheduled_end": START + timedelta(hours=1, minutes=30),
    }
    fields.update(extra)
    return MeetingInfo(**fields)


@dataclass
class LogBuilder:
    start: datetime = START
    meeting_id: int = 1

    def __post_init__(self) -> None:
        self.events: list[LoggedEvent] = []
        self.seq = 0
        self.now = self.start

    # time and raw events -----------------------------------------------------------------------
    def at(self, minutes: float) -> LogBuilder:
        """Move the clock to ``minutes`` after the start (the log is in time order)."""
        self.now = self.start + timedelta(minutes=minutes)
        return self

    def add(self, type_: str, payload: dict[str, Any] | None = None, actor: str = "system") -> LoggedEvent:
        self.seq += 1
        # transcript.segment belongs to the transcript feature's catalogue; until it is there,
        # the builder writes it as the transcriber will (see segment()).
        known = type_ in EVENT_TYPES
        checked = validate_payload(type_, payload or {}) if known else dict(payload or {})
        event = LoggedEvent(self.meeting_id, self.seq, type_, actor, checked, self.now)
        self.events.append(event)
        return event

    def skip(self, n: int) -> LogBuilder:
        """Lose ``n`` sequence numbers: a gap in the log."""
        self.seq += n
        return self

    # lifecycle and presence --------------------------------------------------------------------
    def begin(self) -> LogBuilder:
        self.add("meeting.started")
        return self

    def end(self) -> LogBuilder:
        self.add("meeting.ended")
        return self

    def join(self, m: Member, role: str = "member", moderator: bool = False) -> LogBuilder:
        payload = {"participant": m.key, "name": m.full_name, "short_name": m.short_name, "role": role}
        self.add(
            "participant.joined", {**payload, "organisation": m.organisation, "moderator": moderator}, m.key
        )
        return self

    def guest(self, guest_id: int, name: str, short_name: str, organisation: str) -> Member:
        g = Member(f"g:{guest_id}", name, short_name, organisation)
        self.join(g, role="guest")
        return g

    def leave(self, m: Member, reason: str = "left") -> LogBuilder:
        self.add("participant.left", {"participant": m.key, "reason": reason}, m.key)
        return self

    # speech, chat, agenda ----------------------------------------------------------------------
    def floor(self, m: Member, granted: bool = True) -> LogBuilder:
        self.add("floor.granted" if granted else "floor.ended", {"participant": m.key})
        return self

    def speech(self, m: Member, started: bool = True) -> LogBuilder:
        self.add("speech.started" if started else "speech.ended", {"participant": m.key})
        return self

    def chat(self, m: Member, text: str, to: Member | None = None) -> LogBuilder:
        self.add("chat.message", {"text": text, "to": to.key if to else None}, m.key)
        return self

    def segment(self, m: Member, start: float, end: float, text: str) -> LogBuilder:
        """A transcribed stretch of ``m``'s speech, from ``start`` to ``end`` minutes after the start
        (logged now: the transcriber may write it later than it was said)."""
        self.add(
            "transcript.segment",
            {
                "participant": m.key,
                "started_at": (self.start + timedelta(minutes=start)).isoformat(),
                "ended_at": (self.start + timedelta(minutes=end)).isoformat(),
                "text": text,
                "language": "ru",
                "model": "whisper-base",
            },
        )
        return self

    def item(self, item_id: int, position: int, title: str) -> LogBuilder:
        self.add("agenda.item.started", {"item_id": item_id, "position": position, "title": title})
        return self

    def item_end(self, item_id: int) -> LogBuilder:
        self.add("agenda.item.ended", {"item_id": item_id})
        return self

    def snapshot(self, doc_id: int, title: str, text: str) -> LogBuilder:
        self.add("doc.snapshot", {"doc_id": doc_id, "title": title, "text": text, "reason": "meeting_ended"})
        return self

    # polls -------------------------------------------------------------------------------------
    def poll(
        self,
        poll_id: int,
        question: str,
        *,
        kind: str = "decision",
        options: list[str] | None = None,
        secret: bool = False,
        decision_text: str = "",
        agenda_item_id: int | None = None,
    ) -> LogBuilder:
        opts = options or ["за", "против", "воздержались"]
        self._polls = getattr(self, "_polls", {})
        self._polls[poll_id] = {"secret": secret, "ballots": {}, "options": len(opts)}
        payload = {
            "poll_id": poll_id,
            "question": question,
            "kind": kind,
            "options": opts,
            "secret": secret,
            "decision_text": decision_text,
            "agenda_item_id": agenda_item_id,
        }
        self.add("poll.created", payload)
        self.add("poll.opened", {"poll_id": poll_id})
        return self

    def vote(self, poll_id: int, m: Member, choice: int) -> LogBuilder:
        poll = self._polls[poll_id]
        poll["ballots"][m.key] = choice
        cast = len(poll["ballots"])
        if poll["secret"]:
            self.add("vote.cast", {"poll_id": poll_id, "ballots": cast})
        else:
            self.add(
                "vote.cast", {"poll_id": poll_id, "ballots": cast, "voter": m.key, "choices": [choice]}, m.key
            )
        return self

    def close(
        self,
        poll_id: int,
        eligible: int,
        present: int,
        quorum: bool = True,
        decision: bool = True,
        reason: str | None = None,
    ) -> LogBuilder:
        poll = self._polls[poll_id]
        counts = [0] * poll["options"]
        for choice in poll["ballots"].values():
            counts[choice] += 1
        cast = sum(counts)
        result: dict[str, Any] = {
            "eligible": eligible,
            "present": present,
            "cast": cast,
            "counts": counts,
            "quorum": quorum,
        }
        if decision:
            accepted = quorum and counts[0] * 2 > cast
            result["outcome"] = "accepted" if accepted else "rejected"
            result["unanimous"] = accepted and counts[0] == cast
        payload: dict[str, Any] = {"poll_id": poll_id, "result": result}
        if reason is not None:  # the meeting's end closed it: automatic, with the reason
            payload.update(automatic=True, reason=reason)
        self.add("poll.closed", payload)
        return self
