"""HTTP routes of a meeting's recording: the page, the downloads (the mixed audio, each track)
and the methodist's deletion (docs/recording.md). Thin: check, call the domain, respond."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict
from starlette.requests import Request
from starlette.responses import FileResponse, RedirectResponse, Response
from starlette.routing import Route

import server.domain.meeting.recording_mix  # noqa: F401  (registers the mixing job)
from server.domain.meeting.recording import (
    delete_recording,
    recording_for_member,
    recording_path,
    remove_files,
)
from server.domain.meeting.recording_page import clock, recording_view, track_for_member
from server.errors import NotFound
from server.files.store import SAFE_HEADERS, clean_filename, content_disposition
from server.i18n import translate
from server.web.auth import current_user, request_database, request_locale
from server.web.forms import read_form
from server.web.routes.accounts.accounts import put_flash, take_flash
from server.web.templating import render

MEDIA_TYPES = {".webm": "video/webm", ".ogg": "audio/ogg"}


class DeleteForm(BaseModel):
    model_config = ConfigDict(extra="ignore")
    confirm: Literal["yes"]


async def recording_page(request: Request) -> Response:
    async with request_database(request).read() as s:
        view = await recording_view(s, current_user(request), request.path_params["id"])
    return render(
        request,
        "meeting/recording.html",
        {"v": view, "clock": clock, "flash": take_flash(request)},
    )


def _file(request: Request, path_name: str, download_name: str, audio_only: bool = False) -> Response:
    path = recording_path(request.app.state.runtime.settings, path_name)
    if not path.is_file():
        raise NotFound()
    suffix = path.suffix
    media_type = MEDIA_TYPES[suffix]
    if audio_only and suffix == ".webm":
        media_type = "audio/webm"
    headers = dict(SAFE_HEADERS)
    headers["Content-Disposition"] = content_disposition(clean_filename(download_name) + suffix)
    return FileResponse(path, media_type=media_type, headers=headers)


async def recording_audio(request: Request) -> Response:
    async with request_database(request).read() as s:
        meeting, recording, _ = await recording_for_member(
            s, current_user(request), request.path_params["id"]
        )
    if not recording.audio_storage_name:
        raise NotFound()
    day = (meeting.started_at or meeting.starts_at).strftime("%d.%m.%Y")
    return _file(request, recording.audio_storage_name, f"Запись встречи {day} {meeting.title[:80]}")


async def recording_track(request: Request) -> Response:
    async with request_database(request).read() as s:
        meeting, row, speaker = await track_for_member(
            s, current_user(request), request.path_params["id"], request.path_params["track"]
        )
    label = {"mic": "микрофон", "camera": "камера", "screen": "экран"}.get(row.source, row.source)
    return _file(
        request, row.storage_name, f"{speaker} — {label} — {meeting.title[:60]}", row.kind == "audio"
    )


async def recording_delete(request: Request) -> Response:
    meeting_id = request.path_params["id"]
    await read_form(request, DeleteForm)
    async with request_database(request).transaction() as s:
        paths = await delete_recording(
            s, request.app.state.runtime.settings, current_user(request), meeting_id
        )
    remove_files(paths)
    put_flash(request, "ok", translate("recording.flash.deleted", request_locale(request)))
    return RedirectResponse(f"/meetings/{meeting_id}", status_code=303)


routes = [
    Route("/meetings/{id:int}/recording", recording_page),
    Route("/meetings/{id:int}/recording/audio", recording_audio),
    Route("/meetings/{id:int}/recording/tracks/{track:int}", recording_track),
    Route("/meetings/{id:int}/recording/delete", recording_delete, methods=["POST"]),
]
