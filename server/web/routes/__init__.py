"""The explicit list of every HTTP route, module by module."""

from __future__ import annotations

from pathlib import Path

from starlette.routing import BaseRoute, Mount
from starlette.staticfiles import StaticFiles

from server.web.routes import accounts, admin, associations, meetings, system
from server.web.routes import analysis as analysis_routes
from server.web.routes import announcements as announcement_routes
from server.web.routes import competitions as competition_routes
from server.web.routes import consultations as consultation_routes
from server.web.routes import documents as document_routes
from server.web.routes import library as library_routes
from server.web.routes import notifications as notification_routes
from server.web.routes import overview as overview_routes
from server.web.routes import plan as plan_routes
from server.web.routes import polls as poll_routes
from server.web.routes import preparation as preparation_routes
from server.web.routes import profiles as profile_routes
from server.web.routes import protocols as protocol_routes
from server.web.routes import questionnaires as questionnaire_routes
from server.web.routes import resources as resource_routes
from server.web.routes import room as room_routes
from server.web.routes import search as search_routes
from server.web.routes import stats as stats_routes
from server.web.routes import topics as topic_routes
from server.web.routes.meeting import recording as recording_routes


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
        *recording_routes.routes,
        Mount("/static", StaticFiles(directory=str(static_dir)), name="static"),
    ]
