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
from typing import Any

from server.domain.meeting.meeting_log import LoggedEvent
from server.domain.protocol import russian as ru
from server.domain.protocol import transcript
from server.domain.protocol.edits import apply_edits
from server.domain.protocol.fold import (
    LogState,
    Person,
    Poll,
    Segment,
    fold_log,
    item_at,
    merged,
    merged_seconds,
)
from server.domain.protocol.groups import with_group_work
from server.domain.protocol.model import (
    AgendaEntry,
    AttendanceRow,
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
from server.domain.protocol.votes import decision, poll_report
from server.names import order_key, parse_name

LIST_LIMIT = 15  # more present than this: a count and the attached list
INTERRUPTED_NOTE = "Голосование {} не завершено: прервано окончанием заседания."
OFFICER = {"chair": "председатель", "secretary": "секретарь"}
# The noun («председатель», «секретарь») governs the verb, whoever holds the office.
ABSENT_NOTE = "На заседании отсутствовал {office} {name}."
BRIEF_NOTE = (
    "{Office} {name} не учитывается как присутствующий: подключение к заседанию — {minutes} из {total}."
)


def _alpha(text: str) -> tuple[int, str]:
    return order_key(text)


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


def gist(segments: Sequence[Segment]) -> str:
    """What a speaker said on an item, from the transcript: the first ~60 words, then «…»."""
    text = " ".join(seg.text for seg in sorted(segments, key=lambda sg: (sg.started, sg.seq)))
    return transcript.condense(" ".join(text.split()))


def _items(
    info: MeetingInfo,
    state: LogState,
    names: dict[str, str],
    full: dict[str, str],
    promoted: set[int],
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
    # Chat lines are not speeches; only those the secretary promoted join ВЫСТУПИЛИ.
    first_spoke = dict(state.first_spoke)
    chat_by: dict[tuple[int | None, str], list[str]] = {}
    for line in state.chat:
        if line.seq in promoted:
            chat_by.setdefault((line.item, line.participant), []).append(line.text)
            key = (line.item, line.participant)
            first_spoke[key] = min(first_spoke.get(key, (line.at, line.seq)), (line.at, line.seq))
    words: dict[tuple[int | None, str], list[Segment]] = {}
    for seg in state.segments:
        if state.start is not None and state.end is not None and state.start <= seg.started <= state.end:
            words.setdefault((item_at(state, seg.started), seg.participant), []).append(seg)

    items = []
    for number, entry in enumerate(entries, start=1):
        iid = entry.item_id if info.agenda else None
        speeches = []
        for (item_id, who), _first in sorted(first_spoke.items(), key=lambda kv: kv[1]):
            if item_id != iid or who == "system":
                continue
            # The rapporteur's floor is the report (СЛУШАЛИ); only promoted chat is listed here.
            reporting = _is_rapporteur(entry, who, names)
            seconds = 0 if reporting else merged_seconds(state.speaking.get((item_id, who), []))
            said = "" if reporting else gist(words.get((item_id, who), []))
            chat = tuple(chat_by.get((item_id, who), ()))
            if seconds == 0 and not said and not chat:
                continue
            speeches.append(
                Speech(
                    f"item.{entry.item_id}.speech.{who}",
                    who,
                    names.get(who, who),
                    seconds,
                    chat=chat,
                    transcript=said,
                )
            )
        decisions: list[Decision] = []
        others: list[PollReport] = []
        for poll in polls_by_item.get(iid, []):
            if poll.kind == "decision":
                decisions.append(decision(poll, f"{number}.{len(decisions) + 1}"))
            else:
                others.append(poll_report(poll, names, full))
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


def _officers(
    meeting: MeetingInfo, edits: dict[str, Any], candidates: dict[str, str], names: dict[str, str]
) -> tuple[tuple[str, str | None], tuple[str, str | None], list[str]]:
    """(chair name, key), (secretary name, key) after the methodist's choice, and the edit keys
    applied. A named officer must be among the members present; a stale choice is skipped."""
    applied: list[str] = []
    chosen: list[tuple[str, str | None]] = []
    for role, name, key in (
        ("chair", meeting.chair, meeting.chair_key),
        ("secretary", meeting.secretary, meeting.secretary_key),
    ):
        pick = edits.get(f"officer.{role}")
        if isinstance(pick, str) and pick in candidates:
            applied.append(f"officer.{role}")
            name, key = candidates[pick], pick
        elif key is not None and not name:
            name = names.get(key, "")
        chosen.append((name, key))
    return chosen[0], chosen[1], applied


def _promoted(edits: dict[str, Any]) -> tuple[set[int], list[str]]:
    seqs: set[int] = set()
    keys: list[str] = []
    for key, value in edits.items():
        if key.startswith("chat.") and key.endswith(".promote") and str(value).strip() == "1":
            seq = key.split(".")[1]
            if seq.isdigit():
                seqs.add(int(seq))
                keys.append(key)
    return seqs, keys


def assemble_protocol(
    meeting: MeetingInfo,
    events: Sequence[LoggedEvent],
    form: Form = "full",
    presence_share: float = 0.5,
    edits: dict[str, Any] | None = None,
) -> Protocol:
    edits = edits or {}
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
    guests: list[tuple[tuple[int, str, str, str], Guest]] = []
    for person in state.people.values():
        spans = tuple(merged(person.intervals))
        exact = sum((b - a).total_seconds() for a, b in spans)
        seconds = round(exact)
        counted = bool(person.intervals) and exact >= need  # unrounded: a short meeting counts too
        org = person.organisation or (members[person.key].organisation if person.key in members else "")
        full = person.full_name or (members[person.key].full_name if person.key in members else person.key)
        attendance.append(
            AttendanceRow(
                full,
                person.short_name,
                org,
                person.role,
                spans[0][0] if spans else None,
                spans[-1][1] if spans else None,
                seconds,
                counted,
                spans,
            )
        )
        if _is_guest(person):
            if person.intervals:
                guests.append((parse_name(full).sort_key, Guest(person.short_name, org)))
        elif counted:
            present_people.append(person)
    attendance.sort(key=lambda r: (_alpha(r.full_name), r.short_name))
    present_people.sort(key=lambda p: (_alpha(p.full_name), p.short_name))
    guests.sort(key=lambda g: (g[0], g[1].short_name))
    quorum = _quorum(meeting, sum(1 for p in present_people if p.key in members))

    candidates = {p.key: p.short_name for p in present_people}
    (chair, chair_key), (secretary, secretary_key), officer_keys = _officers(
        meeting, edits, candidates, names
    )
    absent = tuple(
        role
        for role, name, key in (("chair", chair, chair_key), ("secretary", secretary, secretary_key))
        if key is not None and key not in candidates
    )
    promoted, promoted_keys = _promoted(edits)

    polls = tuple(
        poll_report(p, names, full_names) for p in sorted(state.polls.values(), key=lambda pl: pl.seq)
    )
    notes = list(state.notes)
    for poll in sorted(state.polls.values(), key=lambda pl: pl.seq):
        if poll.closed_seq is None:
            notes.append(f"Голосование {ru.quoted(poll.question)} не завершено.")
        elif poll.interrupted:
            notes.append(INTERRUPTED_NOTE.format(ru.quoted(poll.question)))
    for role, name, key in (("chair", chair, chair_key), ("secretary", secretary, secretary_key)):
        if role not in absent:
            continue
        officer = state.people.get(key or "")
        if officer is not None and officer.intervals:
            notes.append(
                BRIEF_NOTE.format(
                    Office=OFFICER[role].capitalize(),
                    name=name,
                    minutes=ru.minutes(round(merged_seconds(officer.intervals) / 60)),
                    total=round(duration / 60),
                )
            )
        else:
            notes.append(ABSENT_NOTE.format(office=OFFICER[role], name=name))
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
        secretary=secretary,
        present=tuple(p.short_name for p in present_people),
        list_attached=len(present_people) > LIST_LIMIT,
        guests=tuple(g for _, g in guests),
        quorum=quorum,
        agenda_approved=bool(entries),
        agenda=tuple(a.title for a in entries),
        items=with_group_work(
            transcript.with_spoken_words(
                _items(meeting, state, names, full_names, promoted),
                transcript.spoken_words(events, entries),
                entries,
            ),
            events,
            entries,
            names,
            full_names,
            bool(entries),
        ),
        attendance=tuple(attendance),
        chat=tuple(
            ChatLine(c.at, names.get(c.participant, c.participant), c.text, c.seq, c.seq in promoted)
            for c in state.chat
        ),
        documents=tuple(
            SharedDocument(d, t, x, state.boards.get(d)) for d, (t, x) in sorted(state.documents.items())
        ),
        polls=polls,
        notes=tuple(notes),
        started=start,
        ended=end,
        presence_share=presence_share,
        edited_keys=tuple(sorted(officer_keys + promoted_keys)),
        chair_key=chair_key,
        secretary_key=secretary_key,
        absent_officers=absent,
        officer_candidates=tuple(candidates.items()),
        stenogram=transcript.stenogram(events, names),
        recording_line=transcript.recording_line(events),
    )
    return apply_edits(protocol, edits) if edits else protocol
