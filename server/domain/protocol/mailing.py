"""The protocol page's reads, its form edits, and the mailing of an approved version.

The DOCX and PDF of a version are rendered once, before the approving transaction (the PDF is
slow, and on SQLite a transaction holds the writer lock): the version's model is predicted
from the draft and the next number; the transaction approves and checks that the frozen text
is the predicted one (a concurrent change retries). One e-mail per member is queued in the
same transaction, deduplicated per version and person, so a version is never mailed twice.
"""

from __future__ import annotations

import asyncio
import dataclasses
from dataclasses import dataclass, field
from datetime import timedelta
from typing import TYPE_CHECKING

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from server.db.models import (
    Association,
    Meeting,
    MeetingProtocol,
    Membership,
    OutboxMessage,
    ProtocolRemark,
    ProtocolStatus,
    ProtocolVersion,
    Role,
    User,
)
from server.db.types import utcnow
from server.domain.accounts.permissions import require_member, require_methodist
from server.domain.community.search_index import protocol_approved
from server.domain.meeting.meeting_log import events_after
from server.domain.protocol import (
    Protocol,
    assemble_protocol,
    editable_parts,
    render_docx,
    render_html,
    render_pdf,
    render_text,
)
from server.domain.protocol import russian as ru
from server.domain.protocol.boards import with_board_pictures
from server.domain.protocol.edit_form import EditFormView, edit_form_view
from server.domain.protocol.model import Form
from server.domain.protocol.workflow import (
    approve_protocol,
    check_approvable,
    current_edits,
    edit_protocol,
    load_meeting_info,
    next_number,
    require_officers_confirmed,
    start_review,
    version_model,
)
from server.errors import Conflict, NotFound
from server.mail.outbox import Attachment, Mail, enqueue_mail
from server.workers import wake_outbox

if TYPE_CHECKING:
    from server.db.engine import Database
    from server.runtime import Runtime

DOCX_TYPE = "application/vnd.openxmlformats-officedocument.wordprocessingml.document"
PDF_TYPE = "application/pdf"


class ProtocolChanged(Conflict):
    code = "protocol_changed"


@dataclass
class Files:
    docx: bytes
    pdf: bytes
    html: str
    text: str


@dataclass
class PageData:
    row: MeetingProtocol
    meeting: Meeting
    association: Association
    model: Protocol
    can_edit: bool
    is_methodist: bool
    versions: list[tuple[ProtocolVersion, str]]
    remarks: list[tuple[ProtocolRemark, str]]
    form: EditFormView | None  # the edit form (for the chair, the secretary, a methodist)
    warnings: list[str] = field(default_factory=list)  # what to settle before approval
    recipients: int = 0  # members with an e-mail address: the letters an approval queues
    mailing: list[tuple[str, str]] = field(default_factory=list)  # (recipient, status)


def file_stem(row: MeetingProtocol, model: Protocol) -> str:
    day = model.header.date
    when = f" от {ru.date_requisite(day)}" if day else ""
    if row.number is not None and row.status == ProtocolStatus.approved:
        return f"Протокол № {row.number}{when}"
    return f"Проект протокола{when}"


async def _load(session: AsyncSession, protocol_id: int) -> tuple[MeetingProtocol, Meeting]:
    row = await session.get(MeetingProtocol, protocol_id)
    meeting = await session.get(Meeting, row.meeting_id) if row is not None else None
    if row is None or meeting is None:
        raise NotFound()
    return row, meeting


async def _draft_model(
    session: AsyncSession, row: MeetingProtocol, meeting: Meeting, number: int | None
) -> Protocol:
    """The draft as it stands, assembled without touching the row."""
    info = await load_meeting_info(session, meeting)
    if number is not None:
        info = dataclasses.replace(info, number=number)
    form: Form = "short" if row.form == "short" else "full"
    protocol = assemble_protocol(
        info,
        await events_after(session, meeting.id),
        form=form,
        presence_share=row.presence_share,
        edits=await current_edits(session, row.id),
    )
    return await with_board_pictures(session, protocol)


async def _latest_version(session: AsyncSession, protocol_id: int) -> ProtocolVersion | None:
    return await session.scalar(
        select(ProtocolVersion)
        .where(ProtocolVersion.protocol_id == protocol_id)
        .order_by(ProtocolVersion.version.desc())
        .limit(1)
    )


async def current_model(session: AsyncSession, row: MeetingProtocol, meeting: Meeting) -> Protocol:
    if row.status == ProtocolStatus.approved:
        version = await _latest_version(session, row.id)
        if version is not None:
            return await version_model(session, version, meeting.id)
    return await _draft_model(session, row, meeting, row.number)


async def readable_protocol(
    session: AsyncSession, user: User | None, protocol_id: int
) -> tuple[MeetingProtocol, Protocol]:
    """For downloads: members of the association and administrators."""
    row, meeting = await _load(session, protocol_id)
    await require_member(session, user, row.association_id)
    return row, await current_model(session, row, meeting)


async def _names(session: AsyncSession, ids: set[int]) -> dict[int, str]:
    if not ids:
        return {}
    return {u.id: u.short_name for u in await session.scalars(select(User).where(User.id.in_(ids)))}


async def protocol_page(session: AsyncSession, user: User | None, protocol_id: int) -> PageData:
    row, meeting = await _load(session, protocol_id)
    role = await require_member(session, user, row.association_id)
    assert user is not None
    association = await session.get(Association, row.association_id)
    if association is None:
        raise NotFound()
    is_methodist = user.is_admin or role == Role.methodist
    can_edit = is_methodist or user.id in (meeting.chair_id, meeting.secretary_id)
    model = await current_model(session, row, meeting)
    versions = list(
        await session.scalars(
            select(ProtocolVersion)
            .where(ProtocolVersion.protocol_id == row.id)
            .order_by(ProtocolVersion.version)
        )
    )
    remarks = list(
        await session.scalars(
            select(ProtocolRemark).where(ProtocolRemark.protocol_id == row.id).order_by(ProtocolRemark.id)
        )
    )
    ids = {v.approved_by_id for v in versions if v.approved_by_id} | {
        r.author_id for r in remarks if r.author_id
    }
    names = await _names(session, ids)
    form = None
    if can_edit:
        info = await load_meeting_info(session, meeting)
        planned = {"chair": (info.chair_key, info.chair), "secretary": (info.secretary_key, info.secretary)}
        form = edit_form_view(model, planned)
    data = PageData(
        row=row,
        meeting=meeting,
        association=association,
        model=model,
        can_edit=can_edit,
        is_methodist=is_methodist,
        versions=[(v, names.get(v.approved_by_id or 0, "")) for v in versions],
        remarks=[(r, names.get(r.author_id or 0, "")) for r in remarks],
        form=form,
        warnings=absent_warnings(model) if row.status != ProtocolStatus.approved else [],
        recipients=len(await _recipients(session, row.association_id)),
    )
    if is_methodist:
        data.mailing = await mailing_status(session, row.id)
    return data


def absent_warnings(model: Protocol) -> list[str]:
    """One line per signatory who was not present (the page shows them before approval)."""
    out = []
    for role in model.absent_officers:
        office, name = ("председатель", model.chair) if role == "chair" else ("секретарь", model.secretary)
        out.append(f"На заседании не присутствовал {office} {name}, который указан подписантом протокола.")
    return out


async def mailing_status(session: AsyncSession, protocol_id: int) -> list[tuple[str, str]]:
    rows = await session.scalars(
        select(OutboxMessage)
        .where(OutboxMessage.dedupe_key.startswith(f"mail:protocol:{protocol_id}:v", autoescape=True))
        .order_by(OutboxMessage.id)
    )
    out = []
    for r in rows:
        version = r.dedupe_key.split(":")[3]
        out.append((f"{r.payload.get('to', '')} ({version})", r.status))
    return out


# --- editing and review -------------------------------------------------------------------------
CHAT_SHOWN = "chat_shown"  # the form listed the chat: an unchecked message is not promoted
PROMOTE = "promote"  # the checked messages' log seqs


async def edit_from_form(
    session: AsyncSession, user: User | None, protocol_id: int, values: dict[str, str | list[str]]
) -> MeetingProtocol:
    """Apply the changed fields of the edit form (unchanged ones add no history)."""
    row, meeting = await _load(session, protocol_id)
    current = editable_parts(await _draft_model(session, row, meeting, row.number))
    fields = {k: v for k, v in values.items() if isinstance(v, str) and k != CHAT_SHOWN}
    if values.get(CHAT_SHOWN):
        checked = values.get(PROMOTE, [])
        seqs = {v for v in (checked if isinstance(checked, list) else [checked]) if v.isdigit()}
        for key in current:
            if key.startswith("chat."):
                fields[key] = "1" if key.split(".")[1] in seqs else ""
    changed = {k: v for k, v in fields.items() if current.get(k) != v.replace("\r\n", "\n").strip()}
    return await edit_protocol(session, user, protocol_id, changed)


async def review_for_days(session: AsyncSession, user: User | None, protocol_id: int, days: int) -> None:
    await start_review(session, user, protocol_id, utcnow() + timedelta(days=days))


async def remark_protocol_id(session: AsyncSession, remark_id: int) -> int:
    remark = await session.get(ProtocolRemark, remark_id)
    if remark is None:
        raise NotFound()
    return remark.protocol_id


# --- approval and mailing -----------------------------------------------------------------------
async def _predicted(
    session: AsyncSession, user: User | None, protocol_id: int, confirm_absent: bool
) -> tuple[Protocol, int]:
    """The model the next approval will freeze (with its number), and the version it will get."""
    row, meeting = await _load(session, protocol_id)
    # approve_protocol checks these again; checking first spares a useless PDF rendering.
    await check_approvable(session, user, row, meeting)
    number = row.number if row.number is not None else (await next_number(session, row, meeting))[1]
    model = await _draft_model(session, row, meeting, number)
    require_officers_confirmed(model, confirm_absent)
    return model, row.version + 1


async def render_files(model: Protocol) -> Files:
    pdf = await asyncio.to_thread(render_pdf, model)
    return Files(docx=render_docx(model), pdf=pdf, html=render_html(model), text=render_text(model))


async def _recipients(session: AsyncSession, association_id: int) -> list[User]:
    users = await session.scalars(
        select(User)
        .join(Membership, Membership.user_id == User.id)
        .where(Membership.association_id == association_id)
        .order_by(User.id)
    )
    return [u for u in users if u.email]


def _mail_key(row: MeetingProtocol, version: ProtocolVersion, user: User) -> str:
    return f"protocol:{row.id}:v{version.version}:user:{user.id}"


async def _unmailed(session: AsyncSession, row: MeetingProtocol, version: ProtocolVersion) -> list[User]:
    users = await _recipients(session, row.association_id)
    keys = {f"mail:{_mail_key(row, version, u)}" for u in users}
    done = set(
        await session.scalars(select(OutboxMessage.dedupe_key).where(OutboxMessage.dedupe_key.in_(keys)))
    )
    return [u for u in users if f"mail:{_mail_key(row, version, u)}" not in done]


async def queue_mailing(
    session: AsyncSession, row: MeetingProtocol, version: ProtocolVersion, model: Protocol, files: Files
) -> int:
    """One message per member with an e-mail address; returns how many were newly queued."""
    association = await session.get(Association, row.association_id)
    assert association is not None
    day = model.header.date
    subject = f"Протокол заседания № {version.number}"
    if day:
        subject += f" от {ru.date_requisite(day)}"
    subject += f" — {association.name}"
    stem = f"Протокол № {version.number}" + (f" от {ru.date_requisite(day)}" if day else "")
    queued = 0
    for u in await _recipients(session, row.association_id):
        mail = Mail(
            to=u.email,
            subject=subject,
            text=files.text,
            html=files.html,
            attachments=[
                Attachment(f"{stem}.docx", DOCX_TYPE, files.docx),
                Attachment(f"{stem}.pdf", PDF_TYPE, files.pdf),
            ],
        )
        queued += await enqueue_mail(session, _mail_key(row, version, u), mail)
    return queued


async def approve_and_mail(
    runtime: Runtime, user: User | None, protocol_id: int, *, confirm_absent: bool = False
) -> tuple[ProtocolVersion, int]:
    """Approve and queue one letter per member; returns the version and the letters queued."""
    db: Database = runtime.db
    for _ in range(3):
        async with db.read() as s:
            model, _version = await _predicted(s, user, protocol_id, confirm_absent)
        files = await render_files(model)
        try:
            async with db.transaction() as s:
                version = await approve_protocol(s, user, protocol_id, confirm_absent=confirm_absent)
                if version.text != files.text:
                    raise ProtocolChanged()
                row, _ = await _load(s, protocol_id)
                queued = await queue_mailing(s, row, version, model, files)
                await protocol_approved(s, row, version, model)  # search index + notifications
        except ProtocolChanged:
            continue  # the draft changed between rendering and approval: render again
        wake_outbox(runtime)
        return version, queued
    raise ProtocolChanged()


async def mail_latest_version(runtime: Runtime, user: User | None, protocol_id: int) -> int:
    """Queue the latest approved version to every member who has not had it (new members)."""
    db: Database = runtime.db
    async with db.read() as s:
        row, meeting = await _load(s, protocol_id)
        await require_methodist(s, user, row.association_id)
        version = await _latest_version(s, row.id)
        if version is None:
            raise NotFound()
        model = await version_model(s, version, meeting.id)
        if not await _unmailed(s, row, version):
            return 0  # everyone has it: no rendering, nothing queued
    files = await render_files(model)
    async with db.transaction() as s:
        row, _ = await _load(s, protocol_id)
        await require_methodist(s, user, row.association_id)
        queued = await queue_mailing(s, row, version, model, files)
    wake_outbox(runtime)
    return queued
