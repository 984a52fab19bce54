"""The official meeting protocol (протокол заседания): model, assembly, renderings."""

from server.domain.protocol.assemble import assemble_protocol
from server.domain.protocol.edits import InvalidProtocolEdit, apply_edits, editable_parts, validate_edit
from server.domain.protocol.model import AgendaEntry, MeetingInfo, Member, Protocol
from server.domain.protocol.render import render_docx, render_html, render_pdf, render_text

__all__ = [
    "AgendaEntry",
    "InvalidProtocolEdit",
    "MeetingInfo",
    "Member",
    "Protocol",
    "apply_edits",
    "assemble_protocol",
    "editable_parts",
    "render_docx",
    "render_html",
    "render_pdf",
    "render_text",
    "validate_edit",
]
