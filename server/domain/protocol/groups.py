"""Breakout groups in the protocol (docs/groups.md), pure like ``assemble``.

Under the agenda item during which a round of groups started (the item last taken up, or the
first item before any), the protocol says «Работа в группах: N групп» with each group's name,
members (as the round ended: moves included) and task, and names the attachment that holds the
group's final document (its ``doc.snapshot`` at ``groups.ended``, attached like every shared
document)."""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any

from server.domain.meeting.meeting_log import LoggedEvent
from server.domain.protocol import russian as ru
from server.names import order_key

if TYPE_CHECKING:
    from server.domain.protocol.model import AgendaEntry, Item


@dataclass(frozen=True)
class GroupEntry:
    name: str
    task: str
    members: tuple[str, ...]  # short names, alphabetical
    document: str = ""  # the title of its document when it was captured (an attachment)


@dataclass(frozen=True)
class GroupWork:
    minutes: int
    groups: tuple[GroupEntry, ...]


def _rounds(events: Sequence[LoggedEvent]) -> list[tuple[int | None, dict[str, Any]]]:
    """(item last taken up when the round started, the round as it ended), in log order."""
    rounds: list[tuple[int | None, dict[str, Any]]] = []
    current: dict[str, Any] | None = None
    item: int | None = None
    titles: dict[int, str] = {}
    for e in sorted(events, key=lambda ev: ev.seq):
        t, p = e.type, e.payload
        if t == "agenda.item.started":
            item = p.get("item_id")
        elif t == "doc.snapshot" and isinstance(p.get("doc_id"), int):
            titles[p["doc_id"]] = str(p.get("title", ""))
        elif t == "groups.created":
            groups = [{**g, "members": list(g.get("members", []))} for g in p.get("groups", [])]
            current = {"groups": groups, "started": None, "ended": None, "titles": titles}
        elif t == "groups.started" and current is not None and current["started"] is None:
            current["started"] = e.at
            rounds.append((item, current))
        elif t == "groups.assigned" and current is not None and current["ended"] is None:
            for g in current["groups"]:
                if p.get("participant") in g["members"]:
                    g["members"].remove(p["participant"])
                if g.get("id") == p.get("group"):
                    g["members"].append(p["participant"])
        elif t in ("groups.ended", "meeting.ended") and current is not None and current["ended"] is None:
            current["ended"] = e.at
    return rounds


def _minutes(start: datetime | None, end: datetime | None) -> int:
    if start is None or end is None:
        return 0
    return max(0, round((end - start).total_seconds() / 60))


def with_group_work(
    items: tuple[Item, ...],
    events: Sequence[LoggedEvent],
    entries: Sequence[AgendaEntry],
    names: dict[str, str],
    full_names: dict[str, str],
    has_agenda: bool,
) -> tuple[Item, ...]:
    """The items with the rounds of groups that worked under each."""
    known = [a.item_id for a in entries]
    by_item: dict[int | None, list[GroupWork]] = {}
    for item, rnd in _rounds(events):
        if not has_agenda:
            key: int | None = None
        else:
            key = item if item in known else (known[0] if known else None)
        groups = []
        for g in rnd["groups"]:
            members = sorted(
                g["members"], key=lambda k: order_key(str(full_names.get(k) or names.get(k) or k))
            )
            groups.append(
                GroupEntry(
                    str(g.get("name", "")),
                    str(g.get("task", "")),
                    tuple(names.get(k, k) for k in members),
                    rnd["titles"].get(g.get("doc_id"), ""),
                )
            )
        by_item.setdefault(key, []).append(GroupWork(_minutes(rnd["started"], rnd["ended"]), tuple(groups)))
    out = []
    for it in items:
        work = by_item.get(it.item_id if has_agenda else None)
        out.append(dataclasses.replace(it, groups=tuple(work)) if work else it)
    return tuple(out)


def group_lines(work: GroupWork) -> list[tuple[str, bool]]:
    """(text, bold) lines of one round under its item."""
    count = ru.count_text(len(work.groups), "группа", "группы", "групп")
    head = f"Работа в группах: {count}" + (f", {ru.minutes(work.minutes)}" if work.minutes else "") + "."
    lines = [(head, True)]
    for n, g in enumerate(work.groups, start=1):
        members = ", ".join(g.members) if g.members else "участников нет"
        text = f"{n}) {ru.quoted(g.name)}: {members}."
        if g.task.strip():
            text += f" Задание: {ru.sentence(g.task)}"
        if g.document:
            text += f" Итоги — документ {ru.quoted(g.document)} (в приложениях)."
        lines.append((text, False))
    return lines
