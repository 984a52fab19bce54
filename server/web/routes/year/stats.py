"""HTTP routes: the activity statistics of a school year (clause 6.1), its CSV export."""

from __future__ import annotations

from urllib.parse import quote

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from server.domain.year.stats import (
    activity_table,
    csv_bytes,
    default_year,
    formula_symbols,
    formula_words,
    metric_label,
    number_text,
)
from server.errors import Forbidden
from server.web.auth import current_user, request_locale
from server.web.templating import render


async def stats_page(request: Request) -> Response:
    year = default_year(request.query_params.get("year"))
    locale = request_locale(request)
    async with request.app.state.runtime.db.read() as s:
        table = await activity_table(s, current_user(request), request.path_params["id"], year)
    years = table.years if year in table.years else sorted({*table.years, year}, reverse=True)
    return render(
        request,
        "year/stats/index.html",
        {
            "table": table,
            "association": table.association,
            "years": years,
            "labels": {m.key: metric_label(m, locale) for m in table.metrics},
            "num": lambda v: number_text(v, locale),
            "formula_symbols": formula_symbols(table.metrics, locale),
            "formula_words": formula_words(table.metrics, locale),
        },
    )


async def stats_csv(request: Request) -> Response:
    year = default_year(request.query_params.get("year"))
    locale = request_locale(request)
    async with request.app.state.runtime.db.read() as s:
        table = await activity_table(s, current_user(request), request.path_params["id"], year)
    if not table.full:  # the export is the methodist's (it holds everyone's figures)
        raise Forbidden()
    name = f"Активность участников СМО {year}-{year + 1}.csv"
    disposition = f"attachment; filename=\"activity-{year}.csv\"; filename*=UTF-8''{quote(name, safe='')}"
    return Response(
        csv_bytes(table, locale),
        media_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": disposition, "X-Content-Type-Options": "nosniff"},
    )


routes = [
    Route("/associations/{id:int}/stats", stats_page),
    Route("/associations/{id:int}/stats.csv", stats_csv),
]
