"""The explicit list of every HTTP route, module by module."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from pathlib import Path

from starlette.requests import Request
from starlette.responses import FileResponse, Response
from starlette.routing import BaseRoute, Mount, Route
from starlette.staticfiles import StaticFiles

from server.web.routes import system
from server.web.routes.accounts import accounts, admin, associations
from server.web.routes.community import announcements as announcement_routes
from server.web.routes.community import notifications as notification_routes
from server.web.routes.community import overview as overview_routes
from server.web.routes.community import profiles as profile_routes
from server.web.routes.community import search as search_routes
from server.web.routes.community import topics as topic_routes
from server.web.routes.meeting import documents as document_routes
from server.web.routes.meeting import meetings
from server.web.routes.meeting import polls as poll_routes
from server.web.routes.meeting import recording as recording_routes
from server.web.routes.meeting import room as room_routes
from server.web.routes.protocol import protocols as protocol_routes
from server.web.routes.year import analysis as analysis_routes
from server.web.routes.year import competitions as competition_routes
from server.web.routes.year import consultations as consultation_routes
from server.web.routes.year import library as library_routes
from server.web.routes.year import plan as plan_routes
from server.web.routes.year import preparation as preparation_routes
from server.web.routes.year import questionnaires as questionnaire_routes
from server.web.routes.year import resources as resource_routes
from server.web.routes.year import stats as stats_routes


def favicon(path: Path) -> Callable[[Request], Awaitable[Response]]:
    """``/favicon.ico``: browsers ask for it on every first visit (a 404 otherwise)."""

    async def serve(_request: Request) -> Response:
        return FileResponse(
            path, media_type="image/x-icon", headers={"Cache-Control": "public, max-age=86400"}
        )

    return serve


def build_routes(static_dir: Path) -> list[BaseRoute]:
    return [
        *system.routes,
        *accounts.routes,
        *associations.routes,
        *meetings.routes,
        *admin.routes,
        *poll_routes.routes,
        *room_routes.routes,
        *document_routes.routes,
        *protocol_routes.routes,
        *preparation_routes.routes,
        *stats_routes.routes,
        *analysis_routes.routes,
        *plan_routes.routes,
        *library_routes.routes,
        *questionnaire_routes.routes,
        *resource_routes.routes,
        *consultation_routes.routes,
        *announcement_routes.routes,
        *notification_routes.routes,
        *topic_routes.routes,
        *overview_routes.routes,
        *search_routes.routes,
        *competition_routes.routes,
        *profile_routes.routes,
        Route("/favicon.ico", favicon(static_dir / "favicon.ico")),
        *recording_routes.routes,
        Mount("/static", StaticFiles(directory=str(static_dir)), name="static"),
    ]
