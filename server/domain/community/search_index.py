"""The search index of meetings and protocols, and the protocol workflow's notifications.

- Meetings: indexed when created or changed (title, description, agenda), re-indexed as
  cancelled; members-only (``association_id`` set), found by members and administrators.
- Protocols: indexed on approval (number, date, meeting, agenda and decisions).
- Protocol review opened / protocol approved: ``notify`` the association's members.
"""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from server.db.models import AgendaItem, Association, Meeting, MeetingProtocol, MeetingStatus, Membership
from server.db.models.notifications import NotificationKind
from server.db.models.protocols import ProtocolVersion
from server.domain.community.notifications import notify
from server.domain.meeting.meeting_hooks import MeetingChange, on_meeting_change
from server.domain.protocol import Protocol
from server.domain.protocol import russian as ru
from server.search import index_entry

MEETING = "meeting"
PROTOCOL = "protocol"


async def index_meeting(session: AsyncSession, meeting: Meeting) -> None:
    agenda = list(
        await session.scalars(
            select(AgendaItem.title).where(AgendaItem.meeting_id == meeting.id).order_by(AgendaItem.position)
        )
    )
    when = ru.date_text(ru.moscow(meeting.held_at).date())
    lines = [f"Заседание {when}."]
    if meeting.status == MeetingStatus.cancelled:
        lines.append("Заседание отменено.")
    if meeting.description:
        lines.append(meeting.description)
    if agenda:
        lines.append("Повестка: " + "; ".join(f"{n}. {t}" for n, t in enumerate(agenda, start=1)))
    await index_entry(
        session,
        kind=MEETING,
        object_id=meeting.id,
        association_id=meeting.association_id,
        title=meeting.title,
        body="\n".join(lines),
        url=f"/meetings/{meeting.id}",
    )


@on_meeting_change
async def _meeting_changed(session: AsyncSession, meeting: Meeting, change: MeetingChange) -> None:
    if change.kind in ("created", "updated", "cancelled"):
        await index_meeting(session, meeting)


def protocol_text(model: Protocol) -> str:
    lines: list[str] = []
    for item in model.items:
        lines.append(f"{item.number}. {item.title}")
        for d in item.decisions:
            if d.text:
                lines.append(f"ПОСТАНОВИЛИ {d.number}: {d.text}")
    lines += [f"{t.short_name}: {t.text}" for t in model.stenogram]  # the transcript, if any
    return "\n".join(lines)


async def index_protocol(
    session: AsyncSession, row: MeetingProtocol, version: ProtocolVersion, model: Protocol
) -> None:
    meeting = await session.get(Meeting, row.meeting_id)
    day = model.header.date
    title = f"Протокол № {version.number}" + (f" от {ru.date_requisite(day)}" if day else "")
    if meeting is not None:
        title += f" — {meeting.title}"
    await index_entry(
        session,
        kind=PROTOCOL,
        object_id=row.id,
        association_id=row.association_id,
        title=title,
        body=protocol_text(model),
        url=f"/protocols/{row.id}",
    )


async def _members(session: AsyncSession, association_id: int) -> list[int]:
    return list(
        await session.scalars(select(Membership.user_id).where(Membership.association_id == association_id))
    )


async def _meeting_label(session: AsyncSession, row: MeetingProtocol) -> tuple[str, str]:
    meeting = await session.get(Meeting, row.meeting_id)
    association = await session.get(Association, row.association_id)
    when = ru.date_requisite(ru.moscow(meeting.held_at).date()) if meeting else ""
    return (association.name if association else ""), f"«{meeting.title if meeting else ''}» ({when})"


async def protocol_review_opened(session: AsyncSession, row: MeetingProtocol) -> None:
    """Members may now leave remarks: tell them (once per review round's deadline)."""
    name, label = await _meeting_label(session, row)
    until = f" до {ru.moscow(row.review_until).strftime('%d.%m.%Y %H:%M')}" if row.review_until else ""
    await notify(
        session,
        await _members(session, row.association_id),
        NotificationKind.protocol_review,
        dedupe_key=f"protocol:{row.id}:review:{row.review_until.isoformat() if row.review_until else ''}",
        title=f"{name}: проект протокола заседания {label} открыт для замечаний{until}",
        url=f"/protocols/{row.id}",
        association_id=row.association_id,
    )


async def protocol_approved(
    session: AsyncSession, row: MeetingProtocol, version: ProtocolVersion, model: Protocol
) -> None:
    """Approved: index it and tell the members (once per version)."""
    await index_protocol(session, row, version, model)
    name, label = await _meeting_label(session, row)
    await notify(
        session,
        await _members(session, row.association_id),
        NotificationKind.protocol_approved,
        dedupe_key=f"protocol:{row.id}:approved:v{version.version}",
        title=f"{name}: утверждён протокол № {version.number} заседания {label}",
        url=f"/protocols/{row.id}",
        association_id=row.association_id,
    )
