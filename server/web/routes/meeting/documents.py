"""HTTP routes of the shared documents: the readable list and the Markdown / DOCX exports;
a board's pages as SVG and PNG and all of them as one PDF."""

from __future__ import annotations

from typing import Any
from urllib.parse import quote

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from server.domain.meeting import board, board_render
from server.domain.meeting.doc_export import (
    ReadableDocument,
    export_docx,
    export_markdown,
    file_name,
    readable_document,
    readable_documents,
)
from server.errors import NotFound
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


# A page's SVG is shown in <img> on the documents page; opened on its own it may run nothing.
SVG_HEADERS = {"Content-Security-Policy": "default-src 'none'; img-src data:; style-src 'unsafe-inline'"}


async def _board(request: Request) -> ReadableDocument:
    async with _db(request).read() as s:
        _, item = await readable_document(
            s, current_user(request), request.path_params["id"], request.path_params["doc_id"]
        )
    if not item.is_board:
        raise NotFound()
    return item


def _page(item: ReadableDocument, number: int) -> board.Page:
    if not 1 <= number <= len(item.pages):
        raise NotFound()
    return item.pages[number - 1]


async def board_page_svg(request: Request) -> Response:
    item = await _board(request)
    number = request.path_params["page"]
    svg = board_render.page_svg(_page(item, number), item.files)
    name = file_name(item, f"{number}.svg")
    return Response(svg, media_type="image/svg+xml", headers={**SVG_HEADERS, **_inline(name)})


async def board_page_png(request: Request) -> Response:
    item = await _board(request)
    number = request.path_params["page"]
    png = board_render.page_png(_page(item, number), item.files)
    return Response(png, media_type="image/png", headers=_inline(file_name(item, f"{number}.png")))


async def board_pdf(request: Request) -> Response:
    item = await _board(request)
    pdf = board_render.pages_pdf(item.pages, item.files, item.document.title)
    return Response(pdf, media_type="application/pdf", headers=_attachment(file_name(item, "pdf")))


def _inline(name: str) -> dict[str, str]:
    return {
        "Content-Disposition": _attachment(name)["Content-Disposition"].replace("attachment", "inline", 1)
    }


routes = [
    Route("/meetings/{id:int}/documents", documents_page),
    Route("/meetings/{id:int}/documents/{doc_id:int}.md", document_markdown),
    Route("/meetings/{id:int}/documents/{doc_id:int}.docx", document_docx),
    Route("/meetings/{id:int}/documents/{doc_id:int}/board/{page:int}.svg", board_page_svg),
    Route("/meetings/{id:int}/documents/{doc_id:int}/board/{page:int}.png", board_page_png),
    Route("/meetings/{id:int}/documents/{doc_id:int}/board.pdf", board_pdf),
]
