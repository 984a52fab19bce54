"""HTTP routes: «Мои объединения» (the home page) and the association page."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import Route

from server.db.models import Role
from server.domain.accounts.associations import association_overview, list_user_associations
from server.domain.meeting.meetings import upcoming_meetings
from server.domain.protocol.workflow import association_protocols
from server.web.auth import current_user
from server.web.panels import load_panels
from server.web.routes.accounts.accounts import take_flash
from server.web.templating import render


async def home(request: Request) -> Response:
    user = current_user(request)
    if user is None:
        return RedirectResponse("/login", status_code=303)
    async with request.app.state.runtime.db.read() as s:
        cards = await list_user_associations(s, user)
        upcoming = await upcoming_meetings(s, user)
        panels = await load_panels(s, "home", user, None)
    return render(
        request,
        "home.html",
        {"cards": cards, "upcoming": upcoming, "flash": take_flash(request), "panels": panels},
    )


async def association_page(request: Request) -> Response:
    async with request.app.state.runtime.db.read() as s:
        overview = await association_overview(s, current_user(request), request.path_params["id"])
        protocols = await association_protocols(s, overview.association.id)
        panels = await load_panels(s, "association", current_user(request), overview.association)
    return render(
        request,
        "accounts/associations/detail.html",
        {
            "o": overview,
            "roles": [r.value for r in Role],
            "flash": take_flash(request),
            "protocols": protocols,
            "panels": panels,
        },
    )


routes = [
    Route("/", home),
    Route("/associations/{id:int}", association_page),
]
