"""HTTP routes: poll exports as CSV for Excel (UTF-8 with BOM, «;» as the separator, which
Russian-locale Excel expects; cells that Excel would run as formulas are quoted with «'»).

GET /meetings/{id}/polls/{poll_id}/results.csv  the frozen counts of any closed poll
GET /meetings/{id}/polls/{poll_id}/votes.csv    who voted what (named polls only; 403 for secret)
"""

from __future__ import annotations

from collections.abc import Iterable

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route

from server.db.models.polls import PollStatus
from server.domain.meeting.poll_exports import poll_results, poll_votes, readable_poll
from server.domain.meeting.polls import is_overdue
from server.i18n import translate
from server.spreadsheet import csv_text
from server.web.auth import current_user, request_locale


def csv_response(rows: Iterable[Iterable[object]], filename: str) -> Response:
    return Response(
        csv_text([str(v) for v in row] for row in rows),
        media_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": f'attachment; filename="{filename}"'},
    )


async def _close_if_overdue(request: Request, meeting_id: int, poll_id: int) -> None:
    """The exports are reads that also close a poll whose timer ran out (e.g. after a restart)."""
    runtime = request.app.state.runtime
    async with runtime.db.read() as s:
        poll = await readable_poll(s, current_user(request), meeting_id, poll_id)
        overdue = poll.status == PollStatus.open and is_overdue(poll)
    if overdue:
        if runtime.live is None:
            raise RuntimeError("the realtime server is not running")
        await runtime.live.close_overdue_polls(meeting_id)


async def results_csv(request: Request) -> Response:
    meeting_id, poll_id = request.path_params["meeting_id"], request.path_params["poll_id"]
    await _close_if_overdue(request, meeting_id, poll_id)
    loc = request_locale(request)

    def t(key: str) -> str:
        return translate(f"polls.csv.{key}", loc)

    async with request.app.state.runtime.db.read() as s:
        poll, result = await poll_results(s, current_user(request), meeting_id, poll_id)
    rows: list[list[object]] = [
        [t("question"), poll.question],
        [t("ballot"), t("secret") if poll.secret else t("named")],
        [t("option"), t("votes")],
        *([opt, count] for opt, count in zip(poll.options, result["counts"], strict=True)),
        [t("eligible"), result["eligible"]],
        [t("present"), result["present"]],
        [t("cast"), result["cast"]],
        [t("quorum"), t("yes") if result["quorum"] else t("no")],
    ]
    if result.get("outcome"):
        rows.append([t("outcome"), t(str(result["outcome"]))])
        rows.append([t("unanimous"), t("yes") if result.get("unanimous") else t("no")])
    return csv_response(rows, f"poll-{poll.id}-results.csv")


async def votes_csv(request: Request) -> Response:
    meeting_id, poll_id = request.path_params["meeting_id"], request.path_params["poll_id"]
    loc = request_locale(request)

    def t(key: str) -> str:
        return translate(f"polls.csv.{key}", loc)

    async with request.app.state.runtime.db.read() as s:
        poll, votes = await poll_votes(s, current_user(request), meeting_id, poll_id)
    rows: list[list[object]] = [[t("number"), t("name"), t("organisation"), t("choice")]]
    for i, vote in enumerate(votes, 1):
        name = f"{vote.name} ({t('guest')})" if vote.guest else vote.name
        rows.append([i, name, vote.organisation, "; ".join(vote.choices)])
    return csv_response(rows, f"poll-{poll.id}-votes.csv")


routes: list[BaseRoute] = [
    Route("/meetings/{meeting_id:int}/polls/{poll_id:int}/results.csv", results_csv),
    Route("/meetings/{meeting_id:int}/polls/{poll_id:int}/votes.csv", votes_csv),
]
