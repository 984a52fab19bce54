"""``assemble_protocol``: the meeting record plus its event log -> the protocol model.

A pure function: no I/O, no clock, deterministic, re-runnable after late corrections of the
log (human edits are then re-applied with ``apply_edits``, see ``edits.py``).

A meeting without an agenda gets one implicit item (id 0): the chair «слушали» on the
meeting's title, and every speech and decision of the meeting falls under it; the agenda
section says «Повестка дня не утверждена.». With an agenda, events before the first
item is taken up count towards the first item, and events between items towards the item
last taken up, so nothing said or decided is lost.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Literal

from server.domain.meeting_log import LoggedEvent
from server.domain.protocol import transcript
from server.protocols import russian as ru
from server.protocols.edits import apply_edits
from server.protocols.fold import LogState, Person, Poll, as_int, fold_log, merged_seconds, number_list
from server.protocols.model import (
    AgendaEntry,
    AttendanceRow,
    Ballot,
    ChatLine,
    Decision,
    Form,
    Guest,
    Header,
    Item,
    MeetingInfo,
    PollReport,
    Protocol,
    Quorum,
    SharedDocument,
    Speech,
)

LIST_LIMIT = 15  # more present than this: a count and the attached list


def _alpha(text: str) -> str:
    return text.casefold().replace("ё", "е")


def _is_guest(person: Person) -> bool:
    return person.role == "guest" or person.key.startswith("g:")


def _is_rapporteur(entry: AgendaEntry, who: str, names: dict[str, str]) -> bool:
    if entry.rapporteur_key is not None:
        return who == entry.rapporteur_key
    return bool(entry.rapporteur) and names.get(who) == entry.rapporteur


def _quorum(info: MeetingInfo, present_members: int) -> Quorum:
    total = len(info.members)
    if info.quorum_rule == "none":
        ok = True
    elif info.quorum_rule == "two_thirds":
        ok = total > 0 and present_members * 3 >= total * 2
    else:
        ok = present_members * 2 > total
    return Quorum(info.quorum_rule, present_members, total, ok)


def _poll_report(poll: Poll, names: dict[str, str], full: dict[str, str]) -> PollReport:
    result = poll.result
    counts: tuple[int, ...] | None = None
    eligible = 0
    cast = poll.cast
    if result is not None:
        counts = tuple(number_list(result.get("counts")))
        cast = as_int(result.get("cast"))
        eligible = as_int(result.get("eligible"))
    ballots: tuple[Ballot, ...] = ()
    if not poll.secret:
        rows = []
        for voter, choices in poll.ballots.items():
            labels = tuple(poll.options[c] for c in choices if 0 <= c < len(poll.options))
            rows.append((_alpha(full.get(voter, voter)), voter, Ballot(names.get(voter, voter), labels)))
        ballots = tuple(b for _, _, b in sorted(rows, key=lambda r: (r[0], r[1])))
    return PollReport(
        poll.poll_id,
        poll.question,
        poll.kind,
        poll.secret,
        tuple(poll.options),
        counts,
        cast,
        eligible,
        ballots,
    )


def _decision(poll: Poll, number: str) -> Decision:
    text = poll.decision_text or poll.question
    result = poll.result
    if result is None:
        return Decision(f"decision.{poll.poll_id}", poll.poll_id, number, text)
    raw = [*number_list(result.get("counts")), 0, 0, 0]
    za, against, abstained = raw[0], raw[1], raw[2]
    cast = as_int(result.get("cast"))
    quorum = bool(result.get("quorum", True))
    outcome: Literal["accepted", "rejected"]
    if result.get("outcome") in ("accepted", "rejected"):
        outcome = result["outcome"]
    else:
        outcome = "accepted" if quorum and za * 2 > cast else "rejected"
    unanimous = outcome == "accepted" and za > 0 and against == 0 and abstained == 0
    return Decision(
        f"decision.{poll.poll_id}",
        poll.poll_id,
        number,
        text,
        status=outcome,
        counts=(za, against, abstained),
        unanimous=unanimous,
        quorum=quorum,
    )


def _items(
    info: MeetingInfo, state: LogState, names: dict[str, str], full: dict[str, str], form: Form
) -> tuple[Item, ...]:
    entries = sorted(info.agenda, key=lambda a: a.position)
    if not entries:
        entries = [AgendaEntry(0, 1, info.title, rapporteur=info.chair)]
    known = {a.item_id for a in entries}

    def item_of_poll(poll: Poll) -> int | None:
        if poll.agenda_item_id in known:
            return poll.agenda_item_id
        return poll.item_at_close if poll.closed_seq is not None else poll.item_at_creation

    polls_by_item: dict[int | None, list[Poll]] = {}
    for poll in sorted(state.polls.values(), key=lambda pl: (pl.closed_seq is None, pl.closed_seq or pl.seq)):
        polls_by_item.setdefault(item_of_poll(poll), []).append(poll)
    chat_by: dict[tuple[int | None, str], list[str]] = {}
    for line in state.chat:
        chat_by.setdefault((line.item, line.participant), []).append(line.text)
        state.first_spoke.setdefault((line.item, line.participant), line.seq)

    items = []
    for number, entry in enumerate(entries, start=1):
        iid = entry.item_id if info.agenda else None
        speeches = []
        for (item_id, who), _first in sorted(state.first_spoke.items(), key=lambda kv: kv[1]):
            if item_id != iid or who == "system":
                continue
            # The rapporteur's floor is the report (СЛУШАЛИ); only their chat is listed here.
            reporting = _is_rapporteur(entry, who, names)
            seconds = 0 if reporting else merged_seconds(state.speaking.get((item_id, who), []))
            chat = tuple(chat_by.get((item_id, who), ())) if form == "full" else ()
            if seconds == 0 and not chat:
                continue
            speeches.append(
                Speech(f"item.{entry.item_id}.speech.{who}", who, names.get(who, who), seconds, chat=chat)
            )
        decisions: list[Decision] = []
        others: list[PollReport] = []
        for poll in polls_by_item.get(iid, []):
            if poll.kind == "decision":
                decisions.append(_decision(poll, f"{number}.{len(decisions) + 1}"))
            else:
                others.append(_poll_report(poll, names, full))
        considered = (
            not info.agenda
            or not state.started_items
            or entry.item_id in state.started_items
            or bool(speeches or decisions or others)
        )
        items.append(
            Item(
                item_id=entry.item_id,
                number=number,
                title=entry.title,
                rapporteur=entry.rapporteur,
                summary_key=f"item.{entry.item_id}.summary",
                summary=entry.summary or entry.title,
                speeches=tuple(speeches),
                decisions=tuple(decisions),
                polls=tuple(others),
                considered=considered,
            )
        )
    return tuple(items)


def assemble_protocol(
    meeting: MeetingInfo,
    events: Sequence[LoggedEvent],
    form: Form = "full",
    presence_share: float = 0.5,
    edits: dict[str, Any] | None = None,
) -> Protocol:
    entries = sorted(meeting.agenda, key=lambda a: a.position)
    # No agenda: the implicit item is keyed None inside the fold (nothing is "current").
    state = fold_log(events, entries[0].item_id if entries else None)
    start, end = state.start, state.end
    duration = (end - start).total_seconds() if start and end else 0.0
    need = presence_share * duration

    members = {m.key: m for m in meeting.members}
    names = {k: m.short_name for k, m in members.items()}
    names.update({k: p.short_name for k, p in state.people.items()})
    full_names = {k: m.full_name for k, m in members.items()}
    full_names.update({k: p.full_name for k, p in state.people.items() if p.full_name})

    attendance: list[AttendanceRow] = []
    present_people: list[Person] = []
    guests: list[Guest] = []
    for person in state.people.values():
        seconds = merged_seconds(person.intervals)
        counted = bool(person.intervals) and seconds >= need
        org = person.organisation or (members[person.key].organisation if person.key in members else "")
        full = person.full_name or (members[person.key].full_name if person.key in members else person.key)
        attendance.append(
            AttendanceRow(
                full,
                person.short_name,
                org,
                person.role,
                min((a for a, _ in person.intervals), default=None),
                max((b for _, b in person.intervals), default=None),
                seconds,
                counted,
            )
        )
        if _is_guest(person):
            if person.intervals:
                guests.append(Guest(person.short_name, org))
        elif counted:
            present_people.append(person)
    attendance.sort(key=lambda r: (_alpha(r.full_name), r.short_name))
    present_people.sort(key=lambda p: (_alpha(p.full_name), p.short_name))
    guests.sort(key=lambda g: (_alpha(g.short_name.split(" ")[-1]), g.short_name))
    quorum = _quorum(meeting, sum(1 for p in present_people if p.key in members))

    chair = meeting.chair
    polls = tuple(
        _poll_report(p, names, full_names) for p in sorted(state.polls.values(), key=lambda pl: pl.seq)
    )
    notes = list(state.notes)
    for poll in sorted(state.polls.values(), key=lambda pl: pl.seq):
        if poll.closed_seq is None:
            notes.append(f"Голосование {ru.quoted(poll.question)} не завершено.")
    if not state.people:
        notes.append("К заседанию никто не подключался.")
    notes += transcript.transcript_notes(events, names)

    day = meeting.protocol_date
    if day is None and start is not None:
        day = ru.moscow(start).date()
    elif day is None and meeting.scheduled_start is not None:
        day = ru.moscow(meeting.scheduled_start).date()
    title_line = "заседания сетевого методического объединения " + (
        meeting.title_genitive or ru.quoted(meeting.association_name)
    )
    protocol = Protocol(
        meeting_id=meeting.meeting_id,
        form=form,
        header=Header(
            meeting.founder_name, meeting.association_name, day, meeting.number, meeting.place, title_line
        ),
        chair=chair,
        secretary=meeting.secretary,
        present=tuple(p.short_name for p in present_people),
        list_attached=len(present_people) > LIST_LIMIT,
        guests=tuple(guests),
        quorum=quorum,
        agenda_approved=bool(entries),
        agenda=tuple(a.title for a in entries),
        items=transcript.with_spoken_words(
            _items(meeting, state, names, full_names, form),
            transcript.spoken_words(events, entries),
            entries,
        ),
        attendance=tuple(attendance),
        chat=tuple(ChatLine(c.at, names.get(c.participant, c.participant), c.text) for c in state.chat),
        documents=tuple(SharedDocument(d, t, x) for d, (t, x) in sorted(state.documents.items())),
        polls=polls,
        notes=tuple(notes),
        started=start,
        ended=end,
        presence_share=presence_share,
        stenogram=transcript.stenogram(events, names),
        recording_line=transcript.recording_line(events),
    )
    return apply_edits(protocol, edits) if edits else protocol
