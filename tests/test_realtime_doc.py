"""docs/realtime.md and the code agree: every client->server message of the registry and every
event type of server/domain/meeting/events.py has a section with the same fields, required flags and
permission."""

from __future__ import annotations

import re
from pathlib import Path

from pydantic import BaseModel

from realtime.meeting.registry import all_handlers
from server.domain.meeting.events import EVENT_TYPES

DOC = Path(__file__).resolve().parents[1] / "docs" / "realtime.md"
HEADING = re.compile(r"^### `([^`]+)`\s*$")
ROW = re.compile(r"^\| `([^`]+)` \|.*\| (yes|no) \|\s*$")
WHO = re.compile(r"^Who: (.+)\.$")


def sections(part: str) -> dict[str, list[str]]:
    """``### `name` `` sections of the level-2 part whose title starts with ``part``."""
    found: dict[str, list[str]] = {}
    inside = False
    current: list[str] | None = None
    for line in DOC.read_text(encoding="utf-8").splitlines():
        if line.startswith("## "):
            inside = line[3:].startswith(part)
            current = None
            continue
        if not inside:
            continue
        m = HEADING.match(line)
        if m:
            assert m.group(1) not in found, f"section {m.group(1)} twice"
            current = found[m.group(1)] = []
        elif current is not None:
            current.append(line)
    return found


def fields(lines: list[str]) -> dict[str, bool]:
    """The field table of a section: name -> required."""
    if any(line.startswith("No fields") for line in lines):
        return {}
    return {m.group(1): m.group(2) == "yes" for line in lines if (m := ROW.match(line))}


def schema_fields(schema: type[BaseModel]) -> dict[str, bool]:
    return {name: f.is_required() for name, f in schema.model_fields.items()}


def test_every_message_is_documented_with_its_fields_and_permission() -> None:
    documented = sections("Client → server messages")
    handlers = all_handlers()
    missing = sorted(set(handlers) - set(documented))
    stale = sorted(set(documented) - set(handlers))
    assert not missing, f"add sections to docs/realtime.md for: {missing}"
    assert not stale, f"docs/realtime.md documents messages that do not exist: {stale}"
    for name, spec in handlers.items():
        lines = documented[name]
        assert fields(lines) == schema_fields(spec.schema), f"fields of {name} differ from its schema"
        who = next((m.group(1) for line in lines if (m := WHO.match(line))), None)
        expected = (
            "moderators"
            if spec.moderator
            else ("anyone connected" if not spec.joined else "joined participants")
        )
        assert who == expected, f"permission of {name}: doc says {who!r}, code {expected!r}"
        assert any(line.startswith("Example:") for line in lines), f"{name} has no example"


def test_every_event_type_is_documented_with_its_payload() -> None:
    documented = sections("Event types")
    assert set(documented) == set(EVENT_TYPES), (
        sorted(set(EVENT_TYPES) ^ set(documented)),
        "docs/realtime.md and server/domain/meeting/events.py disagree",
    )
    for name, schema in EVENT_TYPES.items():
        assert fields(documented[name]) == schema_fields(schema), f"payload of {name} differs from its schema"
        assert any(line.startswith("Example:") for line in documented[name]), f"{name} has no example"


def test_the_parser_sees_the_tables() -> None:
    join = sections("Client → server messages")["join"]
    assert fields(join) == {"meeting_id": True, "last_seq": False}
