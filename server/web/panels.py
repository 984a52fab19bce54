"""Panels that features add to shared pages without editing them.

The home page (dashboard), an association's page and a meeting's page each render, after
their own content, the panels registered for their slot. A feature registers a loader that
returns the template context for its panel, or ``None`` to show nothing (e.g. no rights):

    @panel("meeting", "year/preparation/_meeting_panel.html", order=10)
    async def preparation_panel(session, user, meeting):   # slot "meeting": the Meeting
        return {"materials": ...}                           # → the template sees ``panel``

Slots and their subject: "home" → None, "association" → Association, "meeting" → Meeting,
"meeting_aside" → Meeting (the narrow column). Loaders run inside the page's read transaction.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any, Literal

from sqlalchemy.ext.asyncio import AsyncSession

from server.db.models import User

Slot = Literal["home", "association", "meeting", "meeting_aside"]
Loader = Callable[[AsyncSession, User | None, Any], Awaitable[dict[str, Any] | None]]


@dataclass(frozen=True, slots=True)
class Panel:
    slot: Slot
    template: str
    order: int
    loader: Loader


PANELS: list[Panel] = []


def panel(slot: Slot, template: str, *, order: int = 50) -> Callable[[Loader], Loader]:
    def register(fn: Loader) -> Loader:
        PANELS.append(Panel(slot, template, order, fn))
        PANELS.sort(key=lambda p: (p.slot, p.order, p.template))
        return fn

    return register


async def load_panels(
    session: AsyncSession, slot: Slot, user: User | None, subject: Any
) -> list[tuple[str, dict[str, Any]]]:
    """(template, context) of every panel of ``slot`` that has something to show."""
    shown: list[tuple[str, dict[str, Any]]] = []
    for p in PANELS:
        if p.slot != slot:
            continue
        data = await p.loader(session, user, subject)
        if data is not None:
            shown.append((p.template, data))
    return shown
