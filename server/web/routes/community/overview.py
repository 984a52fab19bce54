"""HTTP routes: the regional overview for administrators, its CSV and XLSX exports."""

from __future__ import annotations

from urllib.parse import quote

from markupsafe import Markup
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from server.charts import bar_chart
from server.domain.accounts.permissions import require_admin
from server.domain.community import overview as domain
from server.web.auth import current_user
from server.web.templating import render

XLSX_TYPE = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


def _year(request: Request) -> int | None:
    raw = request.query_params.get("year", "")
    return int(raw) if raw.isdigit() and len(raw) == 4 else None


async def _load(request: Request) -> domain.Overview:
    user = require_admin(current_user(request))
    async with request.app.state.runtime.db.read() as s:
        return await domain.regional_overview(
            s, user, year=_year(request), sort=request.query_params.get("sort")
        )


def _download(data: bytes, media_type: str, ov: domain.Overview, ext: str) -> Response:
    name = f"Обзор СМО {ov.label.replace('/', '-')}.{ext}"
    fallback = f"overview-{ov.year}.{ext}"
    return Response(
        data,
        media_type=media_type,
        headers={
            "Content-Disposition": f"attachment; filename=\"{fallback}\"; filename*=UTF-8''{quote(name, safe='')}",
            "X-Content-Type-Options": "nosniff",
        },
    )


async def overview_page(request: Request) -> Response:
    ov = await _load(request)
    chart = bar_chart(
        [label for label, _ in ov.months],
        [n for _, n in ov.months],
        title=f"Проведено заседаний по месяцам, {ov.label}",
        fmt="svg",
    )
    return render(
        request,
        "community/overview/index.html",
        {
            "ov": ov,
            "columns": domain.COLUMNS,
            # bar_chart escapes its labels (server/charts.py): the SVG is safe to inline.
            "chart": Markup(chart.decode("utf-8")),
        },
    )


async def overview_csv(request: Request) -> Response:
    ov = await _load(request)
    return _download(domain.overview_csv(ov), "text/csv; charset=utf-8", ov, "csv")


async def overview_xlsx(request: Request) -> Response:
    ov = await _load(request)
    return _download(domain.overview_xlsx(ov), XLSX_TYPE, ov, "xlsx")


routes = [
    Route("/admin/overview", overview_page),
    Route("/admin/overview.csv", overview_csv),
    Route("/admin/overview.xlsx", overview_xlsx),
]
