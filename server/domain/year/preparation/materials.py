"""A meeting's materials: files and links added and removed by its moderators, copied
into the resource base after the meeting."""

from __future__ import annotations

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from server.db.models import Association, Meeting, MeetingStatus, StoredFile, User
from server.db.models.preparation import MaterialKind, MeetingMaterial
from server.domain.accounts.associations import MAX_ID
from server.domain.accounts.permissions import require_methodist
from server.domain.meeting.meetings import get_meeting
from server.domain.protocol import russian as ru
from server.domain.year.preparation.reading import managed_meeting, readable_meeting
from server.domain.year.preparation.rules import (
    MAX_MATERIALS,
    AlreadyInResources,
    MaterialInput,
    MaterialsClosed,
    NotAfterMeeting,
    TooManyMaterials,
)
from server.domain.year.resources import create_resource
from server.errors import NotFound, ValidationFailed
from server.files import DOCUMENTS, Upload, save_upload
from server.settings import Settings


async def add_material(
    session: AsyncSession,
    settings: Settings,
    user: User | None,
    meeting_id: int,
    data: MaterialInput,
    upload: Upload | None,
) -> MeetingMaterial:
    """A file (checked by content, stored by server/files) or an http(s) link, with a title."""
    meeting = await managed_meeting(session, user, meeting_id)
    if meeting.status == MeetingStatus.cancelled:
        raise MaterialsClosed()
    if upload is not None and data.url:
        raise ValidationFailed(details={"fields": {"url": "both"}})
    if upload is None and not data.url:
        raise ValidationFailed(details={"fields": {"file": "file_or_url"}})
    count = await session.scalar(
        select(func.count()).select_from(MeetingMaterial).where(MeetingMaterial.meeting_id == meeting.id)
    )
    if int(count or 0) >= MAX_MATERIALS:
        raise TooManyMaterials()
    material = MeetingMaterial(meeting_id=meeting.id, title=data.title, added_by_id=user.id if user else None)
    if upload is not None:
        stored = await save_upload(session, settings, upload, allowed=DOCUMENTS, user=user)
        material.kind = MaterialKind.file
        material.file_id = stored.id
    else:
        material.kind = MaterialKind.link
        material.url = data.url
    session.add(material)
    await session.flush()
    return material


async def _material(session: AsyncSession, meeting: Meeting, material_id: int) -> MeetingMaterial:
    material = await session.get(MeetingMaterial, material_id) if 0 < material_id <= MAX_ID else None
    if material is None or material.meeting_id != meeting.id:
        raise NotFound()
    return material


async def remove_material(
    session: AsyncSession, user: User | None, meeting_id: int, material_id: int
) -> None:
    meeting = await managed_meeting(session, user, meeting_id)
    material = await _material(session, meeting, material_id)
    await session.delete(material)
    await session.flush()


async def material_file(
    session: AsyncSession, user: User | None, meeting_id: int, material_id: int
) -> StoredFile:
    """The stored file of a material, for members of the association and administrators."""
    meeting = await readable_meeting(session, user, meeting_id)
    material = await _material(session, meeting, material_id)
    stored = await session.get(StoredFile, material.file_id) if material.file_id else None
    if material.kind != MaterialKind.file or stored is None:
        raise NotFound()
    return stored


def _resource_kind(stored: StoredFile | None) -> str:
    """The resource base's type for a material: presentations and videos are known by content."""
    if stored is None:
        return "other"
    if stored.content_type.endswith(("presentationml.presentation", "opendocument.presentation")):
        return "presentation"
    if stored.content_type.startswith("video/"):
        return "video"
    return "other"


async def material_to_resource(
    session: AsyncSession, settings: Settings, user: User | None, meeting_id: int, material_id: int
) -> int:
    """«Добавить в базу ресурсов»: after the meeting, by the methodist, published at once.

    The resource shares the material's stored file (or its link); returns the resource's id.
    """
    meeting = await get_meeting(session, meeting_id)
    actor = await require_methodist(session, user, meeting.association_id)
    material = await _material(session, meeting, material_id)
    if meeting.status != MeetingStatus.ended:
        raise NotAfterMeeting()
    if material.resource_id is not None:
        raise AlreadyInResources()
    association = await session.get(Association, meeting.association_id)
    stored = await session.get(StoredFile, material.file_id) if material.file_id else None
    if material.kind == MaterialKind.file and stored is None:
        raise NotFound()
    resource = await create_resource(
        session,
        settings,
        association_id=meeting.association_id,
        user=actor,
        title=material.title,
        description=f"Материал заседания «{meeting.title}» ({ru.date_text(meeting.starts_at)}).",
        subject=association.subject if association else "",
        kind=_resource_kind(stored),
        file_id=stored.id if stored else None,
        link=material.url if material.kind == MaterialKind.link else None,
        publish=True,
    )
    material.resource_id = resource.id
    await session.flush()
    return resource.id
