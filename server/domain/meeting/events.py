"""The catalogue of meeting events: the one contract between the live room, the protocol,
analytics and the browser. Each event type has a declared payload schema.

An event as stored and as sent to clients::

    {"seq": 17, "type": "chat.message", "actor": "u:3", "at": "2026-11-25T10:01:02.123Z",
     "payload": {...}}

Participants are named by a *participant key*: ``"u:<user id>"`` for an account,
``"g:<guest id>"`` for a guest who came by the guest link; ``"system"`` acts for the server.
Add a type here before emitting it; ``docs/realtime.md`` is checked against this module.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field

ParticipantKey = Annotated[str, Field(pattern=r"^(u|g):\d{1,12}$")]
ParticipantRole = Literal["methodist", "mo_head", "member", "admin", "guest"]


class Payload(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


# --- lifecycle -------------------------------------------------------------------------------
class MeetingStarted(Payload):
    pass


class MeetingEnded(Payload):
    pass


# --- presence --------------------------------------------------------------------------------
class ParticipantJoined(Payload):
    """First connection of a person (a second tab does not join again)."""

    participant: ParticipantKey
    name: str  # full name, «Фамилия Имя Отчество», or the guest's name
    short_name: str  # «И.О. Фамилия»
    role: ParticipantRole
    organisation: str = ""
    moderator: bool = False


class ParticipantLeft(Payload):
    """Last connection of a person closed (or the person was removed)."""

    participant: ParticipantKey
    reason: Literal["disconnect", "left", "removed", "meeting_ended"] = "disconnect"


class WaitingEntered(Payload):
    participant: ParticipantKey
    name: str
    short_name: str = ""  # «И.О. Фамилия» (logs written before it carry only the name)
    role: ParticipantRole


class WaitingDecided(Payload):
    """``waiting.admitted`` / ``waiting.denied``."""

    participant: ParticipantKey


class ParticipantRemoved(Payload):
    participant: ParticipantKey


class ParticipantReadmitted(Payload):
    participant: ParticipantKey


class ParticipantPromoted(Payload):
    """Made a co-moderator for this meeting."""

    participant: ParticipantKey


class MeetingLocked(Payload):
    locked: bool


class AdmissionChanged(Payload):
    admission: Literal["open", "guests", "everyone"]


# --- chat ------------------------------------------------------------------------------------
class ChatMessage(Payload):
    """``to`` set: a private message, delivered to the two people only, kept out of the protocol."""

    text: str = Field(min_length=1, max_length=2000)
    reply_to: int | None = None  # seq of the message replied to
    to: ParticipantKey | None = None
    group: int | None = None  # sent inside a breakout group (docs/groups.md): that group's chat


# --- hands and the list of speakers -----------------------------------------------------------
class HandChanged(Payload):
    """``hand.raised`` / ``hand.lowered``."""

    participant: ParticipantKey


class FloorChanged(Payload):
    """``floor.granted`` / ``floor.ended``: the moderator's list of speakers."""

    participant: ParticipantKey


class SpeechChanged(Payload):
    """``speech.started`` / ``speech.ended``: detected on the server from audio levels."""

    participant: ParticipantKey


# --- agenda ----------------------------------------------------------------------------------
class AgendaItemStarted(Payload):
    item_id: int
    position: int
    title: str


class AgendaItemEnded(Payload):
    item_id: int


# --- polls -----------------------------------------------------------------------------------
PollKind = Literal["decision", "single", "multiple"]
DecisionRule = Literal["majority_cast", "majority_present", "two_thirds"]


class PollCreated(Payload):
    """For a decision poll the options are «за», «против», «воздержались», in that order."""

    poll_id: int
    question: str
    kind: PollKind
    options: list[str]
    secret: bool = False
    agenda_item_id: int | None = None
    decision_text: str = ""  # the wording of the proposed decision (ПОСТАНОВИЛИ)
    rule: DecisionRule = "majority_cast"
    guests_vote: bool = False
    allow_change: bool = False
    closes_in_seconds: int | None = None


class PollOpened(Payload):
    poll_id: int


class VoteCast(Payload):
    """Named polls carry the voter's choices; a secret poll's event names no choice
    (the actor is recorded as ``system``), so the log links nobody to a ballot."""

    poll_id: int
    ballots: int  # ballots cast so far
    voter: ParticipantKey | None = None  # named polls only
    choices: list[int] | None = None  # option indexes, named polls only


class PollResult(Payload):
    eligible: int  # eligible voters (members of the association, plus guests if allowed)
    present: int  # eligible voters present at the close
    cast: int  # ballots cast
    counts: list[int]  # per option, same order as the options
    quorum: bool
    outcome: Literal["accepted", "rejected"] | None = None  # decision polls only
    unanimous: bool = False


class PollClosed(Payload):
    poll_id: int
    result: PollResult
    automatic: bool = False  # closed by the system: its timer, or the meeting's end
    # why it closed: "moderator", "timer", or "meeting_ended" (still open when the meeting
    # ended: the vote was interrupted, the protocol gives no outcome); None in older logs
    reason: Literal["moderator", "timer", "meeting_ended"] | None = None


# --- shared documents and media ----------------------------------------------------------------
class DocSnapshot(Payload):
    doc_id: int
    title: str
    text: str
    agenda_item_id: int | None = None
    kind: Literal["board"] | None = None  # a board («Доска»): ``board`` describes its pages
    board: dict[str, Any] | None = None  # server/domain/meeting/board.py describe()
    reason: Literal["agenda_item_ended", "meeting_ended", "groups_ended", "manual"] = "manual"


class MicMuted(Payload):
    """``mic.muted``: a moderator muted a participant (or everyone when ``participant`` is None)."""

    participant: ParticipantKey | None = None
    locked: bool = False  # microphones locked: participants may not unmute themselves


class MicUnlocked(Payload):
    pass


class ScreenShareChanged(Payload):
    """``screen.started`` / ``screen.stopped``."""

    participant: ParticipantKey


# --- transcription and recording (docs/transcript.md) -----------------------------------------
class SwitchChanged(Payload):
    """``transcription.switched`` / ``recording.switched``: a moderator (or, at the start, the
    association's default) switched the meeting's transcription / recording on or off."""

    on: bool


class TranscriptSegment(Payload):
    """What one participant said between their own speech events (their own microphone
    track, so no diarization), as the server's engine heard it. Appended by ``system``."""

    participant: ParticipantKey
    started_at: datetime
    ended_at: datetime
    text: str = Field(min_length=1, max_length=20_000)
    language: str = Field(max_length=16)
    model: str = Field(max_length=200)


class TranscriptFailed(Payload):
    """A captured segment that could not be transcribed (the protocol's ПРИМЕЧАНИЯ name it)."""

    participant: ParticipantKey
    started_at: datetime
    ended_at: datetime
    reason: Literal["corrupt_audio", "engine_error", "not_transcribed_in_time", "not_stored"]


# --- breakout groups (docs/groups.md) ---------------------------------------------------------
class GroupSpec(Payload):
    id: int = Field(ge=1)  # unique in the meeting (rounds continue the numbering)
    name: str = Field(min_length=1, max_length=100)
    task: str = Field(default="", max_length=2000)
    members: list[ParticipantKey] = Field(default_factory=list, max_length=500)
    doc_id: int | None = None  # its «Результаты группы N» document


class GroupsCreated(Payload):
    round: int = Field(ge=1)
    groups: list[GroupSpec] = Field(min_length=1, max_length=50)
    duration: int = Field(ge=1)  # seconds
    assignment: Literal["manual", "random"] = "manual"


class GroupsStarted(Payload):
    round: int = Field(ge=1)
    ends_at: datetime


class GroupsExtended(Payload):
    round: int = Field(ge=1)
    ends_at: datetime
    seconds: int = Field(ge=1)


class GroupAssigned(Payload):
    """A person moved by a moderator: into ``group``, or back to the main room (None)."""

    participant: ParticipantKey
    group: int | None = None


class GroupsBroadcast(Payload):
    text: str = Field(min_length=1, max_length=1000)


class GroupVisit(Payload):
    """``groups.visit`` / ``groups.left``: a moderator enters / leaves a group's room."""

    group: int


class GroupCall(Payload):
    """A group calls the moderator («Позвать ведущего»)."""

    group: int


class GroupsEnded(Payload):
    round: int = Field(ge=1)
    reason: Literal["moderator", "timer"] = "moderator"


EVENT_TYPES: dict[str, type[Payload]] = {
    "meeting.started": MeetingStarted,
    "meeting.ended": MeetingEnded,
    "participant.joined": ParticipantJoined,
    "participant.left": ParticipantLeft,
    "waiting.entered": WaitingEntered,
    "waiting.admitted": WaitingDecided,
    "waiting.denied": WaitingDecided,
    "participant.removed": ParticipantRemoved,
    "participant.readmitted": ParticipantReadmitted,
    "participant.promoted": ParticipantPromoted,
    "meeting.locked": MeetingLocked,
    "meeting.admission": AdmissionChanged,
    "chat.message": ChatMessage,
    "hand.raised": HandChanged,
    "hand.lowered": HandChanged,
    "floor.granted": FloorChanged,
    "floor.ended": FloorChanged,
    "speech.started": SpeechChanged,
    "speech.ended": SpeechChanged,
    "agenda.item.started": AgendaItemStarted,
    "agenda.item.ended": AgendaItemEnded,
    "poll.created": PollCreated,
    "poll.opened": PollOpened,
    "vote.cast": VoteCast,
    "poll.closed": PollClosed,
    "doc.snapshot": DocSnapshot,
    "mic.muted": MicMuted,
    "mic.unlocked": MicUnlocked,
    "screen.started": ScreenShareChanged,
    "screen.stopped": ScreenShareChanged,
    "transcription.switched": SwitchChanged,
    "recording.switched": SwitchChanged,
    "transcript.segment": TranscriptSegment,
    "transcript.failed": TranscriptFailed,
    "groups.created": GroupsCreated,
    "groups.started": GroupsStarted,
    "groups.extended": GroupsExtended,
    "groups.assigned": GroupAssigned,
    "groups.broadcast": GroupsBroadcast,
    "groups.visit": GroupVisit,
    "groups.left": GroupVisit,
    "groups.call_moderator": GroupCall,
    "groups.ended": GroupsEnded,
}


def validate_payload(event_type: str, payload: dict[str, Any]) -> dict[str, Any]:
    """Check a payload against its declared schema; return it in canonical form."""
    schema = EVENT_TYPES[event_type]
    return schema.model_validate(payload).model_dump(mode="json")
