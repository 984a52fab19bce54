"""The transcript in the protocol (pure, from the events ``assemble_protocol`` receives).

- ``spoken_words``: each participant's transcribed words per agenda item (a segment belongs to
  the item that was current when it was spoken: segments are logged when transcribed, maybe
  long after, so the item is found by time, not by sequence number);
- ``condense``: the draft's readable length for ВЫСТУПИЛИ / СЛУШАЛИ (whole first sentences up
  to ~60 words, then «…»), which the secretary edits rather than writes;
- ``with_spoken_words``: the items' speeches (and the rapporteur's СЛУШАЛИ without a prepared
  summary) carrying those words;
- ``stenogram``: the full transcript with times and speakers, an attachment;
- ``transcript_notes`` / ``recording_line``: ПРИМЕЧАНИЯ for segments that could not be
  transcribed, and «Велась аудиозапись и автоматическая расшифровка выступлений».
"""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from server.domain.meeting.meeting_log import LoggedEvent
from server.domain.protocol import russian as ru
from server.domain.protocol.model import AgendaEntry, Item, TranscriptLine

CONDENSED_WORDS = 60
_SENTENCE_END = re.compile(r"(?<=[.!?…])\s+")
REASONS = {
    "corrupt_audio": "звук повреждён",
    "engine_error": "ошибка распознавания",
    "not_transcribed_in_time": "не расшифрован к составлению протокола",
    "not_stored": "звук не удалось сохранить (нет места на диске или база данных недоступна)",
}


@dataclass(frozen=True, slots=True)
class Segment:
    participant: str
    started_at: datetime
    ended_at: datetime
    text: str


def _moment(value: object) -> datetime:
    if isinstance(value, datetime):
        return value
    return datetime.fromisoformat(str(value).replace("Z", "+00:00"))


def segments(events: Sequence[LoggedEvent], kind: str = "transcript.segment") -> list[Segment]:
    """The transcript's segments (or ``transcript.failed`` ones) in the order they were spoken."""
    found = [
        Segment(
            e.payload["participant"],
            _moment(e.payload["started_at"]),
            _moment(e.payload["ended_at"]),
            str(e.payload.get("text", e.payload.get("reason", ""))),
        )
        for e in events
        if e.type == kind
    ]
    return sorted(found, key=lambda s: (s.started_at, s.participant))


def _item_intervals(events: Sequence[LoggedEvent]) -> list[tuple[datetime, datetime | None, int]]:
    intervals: list[tuple[datetime, datetime | None, int]] = []
    current: tuple[datetime, int] | None = None
    for e in sorted(events, key=lambda ev: ev.seq):
        if e.type == "agenda.item.started" or (e.type in ("agenda.item.ended", "meeting.ended") and current):
            if current is not None:
                intervals.append((current[0], e.at, current[1]))
                current = None
            if e.type == "agenda.item.started":
                current = (e.at, int(e.payload["item_id"]))
    if current is not None:
        intervals.append((current[0], None, current[1]))
    return intervals


def spoken_words(
    events: Sequence[LoggedEvent], agenda: Sequence[AgendaEntry]
) -> dict[tuple[int | None, str], str]:
    """``(agenda item id, participant) -> words``; without an agenda the item is None. Speech
    outside every item goes to the first item (as the protocol's fold does)."""
    entries = sorted(agenda, key=lambda a: a.position)
    default = entries[0].item_id if entries else None
    intervals = _item_intervals(events) if entries else []
    words: dict[tuple[int | None, str], list[str]] = {}
    for seg in segments(events):
        item = default
        for start, end, item_id in intervals:
            if start <= seg.started_at and (end is None or seg.started_at < end):
                item = item_id
        words.setdefault((item, seg.participant), []).append(seg.text.strip())
    return {key: " ".join(t for t in texts if t) for key, texts in words.items()}


def condense(text: str, limit: int = CONDENSED_WORDS) -> str:
    """The first whole sentences up to ``limit`` words, then «…» (a first sentence longer than
    that is cut at ``limit`` words)."""
    text = " ".join(text.split())
    if not text:
        return ""
    kept: list[str] = []
    count = 0
    for sentence in _SENTENCE_END.split(text):
        n = len(sentence.split())
        if count + n > limit:
            if not kept:
                kept.append(" ".join(sentence.split()[:limit]))
            return " ".join(kept).rstrip(" ,;:—-") + " …"
        kept.append(sentence)
        count += n
    return " ".join(kept)


def with_spoken_words(
    items: Sequence[Item], words: dict[tuple[int | None, str], str], agenda: Sequence[AgendaEntry]
) -> tuple[Item, ...]:
    """The items with each speaker's condensed words as their speech's summary (a summary the
    secretary wrote wins: edits are applied afterwards), and the rapporteur's words as СЛУШАЛИ
    when the agenda gave no summary of the report."""
    if not words:
        return tuple(items)
    by_id = {a.item_id: a for a in agenda}
    out = []
    for item in items:
        key = item.item_id if agenda else None
        speeches = tuple(
            dataclasses.replace(s, summary=condense(words[(key, s.participant)]))
            if not s.summary and words.get((key, s.participant))
            else s
            for s in item.speeches
        )
        entry = by_id.get(item.item_id)
        summary = item.summary
        if entry is not None and entry.rapporteur_key and not entry.summary:
            report = words.get((key, entry.rapporteur_key))
            if report:
                summary = condense(report)
        out.append(dataclasses.replace(item, speeches=speeches, summary=summary))
    return tuple(out)


def stenogram(events: Sequence[LoggedEvent], names: dict[str, str]) -> tuple[TranscriptLine, ...]:
    return tuple(
        TranscriptLine(s.started_at, names.get(s.participant, s.participant), " ".join(s.text.split()))
        for s in segments(events)
    )


def _seconds_text(value: datetime) -> str:
    m = ru.moscow(value)
    return f"{m.hour:02d}:{m.minute:02d}:{m.second:02d}"


def stenogram_lines(lines: Sequence[TranscriptLine]) -> list[str]:
    """«10:05:12 И.О. Фамилия: текст» per segment (Moscow time)."""
    return [f"{_seconds_text(line.started_at)} {line.short_name}: {line.text}" for line in lines]


def transcript_notes(events: Sequence[LoggedEvent], names: dict[str, str]) -> list[str]:
    notes = []
    for seg in segments(events, "transcript.failed"):
        who = names.get(seg.participant, seg.participant)
        reason = REASONS.get(seg.text, seg.text)
        notes.append(
            f"Фрагмент выступления {who} ({_seconds_text(seg.started_at)}–{_seconds_text(seg.ended_at)}) "
            f"не расшифрован: {reason}."
        )
    return notes


def recording_line(events: Sequence[LoggedEvent]) -> str:
    """What the protocol states about the meeting's recording and transcription."""
    switched = {e.type for e in events if e.type.endswith(".switched") and e.payload.get("on")}
    if "transcription.switched" in switched:
        return "Велась аудиозапись и автоматическая расшифровка выступлений."
    if "recording.switched" in switched:
        return "Велась аудиозапись заседания."
    return ""
