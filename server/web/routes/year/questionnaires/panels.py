"""Questionnaires on the meeting page and the dashboard (server/web/panels.py)."""

from __future__ import annotations

from typing import Any

from server.db.models import Meeting, User
from server.domain.year import questionnaires as dq
from server.web.panels import panel


@panel("meeting", "year/questionnaires/_meeting_panel.html", order=40)
async def meeting_panel(session: Any, user: User | None, meeting: Meeting) -> dict[str, Any] | None:
    forms = await dq.meeting_forms(session, user, meeting)
    if forms is None:
        return None
    return {
        "f": forms,
        "accepting_pre": bool(forms.pre and dq.accepting(forms.pre)),
        "accepting_fb": bool(forms.feedback and dq.accepting(forms.feedback)),
    }


@panel("home", "year/questionnaires/_home_panel.html", order=60)
async def home_panel(session: Any, user: User | None, _subject: Any) -> dict[str, Any] | None:
    rows = await dq.open_for_me(session, user)
    return {"rows": rows} if rows else None
