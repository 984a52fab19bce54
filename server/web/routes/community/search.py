"""HTTP route: one search box over what the reader may see (meetings, protocols, resources,
announcements, questions), labelled by kind, paginated."""

from __future__ import annotations

from sqlalchemy import select
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from server.db.models import Membership
from server.domain.accounts.permissions import require_login
from server.search import MAX_QUERY_CHARS, search
from server.web.auth import current_user
from server.web.templating import render

PER_PAGE = 20
KINDS = ("meeting", "protocol", "resource", "announcement", "question", "transcript")


async def search_page(request: Request) -> Response:
    user = require_login(current_user(request))
    q = request.query_params.get("q", "").strip()[:MAX_QUERY_CHARS]
    kind = request.query_params.get("kind", "")
    kinds = {kind} if kind in KINDS else None
    raw = request.query_params.get("page", "1")
    page = int(raw) if raw.isdigit() and len(raw) < 5 and int(raw) > 0 else 1
    hits = []
    has_next = False
    if q:
        async with request.app.state.runtime.db.read() as s:
            allowed: set[int] | None = None
            if not user.is_admin:
                allowed = set(
                    await s.scalars(select(Membership.association_id).where(Membership.user_id == user.id))
                )
            found = await search(
                s, q, association_ids=allowed, kinds=kinds, limit=PER_PAGE + 1, offset=(page - 1) * PER_PAGE
            )
        has_next = len(found) > PER_PAGE
        hits = found[:PER_PAGE]
    return render(
        request,
        "community/search/results.html",
        {
            "q": q,
            "search_q": q,
            "kind": kind if kinds else "",
            "kinds": KINDS,
            "hits": hits,
            "page": page,
            "has_next": has_next,
        },
    )


routes = [Route("/search", search_page)]
