"""The protocol workflow: assembled when the meeting ends (a durable outbox job), edited by the
chair or secretary, reviewed by the members, approved and numbered within the school year.

Actions take the caller's session and never commit. Assembly is the pure
``server.domain.protocol.assemble_protocol`` over the meeting record and its log; the stored draft is
its text plus the human edits (``protocol_edits``, latest per key), so re-assembly after a late
correction of the log keeps every edit.
"""

from __future__ import annotations

import dataclasses
from datetime import date, datetime
from typing import TYPE_CHECKING, Any

from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from server.db.models import (
    AgendaItem,
    Association,
    Meeting,
    MeetingProtocol,
    Membership,
    Organisation,
    ProtocolEdit,
    ProtocolRemark,
    ProtocolStatus,
    ProtocolVersion,
    Role,
    User,
)
from server.db.types import utcnow
from server.domain.accounts.permissions import (
    is_meeting_moderator,
    require_login,
    require_member,
    require_methodist,
)
from server.domain.meeting.meeting_log import events_after
from server.domain.protocol import (
    AgendaEntry,
    InvalidProtocolEdit,
    MeetingInfo,
    Member,
    Protocol,
    assemble_protocol,
    editable_parts,
    render_text,
    validate_edit,
)
from server.domain.protocol import russian as ru
from server.domain.protocol.boards import with_board_pictures
from server.domain.protocol.model import Form
from server.domain.protocol.serialize import info_from_json, info_to_json
from server.errors import Conflict, Forbidden, NotFound
from server.mail.outbox import enqueue
from server.workers import job_handler

if TYPE_CHECKING:
    from server.runtime import Runtime

ASSEMBLE_JOB = "protocol.assemble"
MAX_REMARK = 2000


class ProtocolNotEditable(Conflict):
    code = "protocol_not_editable"


class ProtocolReviewClosed(Conflict):
    code = "protocol_review_closed"


class ProtocolRemarksOpen(Conflict):
    code = "protocol_remarks_open"


class ProtocolOfficersAbsent(Conflict):
    """The chair or secretary who would sign was not present: approval needs an explicit
    confirmation (or another officer named from those present)."""

    code = "protocol_officers_absent"


def require_officers_confirmed(protocol: Protocol, confirmed: bool) -> None:
    if protocol.absent_officers and not confirmed:
        raise ProtocolOfficersAbsent(details={"absent": list(protocol.absent_officers)})


def school_year_of(day: date) -> int:
    """The school year (1 September – 31 August) named by its first calendar year."""
    return day.year if day.month >= 9 else day.year - 1


# --- reading the meeting record ----------------------------------------------------------------
async def load_meeting_info(session: AsyncSession, meeting: Meeting) -> MeetingInfo:
    association = await session.get(Association, meeting.association_id)
    if association is None:
        raise NotFound()
    rows = (
        await session.execute(
            select(Membership.role, User, Organisation.name)
            .join(User, User.id == Membership.user_id)
            .outerjoin(Organisation, Organisation.id == User.organisation_id)
            .where(Membership.association_id == meeting.association_id)
            .order_by(User.last_name, User.first_name, User.id)
        )
    ).all()
    members = tuple(Member(f"u:{u.id}", u.full_name, u.short_name, org or "") for _, u, org in rows)
    people = {u.id: u for _, u, _ in rows}
    wanted = {i for i in (meeting.chair_id, meeting.secretary_id) if i is not None and i not in people}
    items = (
        await session.scalars(
            select(AgendaItem).where(AgendaItem.meeting_id == meeting.id).order_by(AgendaItem.position)
        )
    ).all()
    wanted |= {
        i.rapporteur_id for i in items if i.rapporteur_id is not None and i.rapporteur_id not in people
    }
    if wanted:
        people.update({u.id: u for u in await session.scalars(select(User).where(User.id.in_(wanted)))})
    methodist = next((u for role, u, _ in rows if role == Role.methodist), None)
    chair = people.get(meeting.chair_id) if meeting.chair_id else methodist
    secretary = people.get(meeting.secretary_id) if meeting.secretary_id else None
    agenda = []
    for item in items:
        rapporteur = people.get(item.rapporteur_id) if item.rapporteur_id else None
        agenda.append(
            AgendaEntry(
                item.id,
                item.position,
                item.title,
                rapporteur.short_name if rapporteur else item.rapporteur_name,
                f"u:{rapporteur.id}" if rapporteur else None,
            )
        )
    return MeetingInfo(
        meeting_id=meeting.id,
        association_name=association.name,
        title=meeting.title,
        founder_name=association.founder_name,
        place=association.place or "онлайн",
        quorum_rule=association.quorum_rule.value,
        members=members,
        agenda=tuple(agenda),
        chair=chair.short_name if chair else "",
        secretary=secretary.short_name if secretary else "",
        chair_key=f"u:{chair.id}" if chair else None,
        secretary_key=f"u:{secretary.id}" if secretary else None,
        scheduled_start=meeting.starts_at,
        scheduled_end=meeting.ends_at,
    )


async def current_edits(session: AsyncSession, protocol_id: int) -> dict[str, str]:
    rows = await session.scalars(
        select(ProtocolEdit).where(ProtocolEdit.protocol_id == protocol_id).order_by(ProtocolEdit.id)
    )
    return {r.key: r.value for r in rows}  # the latest edit of a key wins


async def _assemble(
    session: AsyncSession, row: MeetingProtocol, meeting: Meeting
) -> tuple[MeetingInfo, Protocol]:
    info = await load_meeting_info(session, meeting)
    if row.number is not None:
        info = dataclasses.replace(info, number=row.number)
    events = await events_after(session, meeting.id)
    edits = await current_edits(session, row.id) if row.id is not None else {}
    form: Form = "short" if row.form == "short" else "full"
    protocol = assemble_protocol(info, events, form=form, presence_share=row.presence_share, edits=edits)
    protocol = await with_board_pictures(session, protocol)
    row.text = render_text(protocol)
    row.last_seq = events[-1].seq if events else 0
    row.assembled_at = utcnow()
    return info, protocol


# --- assembly when the meeting ends (durable) ------------------------------------------------
async def enqueue_assembly(session: AsyncSession, meeting_id: int) -> bool:
    """Queue the draft's assembly in the caller's transaction (the one that ends the meeting).
    The dedupe key is the meeting: however often this is called, one job, one draft."""
    return await enqueue(session, ASSEMBLE_JOB, f"{ASSEMBLE_JOB}:{meeting_id}", {"meeting_id": meeting_id})


async def _draft_row(session: AsyncSession, meeting: Meeting) -> MeetingProtocol:
    """The meeting's protocol row, created if missing. Two builders at once (the job and a
    moderator's request, or two processes) both end up with the one row: the loser's insert
    fails on the unique meeting key inside a savepoint and it reads the winner's row."""
    query = select(MeetingProtocol).where(MeetingProtocol.meeting_id == meeting.id)
    row = await session.scalar(query)
    if row is not None:
        return row
    try:
        async with session.begin_nested():
            row = MeetingProtocol(
                meeting_id=meeting.id, association_id=meeting.association_id, form="full", presence_share=0.5
            )
            session.add(row)
    except IntegrityError:
        row = await session.scalar(query.execution_options(populate_existing=True))
        if row is None:
            raise
    return row


async def assemble_draft(session: AsyncSession, meeting_id: int) -> MeetingProtocol | None:
    """Create (or refresh) the meeting's draft; an approved protocol is left as it is.
    Idempotent: running it again after a crash finds the same row (unique per meeting)."""
    meeting = await session.get(Meeting, meeting_id)
    if meeting is None:
        return None
    row = await _draft_row(session, meeting)
    if row.status == ProtocolStatus.approved:
        return row
    await _assemble(session, row, meeting)
    await session.flush()
    return row


@job_handler(ASSEMBLE_JOB)
async def assemble_job(runtime: Runtime, payload: dict[str, Any]) -> None:
    from server.domain.meeting.transcript import index_transcript, wait_for_transcript

    meeting_id = int(payload["meeting_id"])
    wait = float(getattr(runtime.settings, "transcription_protocol_wait_seconds", 0.0))
    async with runtime.db.transaction() as session:
        await wait_for_transcript(session, meeting_id, wait)  # bounded: Deferred while speech is queued
        await assemble_draft(session, meeting_id)
        await index_transcript(session, meeting_id)


# --- editing, review, approval ---------------------------------------------------------------
async def _protocol_and_meeting(session: AsyncSession, protocol_id: int) -> tuple[MeetingProtocol, Meeting]:
    row = await session.get(MeetingProtocol, protocol_id)
    meeting = await session.get(Meeting, row.meeting_id) if row is not None else None
    if row is None or meeting is None:
        raise NotFound()
    return row, meeting


async def edit_protocol(
    session: AsyncSession, user: User | None, protocol_id: int, edits: dict[str, Any]
) -> MeetingProtocol:
    """The chair, the secretary or a methodist edits parts of the draft. Editing an approved
    protocol starts a correction: it becomes a draft again and its approval adds a version."""
    user = require_login(user)
    row, meeting = await _protocol_and_meeting(session, protocol_id)
    if not await is_meeting_moderator(session, user, meeting):
        raise Forbidden()
    if not edits:
        return row
    clean = {key: validate_edit(key, value) for key, value in edits.items()}
    _, protocol = await _assemble(session, row, meeting)
    known = editable_parts(protocol)
    unknown = sorted(set(clean) - set(known))
    if unknown:
        raise InvalidProtocolEdit(details={"key": unknown[0]})
    # An officer is named from the members present (or the meeting's own officer is kept).
    info = await load_meeting_info(session, meeting)
    allowed = {"", *(k for k, _ in protocol.officer_candidates), info.chair_key, info.secretary_key}
    for key in ("officer.chair", "officer.secretary"):
        if key in clean and clean[key] not in allowed:
            raise InvalidProtocolEdit(details={"key": key})
    for key, value in clean.items():
        session.add(ProtocolEdit(protocol_id=row.id, key=key, value=value, author_id=user.id))
    row.status = ProtocolStatus.draft
    await session.flush()
    await _assemble(session, row, meeting)
    return row


async def start_review(
    session: AsyncSession, user: User | None, protocol_id: int, until: datetime
) -> MeetingProtocol:
    row, _ = await _protocol_and_meeting(session, protocol_id)
    await require_methodist(session, user, row.association_id)
    if row.status == ProtocolStatus.approved:
        raise ProtocolNotEditable()
    row.status, row.review_until = ProtocolStatus.review, until
    from server.domain.community.search_index import protocol_review_opened  # members are notified

    await protocol_review_opened(session, row)
    return row


async def add_remark(session: AsyncSession, user: User | None, protocol_id: int, text: str) -> ProtocolRemark:
    row, _ = await _protocol_and_meeting(session, protocol_id)
    await require_member(session, user, row.association_id)
    assert user is not None
    if row.status != ProtocolStatus.review or row.review_until is None or utcnow() > row.review_until:
        raise ProtocolReviewClosed()
    text = text.strip()
    if not text or len(text) > MAX_REMARK:
        raise InvalidProtocolEdit(details={"key": "remark"})
    remark = ProtocolRemark(protocol_id=row.id, author_id=user.id, text=text)
    session.add(remark)
    await session.flush()
    return remark


async def resolve_remark(
    session: AsyncSession, user: User | None, remark_id: int, resolution: str
) -> ProtocolRemark:
    remark = await session.get(ProtocolRemark, remark_id)
    row = await session.get(MeetingProtocol, remark.protocol_id) if remark is not None else None
    if remark is None or row is None:
        raise NotFound()
    methodist = await require_methodist(session, user, row.association_id)
    remark.resolved_at, remark.resolved_by_id = utcnow(), methodist.id
    remark.resolution = resolution.strip()[:MAX_REMARK]
    return remark


async def check_approvable(
    session: AsyncSession, user: User | None, row: MeetingProtocol, meeting: Meeting
) -> None:
    """A methodist or the meeting's secretary, a protocol not yet approved, no open remarks."""
    if user is None or user.id != meeting.secretary_id:
        await require_methodist(session, user, row.association_id)
    if row.status == ProtocolStatus.approved:
        raise ProtocolNotEditable()
    open_remarks = await session.scalar(
        select(func.count(ProtocolRemark.id)).where(
            ProtocolRemark.protocol_id == row.id, ProtocolRemark.resolved_at.is_(None)
        )
    )
    if open_remarks:
        raise ProtocolRemarksOpen(count=open_remarks)


async def next_number(session: AsyncSession, row: MeetingProtocol, meeting: Meeting) -> tuple[int, int]:
    """(school year, the next number in it) for the protocol of ``meeting``."""
    year = school_year_of(ru.moscow(meeting.started_at or meeting.starts_at).date())
    last = await session.scalar(
        select(func.max(MeetingProtocol.number)).where(
            MeetingProtocol.association_id == row.association_id, MeetingProtocol.school_year == year
        )
    )
    return year, (last or 0) + 1


async def approve_protocol(
    session: AsyncSession, user: User | None, protocol_id: int, *, confirm_absent: bool = False
) -> ProtocolVersion:
    """Number the protocol within its association's school year (№ 1, 2, …) and freeze a version.
    A methodist or the meeting's secretary approves; open remarks must be resolved first; a
    signatory who was absent needs ``confirm_absent`` (ProtocolOfficersAbsent otherwise)."""
    user = require_login(user)
    row, meeting = await _protocol_and_meeting(session, protocol_id)
    await check_approvable(session, user, row, meeting)
    if row.number is None:
        # Approvals in one association queue on its row (PostgreSQL; SQLite's writer lock already
        # serialises), and UNIQUE(association, school year, number) backs the numbering.
        await session.scalar(
            select(Association.id).where(Association.id == row.association_id).with_for_update()
        )
        row.school_year, row.number = await next_number(session, row, meeting)
    info, protocol = await _assemble(session, row, meeting)
    require_officers_confirmed(protocol, confirm_absent)
    row.status, row.approved_at, row.approved_by_id = ProtocolStatus.approved, utcnow(), user.id
    row.version += 1
    version = ProtocolVersion(
        protocol_id=row.id,
        version=row.version,
        number=row.number,
        info=info_to_json(info),
        last_seq=row.last_seq,
        edits=await current_edits(session, row.id),
        form=row.form,
        presence_share=row.presence_share,
        text=row.text,
        approved_by_id=user.id,
        approved_at=row.approved_at,
    )
    session.add(version)
    await session.flush()
    return version


async def version_model(session: AsyncSession, version: ProtocolVersion, meeting_id: int) -> Protocol:
    """The frozen version's model, assembled again from its stored inputs (for DOCX/PDF)."""
    events = [e for e in await events_after(session, meeting_id) if e.seq <= version.last_seq]
    form: Form = "short" if version.form == "short" else "full"
    protocol = assemble_protocol(
        info_from_json(version.info),
        events,
        form=form,
        presence_share=version.presence_share,
        edits=version.edits,
    )
    return await with_board_pictures(session, protocol)


async def association_protocols(
    session: AsyncSession, association_id: int
) -> list[tuple[MeetingProtocol, Meeting]]:
    """The association's protocols, newest meeting first (the caller has checked membership)."""
    rows = await session.execute(
        select(MeetingProtocol, Meeting)
        .join(Meeting, Meeting.id == MeetingProtocol.meeting_id)
        .where(MeetingProtocol.association_id == association_id)
        .order_by(Meeting.starts_at.desc())
    )
    return [(row[0], row[1]) for row in rows]
