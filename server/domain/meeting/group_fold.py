"""Breakout groups in the room's fold (docs/groups.md): who is in which group, the timer, who
visits. Pure; ``room_state.RoomState`` holds one :class:`Groups` and applies the ``groups.*``
events through :data:`APPLY` (and :func:`meeting_ended` when the meeting ends)."""

from __future__ import annotations

from datetime import datetime
from typing import Any


def _iso(at: datetime) -> str:
    return at.isoformat().replace("+00:00", "Z")


class Groups:
    def __init__(self) -> None:
        self.round = 0
        self.status = "none"  # "running" | "ended" (the last round's groups stay for the report-back)
        self.groups: dict[int, dict[str, Any]] = {}  # the current (or last) round: id -> spec
        self.duration = 0
        self.assignment = "manual"
        self.started_at: str | None = None
        self.ends_at: str | None = None
        self.ended_at: str | None = None
        self.of: dict[str, int] = {}  # member -> group id (the current round)
        self.visiting: dict[str, int] = {}  # moderator -> the group they visit
        self.calls: dict[int, str] = {}  # group -> when it called the moderator (until a visit)
        self.last_id = 0  # group ids continue over rounds: a chat message's group is unambiguous
        # group -> everyone who has been in it (members, people moved in, visitors): who may
        # read its chat, during the round and afterwards. Ids are unique in the meeting.
        self.readers: dict[int, set[str]] = {}

    @property
    def running(self) -> bool:
        return self.status == "running"

    def room_of(self, key: str) -> int | None:
        """The group whose room (media, chat) ``key`` is in now; None: the main room."""
        if not self.running:
            return None
        if key in self.visiting:
            return self.visiting[key]
        return self.of.get(key)

    def may_read(self, group: int, key: str) -> bool:
        """Whether ``key`` has been in ``group`` (its chat is theirs)."""
        return key in self.readers.get(group, ())

    def snapshot(self) -> dict[str, Any]:
        return {
            "round": self.round,
            "status": self.status,
            "groups": [
                {**g, "members": list(g["members"])}
                for g in sorted(self.groups.values(), key=lambda g: g["id"])
            ],
            "duration": self.duration,
            "assignment": self.assignment,
            "started_at": self.started_at,
            "ends_at": self.ends_at,
            "ended_at": self.ended_at,
            "visiting": dict(self.visiting),
            "calls": {str(k): v for k, v in self.calls.items()},
        }

    def end(self, at: datetime) -> None:
        self.status = "ended"
        self.ended_at = _iso(at)
        self.visiting.clear()
        self.calls.clear()
        self.of.clear()


def _g(s: Any) -> Groups:
    groups: Groups = s.groups
    return groups


def _created(s: Any, e: Any, p: dict[str, Any]) -> None:
    g = _g(s)
    g.round = p["round"]
    g.status = "created"
    g.groups = {spec["id"]: {**spec, "members": list(spec["members"])} for spec in p["groups"]}
    g.duration = p["duration"]
    g.assignment = p.get("assignment", "manual")
    g.started_at = g.ends_at = g.ended_at = None
    g.of = {key: spec["id"] for spec in p["groups"] for key in spec["members"]}
    g.visiting.clear()
    g.calls.clear()
    g.last_id = max([g.last_id, *g.groups])
    for spec in p["groups"]:
        g.readers.setdefault(spec["id"], set()).update(spec["members"])


def _started(s: Any, e: Any, p: dict[str, Any]) -> None:
    g = _g(s)
    if g.round == p["round"] and g.status == "created":
        g.status = "running"
        g.started_at = _iso(e.at)
        g.ends_at = p["ends_at"]


def _extended(s: Any, e: Any, p: dict[str, Any]) -> None:
    g = _g(s)
    if g.round == p["round"] and g.running:
        g.ends_at = p["ends_at"]


def _assigned(s: Any, e: Any, p: dict[str, Any]) -> None:
    g = _g(s)
    key, target = p["participant"], p.get("group")
    old = g.of.pop(key, None)
    if old is not None and old in g.groups and key in g.groups[old]["members"]:
        g.groups[old]["members"].remove(key)
    if target is not None and target in g.groups:
        g.groups[target]["members"].append(key)
        g.of[key] = target
        g.readers.setdefault(target, set()).add(key)


def _visit(s: Any, e: Any, p: dict[str, Any]) -> None:
    g = _g(s)
    g.visiting[e.actor] = p["group"]
    g.calls.pop(p["group"], None)
    g.readers.setdefault(p["group"], set()).add(e.actor)


def _left(s: Any, e: Any, p: dict[str, Any]) -> None:
    _g(s).visiting.pop(e.actor, None)


def _call(s: Any, e: Any, p: dict[str, Any]) -> None:
    _g(s).calls[p["group"]] = _iso(e.at)


def _ended(s: Any, e: Any, p: dict[str, Any]) -> None:
    g = _g(s)
    if g.round == p["round"]:
        g.end(e.at)


def meeting_ended(s: Any, at: datetime) -> None:
    """The meeting's end ends running groups (everyone leaves; the documents were snapshotted
    with every other document at ``meeting.ended``)."""
    g = _g(s)
    if g.status in ("created", "running"):
        g.end(at)


APPLY = {
    "groups.created": _created,
    "groups.started": _started,
    "groups.extended": _extended,
    "groups.assigned": _assigned,
    "groups.visit": _visit,
    "groups.left": _left,
    "groups.call_moderator": _call,
    "groups.ended": _ended,
}
