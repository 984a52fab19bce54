"""The browser meeting room: an HTML shell; static/js/room/ does the rest over Socket.IO."""

from __future__ import annotations

from typing import Any

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route

from server.db.models import Meeting, MeetingGuest, User
from server.domain.accounts.permissions import can_join_meeting
from server.errors import Forbidden, NotFound, Unauthenticated
from server.names import short_from_full
from server.web.auth import current_user
from server.web.templating import render

MAX_ID = 2**31 - 1


def _guest_id(session: dict[str, Any], meeting_id: int) -> int | None:
    """The guest id of a session that came in through this meeting's guest link."""
    guest = session.get("guest")
    if not isinstance(guest, dict) or guest.get("meeting_id") != meeting_id:
        return None
    gid = guest.get("id")
    return gid if isinstance(gid, int) else None


async def meeting_room(request: Request) -> Response:
    meeting_id: int = request.path_params["meeting_id"]
    if not 0 < meeting_id <= MAX_ID:
        raise NotFound()
    user: User | None = current_user(request)
    runtime = request.app.state.runtime
    async with runtime.db.read() as session:
        meeting = await session.get(Meeting, meeting_id)
        if meeting is None:
            raise NotFound()
        if user is not None:
            if not await can_join_meeting(session, user, meeting):
                raise Forbidden()
            me, name, back = f"u:{user.id}", user.short_name, f"/meetings/{meeting.id}"
        else:
            gid = _guest_id(request.session, meeting_id)
            guest = await session.get(MeetingGuest, gid) if gid is not None else None
            if guest is None or guest.meeting_id != meeting_id:
                raise Unauthenticated()  # -> the login page, which comes back here
            me, name, back = f"g:{guest.id}", short_from_full(guest.name), "/"
    return render(
        request,
        "meeting/meetings/room.html",
        {
            "meeting": meeting,
            "me": me,
            "my_name": name,
            "back_url": back,
            # After the end the room links to the meeting's page (materials, documents, protocol).
            "meeting_url": f"/meetings/{meeting.id}" if user is not None else "",
        },
    )


routes: list[BaseRoute] = [Route("/meetings/{meeting_id:int}/room", meeting_room)]
