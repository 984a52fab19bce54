"""The meeting protocol as one document model; every rendering is made from it.

Editable parts carry a stable ``key`` (built from ids that survive re-assembly: agenda item
ids, participant keys, poll ids), so human edits stored by key are re-applied after the log
is corrected and the protocol assembled again (see ``assemble.apply_edits``).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any, Literal

from server.domain.protocol.groups import GroupWork

Form = Literal["full", "short"]
QuorumRuleName = Literal["more_than_half", "two_thirds", "none"]


# --- the input: what assembly needs to know about the meeting besides its log ------------------
@dataclass(frozen=True, slots=True)
class Member:
    """A member of the association (the M of «N из M»)."""

    key: str  # participant key, "u:<user id>"
    full_name: str  # «Фамилия Имя Отчество»
    short_name: str  # «И.О. Фамилия»
    organisation: str = ""


@dataclass(frozen=True, slots=True)
class AgendaEntry:
    item_id: int
    position: int
    title: str
    rapporteur: str = ""  # «И.О. Фамилия» (or a free-text name)
    rapporteur_key: str | None = None  # participant key, when the rapporteur has an account
    summary: str = ""  # given beforehand; otherwise the title is used


@dataclass(frozen=True, slots=True)
class MeetingInfo:
    meeting_id: int
    association_name: str
    title: str
    founder_name: str = ""
    place: str = "онлайн"
    quorum_rule: QuorumRuleName = "more_than_half"
    members: tuple[Member, ...] = ()
    agenda: tuple[AgendaEntry, ...] = ()
    chair: str = ""  # «И.О. Фамилия»
    secretary: str = ""
    chair_key: str | None = None  # participant key of the chair ("u:<id>"), to check presence
    secretary_key: str | None = None
    scheduled_start: datetime | None = None
    scheduled_end: datetime | None = None
    number: int | None = None  # assigned on approval
    protocol_date: date | None = None  # defaults to the meeting's date
    # «заседания сетевого методического объединения <title_genitive>»; default: the name in quotes
    title_genitive: str = ""


# --- the document -------------------------------------------------------------------------------
@dataclass(frozen=True, slots=True)
class Header:
    founder_name: str
    association_name: str
    date: date | None
    number: int | None
    place: str
    title_line: str  # «заседания сетевого методического объединения …»


@dataclass(frozen=True, slots=True)
class Guest:
    short_name: str
    organisation: str


@dataclass(frozen=True, slots=True)
class Quorum:
    rule: QuorumRuleName
    present: int  # members present
    total: int  # members of the association
    has_quorum: bool


@dataclass(frozen=True, slots=True)
class Speech:
    key: str  # edit key of the summary
    participant: str
    short_name: str
    seconds: int
    summary: str = ""  # human summary; empty -> the transcript's gist, else «выступление N мин.»
    chat: tuple[str, ...] = ()  # chat messages the secretary promoted into ВЫСТУПИЛИ
    transcript: str = ""  # the speaker's transcribed words on the item, condensed


@dataclass(frozen=True, slots=True)
class Decision:
    key: str  # prefix of the edit keys: <key>.text, <key>.deadline, <key>.responsible
    poll_id: int
    number: str  # «1.1»
    text: str
    deadline: str = ""
    responsible: str = ""
    # interrupted: still open when the meeting ended (closed by the end, no outcome)
    status: Literal["accepted", "rejected", "unfinished", "interrupted"] = "unfinished"
    counts: tuple[int, int, int] | None = None  # за, против, воздержались
    unanimous: bool = False
    quorum: bool = True


@dataclass(frozen=True, slots=True)
class Ballot:
    short_name: str
    choices: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class PollReport:
    """Any poll's result, for the attachment (and, for non-decision polls, under its item)."""

    poll_id: int
    question: str
    kind: str
    secret: bool
    options: tuple[str, ...]
    counts: tuple[int, ...] | None  # None: never closed
    cast: int
    eligible: int
    ballots: tuple[Ballot, ...] = ()  # named polls: who voted what
    interrupted: bool = False  # closed by the meeting's end: the counts are the ballots so far


@dataclass(frozen=True, slots=True)
class Item:
    item_id: int  # 0 for the implicit item of a meeting without an agenda
    number: int
    title: str
    rapporteur: str
    summary_key: str
    summary: str
    speeches: tuple[Speech, ...] = ()
    decisions: tuple[Decision, ...] = ()
    polls: tuple[PollReport, ...] = ()  # non-decision polls closed during the item
    considered: bool = True  # False: the log never shows the item being taken up
    groups: tuple[GroupWork, ...] = ()  # rounds of breakout groups under the item


@dataclass(frozen=True, slots=True)
class AttendanceRow:
    full_name: str
    short_name: str
    organisation: str
    role: str
    joined: datetime | None
    left: datetime | None
    seconds_present: int
    counted: bool  # present by the presence rule
    intervals: tuple[tuple[datetime, datetime], ...] = ()  # every connected interval (merged)


@dataclass(frozen=True, slots=True)
class ChatLine:
    at: datetime
    short_name: str
    text: str
    seq: int = 0
    promoted: bool = False  # the secretary moved it into ВЫСТУПИЛИ (edit key ``chat.<seq>.promote``)

    @property
    def key(self) -> str:
        return f"chat.{self.seq}.promote"


@dataclass(frozen=True, slots=True)
class TranscriptLine:
    """A line of the стенограмма: one transcribed segment."""

    started_at: datetime
    short_name: str
    text: str


@dataclass(frozen=True, slots=True)
class SharedDocument:
    doc_id: int
    title: str
    text: str
    # A board («Доска»): its pages as described by its last snapshot, and its pictures (file id
    # -> data URL, filled from the board's storage by server/domain/protocol/boards.py).
    board: dict[str, Any] | None = None
    files: dict[str, str] | None = None


@dataclass(frozen=True, slots=True)
class Protocol:
    meeting_id: int
    form: Form
    header: Header
    chair: str
    secretary: str
    present: tuple[str, ...]  # «И.О. Фамилия», alphabetical (non-guests present)
    list_attached: bool  # more than 15 present: the count and «список прилагается»
    guests: tuple[Guest, ...]
    quorum: Quorum
    agenda_approved: bool  # False: the meeting had no agenda (one implicit item)
    agenda: tuple[str, ...]
    items: tuple[Item, ...]
    attendance: tuple[AttendanceRow, ...]
    chat: tuple[ChatLine, ...]
    documents: tuple[SharedDocument, ...]
    polls: tuple[PollReport, ...]
    notes: tuple[str, ...]  # what the log lacks: gaps, unfinished polls, ignored events
    started: datetime | None
    ended: datetime | None
    presence_share: float
    edited_keys: tuple[str, ...] = field(default=())
    chair_key: str | None = None
    secretary_key: str | None = None
    # "chair" / "secretary": an officer who was not present (ПРИМЕЧАНИЯ; approval asks to confirm)
    absent_officers: tuple[str, ...] = ()
    # (participant key, «И.О. Фамилия») of the members present: who may be named an officer
    officer_candidates: tuple[tuple[str, str], ...] = ()
    extra_notes: str = ""  # the secretary's own ПРИМЕЧАНИЯ (one per line), after the automatic ones
    # Transcription (server/domain/protocol/transcript.py): the стенограмма attachment, and
    # «Велась аудиозапись и автоматическая расшифровка выступлений» when it was on.
    stenogram: tuple[TranscriptLine, ...] = field(default=())
    recording_line: str = ""
