"""HTTP routes of the shared documents: the readable list and the Markdown / DOCX exports."""

from __future__ import annotations

from typing import Any
from urllib.parse import quote

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from server.domain.meeting.doc_export import (
    export_docx,
    export_markdown,
    file_name,
    readable_document,
    readable_documents,
)
from server.web.auth import current_user
from server.web.templating import render

DOCX = "application/vnd.openxmlformats-officedocument.wordprocessingml.document"


def _db(request: Request) -> Any:
    return request.app.state.runtime.db


def _attachment(name: str) -> dict[str, str]:
    ascii_name = name.encode("ascii", "replace").decode().replace("?", "_")
    return {"Content-Disposition": f"attachment; filename=\"{ascii_name}\"; filename*=UTF-8''{quote(name)}"}


async def documents_page(request: Request) -> Response:
    async with _db(request).read() as s:
        meeting, items = await readable_documents(s, current_user(request), request.path_params["id"])
    return render(request, "meeting/documents/list.html", {"m": meeting, "items": items})


async def document_markdown(request: Request) -> Response:
    async with _db(request).read() as s:
        meeting, item = await readable_document(
            s, current_user(request), request.path_params["id"], request.path_params["doc_id"]
        )
    return Response(
        export_markdown(meeting, item),
        media_type="text/markdown; charset=utf-8",
        headers=_attachment(file_name(item, "md")),
    )


async def document_docx(request: Request) -> Response:
    async with _db(request).read() as s:
        meeting, item = await readable_document(
            s, current_user(request), request.path_params["id"], request.path_params["doc_id"]
        )
    return Response(export_docx(meeting, item), media_type=DOCX, headers=_attachment(file_name(item, "docx")))


routes = [
    Route("/meetings/{id:int}/documents", documents_page),
    Route("/meetings/{id:int}/documents/{doc_id:int}.md", document_markdown),
    Route("/meetings/{id:int}/documents/{doc_id:int}.docx", document_docx),
]
