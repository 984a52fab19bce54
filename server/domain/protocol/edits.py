"""Human edits of the draft, stored by stable key and re-applied after every re-assembly.

Keys (see ``editable_parts``):

- ``item.<item id>.summary`` — what the rapporteur reported (СЛУШАЛИ);
- ``item.<item id>.speech.<participant>`` — the gist of a speech (ВЫСТУПИЛИ);
- ``decision.<poll id>.text`` / ``.deadline`` / ``.responsible`` — ПОСТАНОВИЛИ;
- ``officer.chair`` / ``officer.secretary`` — the participant key («u:<id>») of a member present
  named chair or secretary instead of the meeting's (say, an officer who was absent);
- ``chat.<seq>.promote`` — «1»: the chat message with that log seq is listed in ВЫСТУПИЛИ;
- ``notes.extra`` — the secretary's own ПРИМЕЧАНИЯ, one per line, after the automatic ones.

The officer and chat keys shape the assembly itself and are applied by ``assemble_protocol``.

Values are plain text (no markup: every rendering escapes them). A key whose part no longer
exists (say, a corrected log moved a poll) is kept by the caller and simply not applied.
"""

from __future__ import annotations

import dataclasses
import re
from typing import Any

from server.domain.protocol import russian as ru
from server.domain.protocol.model import Decision, Item, Protocol, Speech
from server.errors import AppError

MAX_TEXT = 4000
MAX_SHORT = 200
_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f]")
_KEY = re.compile(
    r"^(item\.\d{1,12}\.summary|item\.\d{1,12}\.speech\.[ug]:\d{1,12}|decision\.\d{1,12}\.(text|deadline|responsible)"
    r"|officer\.(chair|secretary)|chat\.\d{1,12}\.promote|notes\.extra)$"
)
_OFFICER = re.compile(r"^(u:\d{1,12})?$")


class InvalidProtocolEdit(AppError):
    code, status = "protocol_edit_invalid", 422


def validate_edit(key: str, value: Any) -> str:
    """The cleaned value of one edit, or ``InvalidProtocolEdit``."""
    if not isinstance(key, str) or not _KEY.match(key):
        raise InvalidProtocolEdit(details={"key": str(key)[:100]})
    if not isinstance(value, str):
        raise InvalidProtocolEdit(details={"key": key})
    text = value.replace("\r\n", "\n").strip()
    if key.startswith("officer.") and not _OFFICER.match(text):
        raise InvalidProtocolEdit(details={"key": key})
    if key.startswith("chat."):
        if text not in ("", "0", "1"):
            raise InvalidProtocolEdit(details={"key": key})
        return "1" if text == "1" else ""
    limit = MAX_SHORT if key.endswith((".deadline", ".responsible")) else MAX_TEXT
    if len(text) > limit or _CONTROL.search(text):
        raise InvalidProtocolEdit(details={"key": key})
    if key.endswith((".deadline", ".responsible")):
        text = " ".join(text.split())
    return text


def editable_parts(protocol: Protocol) -> dict[str, str]:
    """Every editable part's key and its current text (for the editor)."""
    parts: dict[str, str] = {
        "officer.chair": protocol.chair_key or "",
        "officer.secretary": protocol.secretary_key or "",
    }
    for item in protocol.items:
        parts[item.summary_key] = item.summary
        for speech in item.speeches:
            parts[speech.key] = speech.summary
        for d in item.decisions:
            parts[f"{d.key}.text"] = d.text
            parts[f"{d.key}.deadline"] = d.deadline
            parts[f"{d.key}.responsible"] = d.responsible
    for line in protocol.chat:
        parts[line.key] = "1" if line.promoted else ""
    parts["notes.extra"] = protocol.extra_notes
    return parts


def apply_edits(protocol: Protocol, edits: dict[str, Any] | None) -> Protocol:
    """The protocol with the edits applied; keys of parts that no longer exist are skipped."""
    if not edits:
        return protocol
    clean = {k: validate_edit(k, v) for k, v in edits.items()}
    applied: list[str] = []

    def pick(key: str, current: str) -> str:
        if key in clean:
            applied.append(key)
            return clean[key]
        return current

    def speech(s: Speech) -> Speech:
        return dataclasses.replace(s, summary=pick(s.key, s.summary))

    def decision(d: Decision) -> Decision:
        return dataclasses.replace(
            d,
            text=pick(f"{d.key}.text", d.text) or d.text,
            deadline=pick(f"{d.key}.deadline", d.deadline),
            responsible=pick(f"{d.key}.responsible", d.responsible),
        )

    def item(i: Item) -> Item:
        return dataclasses.replace(
            i,
            summary=pick(i.summary_key, i.summary) or i.summary,
            speeches=tuple(speech(s) for s in i.speeches),
            decisions=tuple(decision(d) for d in i.decisions),
        )

    items = tuple(item(i) for i in protocol.items)
    extra = pick("notes.extra", protocol.extra_notes)
    notes = protocol.notes
    if extra != protocol.extra_notes:
        notes = notes + tuple(ru.sentence(line) for line in extra.splitlines() if line.strip())
    edited = tuple(sorted(set(protocol.edited_keys) | set(applied)))
    return dataclasses.replace(protocol, items=items, edited_keys=edited, notes=notes, extra_notes=extra)
