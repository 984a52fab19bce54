"""The explicit list of every HTTP route, module by module."""

from __future__ import annotations

from pathlib import Path

from starlette.routing import BaseRoute, Mount
from starlette.staticfiles import StaticFiles

from server.web.routes import accounts, admin, associations, meetings, system
from server.web.routes import documents as document_routes
from server.web.routes import polls as poll_routes
from server.web.routes import protocols as protocol_routes
from server.web.routes import room as room_routes


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
        Mount("/static", StaticFiles(directory=str(static_dir)), name="static"),
    ]
