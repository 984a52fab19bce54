"""Preparing a meeting (clause 5.1): the information letter with its iCalendar invitation,
materials, members' registration, the reminder and the «заседание завтра» notification.

Rights: the letter is the methodist's (methodists of the association, administrators);
materials are added and removed by the meeting's moderators by office (methodists,
administrators, the chair and the secretary), who also see the registrations; members of the
association (and administrators) read the materials and register.

Mail never leaves from a request: rows in the durable outbox do the work.

* ``meeting.letter`` {letter_id} expands one :class:`MeetingLetter` (an invitation, an update
  after a reschedule, or a cancellation) into one e-mail per recipient, deduplicated by
  ``letter:{meeting}:{sequence}:{user}``. A letter superseded by a later SEQUENCE is skipped
  (the later one carries the news).
* ``meeting.schedule`` {meeting_id, starts_at} is queued whenever a meeting gets a start
  (created, rescheduled; also on registering and sending the letter, for meetings made
  otherwise); it queues the two delayed jobs for that start, because only a job sees the
  settings (``reminder_minutes``).
* ``meeting.reminder`` {meeting_id, starts_at} at ``starts_at - reminder_minutes``: one e-mail
  per registrant (``reminder:{meeting}:{start}:{user}``), only if the meeting still starts then.
* ``meeting.tomorrow`` {meeting_id, starts_at} at 09:00 Moscow time of the day before the
  meeting (or at once when the meeting is planned later than that on the day before):
  ``notify(..., meeting_tomorrow)`` for every member, only if the meeting still starts then and
  it is still the day before.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import UTC, datetime, time, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any
from urllib.parse import urlsplit

from jinja2 import Environment, FileSystemLoader, select_autoescape
from pydantic import AfterValidator, BaseModel, ConfigDict, StringConstraints
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import selectinload

from server.db.models import (
    Association,
    Meeting,
    MeetingStatus,
    Membership,
    NotificationKind,
    Organisation,
    Role,
    StoredFile,
    User,
)
from server.db.models.preparation import (
    LetterReason,
    MaterialKind,
    MeetingLetter,
    MeetingMaterial,
    MeetingRegistration,
)
from server.db.types import utcnow
from server.domain.accounts.associations import MAX_ID
from server.domain.accounts.permissions import (
    can_join_meeting,
    is_meeting_moderator,
    membership_role,
    require_login,
    require_member,
    require_methodist,
)
from server.domain.community.notifications import notify
from server.domain.meeting.meeting_hooks import MeetingChange, on_meeting_change
from server.domain.meeting.meetings import get_meeting
from server.domain.protocol import russian as ru
from server.domain.year.ics import Invitation, Method, build_invitation, meeting_uid
from server.domain.year.resources import create_resource
from server.errors import AppError, Forbidden, NotFound, ValidationFailed
from server.files import DOCUMENTS, Upload, save_upload
from server.i18n import translate
from server.mail.outbox import Attachment, Mail, enqueue, enqueue_mail
from server.settings import Settings
from server.spreadsheet import csv_text
from server.workers import job_handler, wake_outbox

if TYPE_CHECKING:
    from server.runtime import Runtime

log = logging.getLogger("smo.preparation")

ICS_TYPE_REQUEST = "text/calendar; charset=utf-8; method=REQUEST"
ICS_TYPE_CANCEL = "text/calendar; charset=utf-8; method=CANCEL"
MAX_MATERIALS = 50
TOMORROW_AT = time(9, 0)  # Moscow time, the day before the meeting


# --- errors ------------------------------------------------------------------------------------
class RegistrationClosed(AppError):
    """Registration is open only while the meeting is scheduled."""

    code, status = "registration_closed", 409


class LetterClosed(AppError):
    """The letter goes out only for a scheduled meeting."""

    code, status = "letter_closed", 409


class MaterialsClosed(AppError):
    code, status = "materials_closed", 409


class TooManyMaterials(AppError):
    code, status = "too_many_materials", 409


class NotAfterMeeting(AppError):
    """A material goes to the resource base after the meeting."""

    code, status = "material_not_after_meeting", 409


class AlreadyInResources(AppError):
    code, status = "material_in_resources", 409


# --- input -------------------------------------------------------------------------------------
def check_url(value: str) -> str:
    """An absolute http(s) address with a host, no spaces or control characters."""
    if not value:
        return value
    if any(c.isspace() or ord(c) < 32 or ord(c) == 127 for c in value):
        raise ValueError("bad_url")
    try:
        parts = urlsplit(value)
    except ValueError as exc:
        raise ValueError("bad_url") from exc
    if parts.scheme.lower() not in ("http", "https") or not parts.hostname:
        raise ValueError("bad_url")
    return value


class MaterialInput(BaseModel):
    model_config = ConfigDict(extra="ignore")

    title: Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=300)]
    url: Annotated[
        str, StringConstraints(strip_whitespace=True, max_length=1000), AfterValidator(check_url)
    ] = ""


# --- reading -----------------------------------------------------------------------------------
async def _readable(session: AsyncSession, user: User | None, meeting_id: int) -> Meeting:
    """Members of the association and administrators."""
    user = require_login(user)
    meeting = await get_meeting(session, meeting_id)
    if not await can_join_meeting(session, user, meeting):
        raise Forbidden()
    return meeting


async def _managed(session: AsyncSession, user: User | None, meeting_id: int) -> Meeting:
    """Moderators by office: methodists, administrators, the chair and the secretary."""
    user = require_login(user)
    meeting = await get_meeting(session, meeting_id)
    if not await is_meeting_moderator(session, user, meeting):
        raise Forbidden()
    return meeting


async def is_methodist_of(session: AsyncSession, user: User | None, association_id: int) -> bool:
    if user is None:
        return False
    return user.is_admin or await membership_role(session, user, association_id) == Role.methodist


async def materials_of(
    session: AsyncSession, meeting_id: int
) -> list[tuple[MeetingMaterial, StoredFile | None]]:
    rows = await session.execute(
        select(MeetingMaterial, StoredFile)
        .outerjoin(StoredFile, StoredFile.id == MeetingMaterial.file_id)
        .where(MeetingMaterial.meeting_id == meeting_id)
        .order_by(MeetingMaterial.id)
    )
    return [(m, f) for m, f in rows]


async def is_registered(session: AsyncSession, user: User | None, meeting_id: int) -> bool:
    if user is None:
        return False
    found = await session.scalar(
        select(MeetingRegistration.id).where(
            MeetingRegistration.meeting_id == meeting_id, MeetingRegistration.user_id == user.id
        )
    )
    return found is not None


async def registration_count(session: AsyncSession, meeting_id: int) -> int:
    n = await session.scalar(
        select(func.count())
        .select_from(MeetingRegistration)
        .where(MeetingRegistration.meeting_id == meeting_id)
    )
    return int(n or 0)


@dataclass(frozen=True)
class RegistrationRow:
    number: int
    full_name: str
    school: str
    position: str
    email: str
    registered_at: datetime


async def registrations(
    session: AsyncSession, user: User | None, meeting_id: int
) -> tuple[Meeting, list[RegistrationRow]]:
    meeting = await _managed(session, user, meeting_id)
    rows = await session.execute(
        select(MeetingRegistration, User, Organisation)
        .join(User, User.id == MeetingRegistration.user_id)
        .outerjoin(Organisation, Organisation.id == User.organisation_id)
        .where(MeetingRegistration.meeting_id == meeting.id)
        .order_by(MeetingRegistration.created_at, MeetingRegistration.id)
    )
    out = [
        RegistrationRow(n, u.full_name, o.name if o else "", u.position, u.email, r.created_at)
        for n, (r, u, o) in enumerate(rows, start=1)
    ]
    return meeting, out


def registrations_csv(rows: list[RegistrationRow]) -> bytes:
    """UTF-8 with BOM and «;» between cells: what a Russian-locale spreadsheet opens as is."""
    table: list[list[Any]] = [
        ["№", "ФИО", "Образовательная организация", "Должность", "E-mail", "Дата регистрации"]
    ]
    for r in rows:
        when = ru.moscow(r.registered_at).strftime("%d.%m.%Y %H:%M")
        table.append([r.number, r.full_name, r.school, r.position, r.email, when])
    return csv_text(table).encode("utf-8")


@dataclass
class LetterSummary:
    sequence: int
    sent_at: datetime
    reason: LetterReason
    recipients: int


@dataclass
class PreparationPage:
    meeting: Meeting
    association: Association
    materials: list[tuple[MeetingMaterial, StoredFile | None]]
    registrations: list[RegistrationRow]
    letters: list[LetterSummary]
    is_methodist: bool
    unsent: int  # members who have not had the letter at the current sequence


async def preparation_page(session: AsyncSession, user: User | None, meeting_id: int) -> PreparationPage:
    meeting, rows = await registrations(session, user, meeting_id)
    association = await session.get(Association, meeting.association_id)
    assert association is not None
    letters = [
        LetterSummary(letter.sequence, letter.sent_at, letter.reason, len(letter.recipients))
        for letter in await letters_of(session, meeting.id)
    ]
    return PreparationPage(
        meeting=meeting,
        association=association,
        materials=await materials_of(session, meeting.id),
        registrations=rows,
        letters=letters,
        is_methodist=await is_methodist_of(session, user, meeting.association_id),
        unsent=len(await unsent_members(session, meeting)),
    )


# --- materials ---------------------------------------------------------------------------------
async def add_material(
    session: AsyncSession,
    settings: Settings,
    user: User | None,
    meeting_id: int,
    data: MaterialInput,
    upload: Upload | None,
) -> MeetingMaterial:
    """A file (checked by content, stored by server/files) or an http(s) link, with a title."""
    meeting = await _managed(session, user, meeting_id)
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
    meeting = await _managed(session, user, meeting_id)
    material = await _material(session, meeting, material_id)
    await session.delete(material)
    await session.flush()


async def material_file(
    session: AsyncSession, user: User | None, meeting_id: int, material_id: int
) -> StoredFile:
    """The stored file of a material, for members of the association and administrators."""
    meeting = await _readable(session, user, meeting_id)
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


# --- registration ------------------------------------------------------------------------------
async def register(session: AsyncSession, user: User | None, meeting_id: int) -> bool:
    """Register for a scheduled meeting (members and administrators); False if already done."""
    user = require_login(user)
    meeting = await get_meeting(session, meeting_id)
    await require_member(session, user, meeting.association_id)
    if meeting.status != MeetingStatus.scheduled:
        raise RegistrationClosed()
    if await is_registered(session, user, meeting.id):
        return False
    session.add(MeetingRegistration(meeting_id=meeting.id, user_id=user.id))
    await session.flush()
    await schedule_jobs(session, meeting)
    return True


async def unregister(session: AsyncSession, user: User | None, meeting_id: int) -> bool:
    user = require_login(user)
    meeting = await get_meeting(session, meeting_id)
    await require_member(session, user, meeting.association_id)
    if meeting.status != MeetingStatus.scheduled:
        raise RegistrationClosed()
    row = await session.scalar(
        select(MeetingRegistration).where(
            MeetingRegistration.meeting_id == meeting.id, MeetingRegistration.user_id == user.id
        )
    )
    if row is None:
        return False
    await session.delete(row)
    await session.flush()
    return True


# --- letters -----------------------------------------------------------------------------------
async def letters_of(session: AsyncSession, meeting_id: int) -> list[MeetingLetter]:
    return list(
        await session.scalars(
            select(MeetingLetter).where(MeetingLetter.meeting_id == meeting_id).order_by(MeetingLetter.id)
        )
    )


async def _members(session: AsyncSession, association_id: int) -> list[User]:
    users = await session.scalars(
        select(User)
        .join(Membership, Membership.user_id == User.id)
        .where(Membership.association_id == association_id, User.is_active.is_(True))
        .order_by(User.id)
    )
    return [u for u in users if u.email]


async def unsent_members(session: AsyncSession, meeting: Meeting) -> list[User]:
    """Members who have not had the letter at the meeting's current sequence."""
    letters = await letters_of(session, meeting.id)
    current = max((letter.sequence for letter in letters), default=0)
    had = {uid for letter in letters if letter.sequence == current for uid in letter.recipients}
    return [u for u in await _members(session, meeting.association_id) if u.id not in had]


async def _queue_letter(
    session: AsyncSession,
    meeting: Meeting,
    reason: LetterReason,
    recipients: list[int],
    sequence: int,
    actor: User | None,
) -> MeetingLetter:
    letter = MeetingLetter(
        meeting_id=meeting.id,
        sequence=sequence,
        reason=reason,
        starts_at=meeting.starts_at,
        ends_at=meeting.ends_at,
        recipients=sorted(recipients),
        sent_by_id=actor.id if actor else None,
    )
    session.add(letter)
    await session.flush()
    await enqueue(session, "meeting.letter", f"meeting.letter:{letter.id}", {"letter_id": letter.id})
    return letter


async def send_letter(session: AsyncSession, user: User | None, meeting_id: int) -> MeetingLetter | None:
    """The information letter to every member who has not had it yet (None: nobody left)."""
    meeting = await get_meeting(session, meeting_id)
    actor = await require_methodist(session, user, meeting.association_id)
    if meeting.status != MeetingStatus.scheduled:
        raise LetterClosed()
    await schedule_jobs(session, meeting)
    users = await unsent_members(session, meeting)
    if not users:
        return None
    current = max((letter.sequence for letter in await letters_of(session, meeting.id)), default=0)
    return await _queue_letter(session, meeting, LetterReason.letter, [u.id for u in users], current, actor)


def stamp(moment: datetime) -> str:
    """A start as it appears in job keys: 20261125T120000Z."""
    return moment.astimezone(UTC).strftime("%Y%m%dT%H%M%SZ")


async def schedule_jobs(session: AsyncSession, meeting: Meeting) -> None:
    """Queue the job that plans the reminder and the «tomorrow» notification for this start."""
    if meeting.status != MeetingStatus.scheduled:
        return
    start = stamp(meeting.starts_at)
    await enqueue(
        session,
        "meeting.schedule",
        f"meeting.schedule:{meeting.id}:{start}",
        {"meeting_id": meeting.id, "starts_at": start},
    )


@on_meeting_change
async def _on_meeting_change(session: AsyncSession, meeting: Meeting, change: MeetingChange) -> None:
    if change.kind == "created":
        await schedule_jobs(session, meeting)
        return
    if change.kind not in ("updated", "cancelled"):
        return
    if change.kind == "updated":
        if change.previous_starts_at == meeting.starts_at and change.previous_ends_at == meeting.ends_at:
            return
        await schedule_jobs(session, meeting)
    letters = await letters_of(session, meeting.id)
    if not letters:
        return  # nobody was told: the letter, when sent, carries the current time
    received = sorted({uid for letter in letters for uid in letter.recipients})
    sequence = max(letter.sequence for letter in letters) + 1
    reason = LetterReason.cancelled if change.kind == "cancelled" else LetterReason.rescheduled
    await _queue_letter(session, meeting, reason, received, sequence, change.actor)


# --- the letter's text ---------------------------------------------------------------------------
_TEMPLATES = Path(__file__).resolve().parents[2] / "web" / "templates"
_env = Environment(
    loader=FileSystemLoader(str(_TEMPLATES)),
    autoescape=select_autoescape(["html", "xml"]),
    trim_blocks=True,
    lstrip_blocks=True,
)


def when_text(starts_at: datetime, ends_at: datetime | None = None) -> str:
    """«25 ноября 2026 г., 15:00 (МСК)» or «25 ноября 2026 г., 15:00–16:30 (МСК)»."""
    end = f"–{ru.time_text(ends_at)}" if ends_at is not None else ""
    return f"{ru.date_text(starts_at)}, {ru.time_text(starts_at)}{end} (МСК)"


@dataclass
class LetterContext:
    meeting: Meeting  # with its agenda
    association: Association
    rapporteurs: dict[int, str]
    materials: list[tuple[str, str]]  # (title, address)
    base_url: str
    meeting_url: str

    def agenda_lines(self) -> list[str]:
        lines = []
        for item in self.meeting.agenda:
            who = self.rapporteurs.get(item.rapporteur_id or 0) or item.rapporteur_name
            lines.append(f"{item.position}. {item.title}" + (f" (докладчик: {who})" if who else ""))
        return lines


async def letter_context(session: AsyncSession, settings: Settings, meeting_id: int) -> LetterContext | None:
    meeting = await session.scalar(
        select(Meeting).where(Meeting.id == meeting_id).options(selectinload(Meeting.agenda))
    )
    if meeting is None:
        return None
    association = await session.get(Association, meeting.association_id)
    if association is None:
        return None
    ids = {i.rapporteur_id for i in meeting.agenda if i.rapporteur_id}
    names = (
        {u.id: u.short_name for u in await session.scalars(select(User).where(User.id.in_(ids)))}
        if ids
        else {}
    )
    base = settings.public_url.rstrip("/")
    materials = [
        (m.title, m.url if m.kind == MaterialKind.link else f"{base}/meetings/{meeting.id}/materials/{m.id}")
        for m, _ in await materials_of(session, meeting.id)
    ]
    return LetterContext(meeting, association, names, materials, base, f"{base}/meetings/{meeting.id}")


def _greeting(user: User) -> str:
    name = " ".join(p for p in (user.first_name, user.middle_name) if p)
    return f"Здравствуйте, {name}!" if name else "Здравствуйте!"


def _subject(ctx: LetterContext, reason: LetterReason) -> str:
    # No «: » in subjects: Python's header folding drops the space after a colon at a fold.
    m = ctx.meeting
    when = when_text(m.starts_at)
    if reason == LetterReason.cancelled:
        return f"Отмена заседания «{m.title}», назначенного на {when}"
    if reason == LetterReason.rescheduled:
        return f"Перенос заседания «{m.title}» на {when}"
    return f"Информационное письмо о заседании «{m.title}», {when}"


def letter_mail(
    settings: Settings,
    ctx: LetterContext,
    user: User,
    letter: MeetingLetter,
    previous: datetime | None = None,
) -> Mail:
    """The letter (or its update / cancellation) to one member, with the invitation attached."""
    m = ctx.meeting
    reason = letter.reason
    form = translate(f"meetings.form.{m.form.value}", "ru")
    when = when_text(m.starts_at, m.ends_at)
    before = when_text(previous) if previous is not None and previous != m.starts_at else ""
    lines = [_greeting(user), ""]
    if reason == LetterReason.cancelled:
        lines += [
            f"Заседание сетевого методического объединения «{ctx.association.name}» «{m.title}», "
            f"назначенное на {when}, отменено.",
            "",
            "Приглашение в календаре отменено (файл во вложении).",
        ]
    else:
        if reason == LetterReason.rescheduled:
            lines += [
                f"Заседание сетевого методического объединения «{ctx.association.name}» «{m.title}» перенесено.",
                f"Новые дата и время: {when}." + (f" Прежние: {before}." if before else ""),
                "",
            ]
        else:
            lines += [
                f"Приглашаем Вас принять участие в заседании сетевого методического объединения "
                f"«{ctx.association.name}».",
                "",
            ]
        lines += [f"Тема: {m.title}", f"Форма проведения: {form}", f"Дата и время: {when}", "Место: онлайн"]
        if m.description:
            lines += ["", m.description]
        agenda = ctx.agenda_lines()
        if agenda:
            lines += ["", "Повестка дня:", *agenda]
        if ctx.materials:
            lines += ["", "Материалы к заседанию:", *(f"— {t}: {u}" for t, u in ctx.materials)]
        lines += [
            "",
            f"Зарегистрироваться, ознакомиться с материалами и войти в заседание: {ctx.meeting_url}",
            "Приглашение для календаря — во вложении (invitation.ics).",
        ]
    lines += ["", "С уважением,", f"сетевой методист СМО «{ctx.association.name}»"]
    text = "\n".join(lines) + "\n"
    html = _env.get_template("year/preparation/mail_letter.html").render(
        greeting=_greeting(user),
        reason=reason.value,
        m=m,
        association=ctx.association,
        form=form,
        when=when,
        before=before,
        agenda=ctx.agenda_lines(),
        materials=ctx.materials,
        meeting_url=ctx.meeting_url,
    )
    method: Method = "CANCEL" if reason == LetterReason.cancelled else "REQUEST"
    agenda = ctx.agenda_lines()
    description = "\n".join(
        [
            m.title,
            f"{form}, {when}",
            *(["", "Повестка дня:", *agenda] if agenda else []),
            "",
            f"Ссылка для участия: {ctx.meeting_url}",
        ]
    )
    ics = build_invitation(
        Invitation(
            meeting_id=m.id,
            sequence=letter.sequence,
            title=m.title,
            description=description,
            starts_at=m.starts_at,
            ends_at=m.ends_at,
            url=ctx.meeting_url,
            organizer=settings.mail_from,
            attendee_email=user.email,
            attendee_name=user.full_name,
            stamp=utcnow(),
        ),
        method=method,
        uid=meeting_uid(settings.public_url, m.id),
    )
    content_type = ICS_TYPE_CANCEL if method == "CANCEL" else ICS_TYPE_REQUEST
    return Mail(
        to=user.email,
        subject=_subject(ctx, reason),
        text=text,
        html=html,
        attachments=[Attachment("invitation.ics", content_type, ics)],
    )


def reminder_mail(settings: Settings, ctx: LetterContext, user: User, minutes: int) -> Mail:
    m = ctx.meeting
    when = when_text(m.starts_at, m.ends_at)
    lines = [
        _greeting(user),
        "",
        f"Напоминаем: Вы зарегистрировались на заседание сетевого методического объединения "
        f"«{ctx.association.name}» «{m.title}».",
        f"Начало: {when}.",
    ]
    agenda = ctx.agenda_lines()
    if agenda:
        lines += ["", "Повестка дня:", *agenda]
    lines += ["", f"Войти в заседание: {ctx.meeting_url}", "", "SMO Live"]
    html = _env.get_template("year/preparation/mail_reminder.html").render(
        greeting=_greeting(user),
        m=m,
        association=ctx.association,
        when=when,
        agenda=agenda,
        meeting_url=ctx.meeting_url,
    )
    return Mail(
        to=user.email,
        subject=f"Напоминание о заседании «{m.title}», {when_text(m.starts_at)}",
        text="\n".join(lines) + "\n",
        html=html,
    )


# --- jobs --------------------------------------------------------------------------------------
@job_handler("meeting.letter")
async def letter_job(runtime: Runtime, payload: dict[str, Any]) -> None:
    settings = runtime.settings
    async with runtime.db.transaction() as s:
        letter = await s.get(MeetingLetter, int(payload["letter_id"]))
        if letter is None:
            return
        latest = await s.scalar(
            select(func.max(MeetingLetter.sequence)).where(MeetingLetter.meeting_id == letter.meeting_id)
        )
        if latest is not None and letter.sequence < latest:
            return  # superseded: the later update or cancellation carries the news
        ctx = await letter_context(s, settings, letter.meeting_id)
        if ctx is None:
            return
        if letter.reason != LetterReason.cancelled and ctx.meeting.status == MeetingStatus.cancelled:
            return
        previous = await s.scalar(
            select(MeetingLetter.starts_at)
            .where(MeetingLetter.meeting_id == letter.meeting_id, MeetingLetter.sequence < letter.sequence)
            .order_by(MeetingLetter.sequence.desc(), MeetingLetter.id.desc())
            .limit(1)
        )
        users = await s.scalars(select(User).where(User.id.in_(letter.recipients)).order_by(User.id))
        for user in users:
            if not user.email:
                continue
            mail = letter_mail(settings, ctx, user, letter, previous)
            await enqueue_mail(s, f"letter:{letter.meeting_id}:{letter.sequence}:{user.id}", mail)
    wake_outbox(runtime)


def tomorrow_run_at(starts_at: datetime) -> datetime:
    """09:00 Moscow time of the day before the meeting's (Moscow) date."""
    day = ru.moscow(starts_at).date() - timedelta(days=1)
    return datetime.combine(day, TOMORROW_AT, tzinfo=ru.MOSCOW)


def _is_day_before(starts_at: datetime, now: datetime) -> bool:
    return ru.moscow(now).date() == ru.moscow(starts_at).date() - timedelta(days=1)


async def _current(
    s: AsyncSession, payload: dict[str, Any], statuses: tuple[MeetingStatus, ...]
) -> Meeting | None:
    """The meeting of a delayed job if it still starts when the job was planned for."""
    meeting = await s.get(Meeting, int(payload["meeting_id"]))
    if meeting is None or meeting.status not in statuses or stamp(meeting.starts_at) != payload["starts_at"]:
        return None
    return meeting


@job_handler("meeting.schedule")
async def schedule_job(runtime: Runtime, payload: dict[str, Any]) -> None:
    now = utcnow()
    async with runtime.db.transaction() as s:
        meeting = await _current(s, payload, (MeetingStatus.scheduled,))
        if meeting is None or meeting.starts_at <= now:
            return
        key = f"{meeting.id}:{payload['starts_at']}"
        data = {"meeting_id": meeting.id, "starts_at": payload["starts_at"]}
        remind_at = meeting.starts_at - timedelta(minutes=runtime.settings.reminder_minutes)
        await enqueue(s, "meeting.reminder", f"meeting.reminder:{key}", data, run_at=max(now, remind_at))
        tomorrow_at = tomorrow_run_at(meeting.starts_at)
        if tomorrow_at > now or _is_day_before(meeting.starts_at, now):
            await enqueue(
                s, "meeting.tomorrow", f"meeting.tomorrow:{key}", data, run_at=max(now, tomorrow_at)
            )
    wake_outbox(runtime)


@job_handler("meeting.reminder")
async def reminder_job(runtime: Runtime, payload: dict[str, Any]) -> None:
    settings = runtime.settings
    async with runtime.db.transaction() as s:
        meeting = await _current(s, payload, (MeetingStatus.scheduled, MeetingStatus.live))
        if meeting is None or utcnow() >= meeting.ends_at:
            return  # moved (a new job exists for the new start), cancelled or over
        ctx = await letter_context(s, settings, meeting.id)
        if ctx is None:
            return
        users = await s.scalars(
            select(User)
            .join(MeetingRegistration, MeetingRegistration.user_id == User.id)
            .where(MeetingRegistration.meeting_id == meeting.id, User.is_active.is_(True))
            .order_by(User.id)
        )
        for user in users:
            if user.email:
                mail = reminder_mail(settings, ctx, user, settings.reminder_minutes)
                await enqueue_mail(s, f"reminder:{meeting.id}:{payload['starts_at']}:{user.id}", mail)
    wake_outbox(runtime)


@job_handler("meeting.tomorrow")
async def tomorrow_job(runtime: Runtime, payload: dict[str, Any]) -> None:
    async with runtime.db.transaction() as s:
        meeting = await _current(s, payload, (MeetingStatus.scheduled,))
        if meeting is None or not _is_day_before(meeting.starts_at, utcnow()):
            return
        members = await s.scalars(
            select(Membership.user_id).where(Membership.association_id == meeting.association_id)
        )
        await notify(
            s,
            list(members),
            NotificationKind.meeting_tomorrow,
            dedupe_key=f"meeting_tomorrow:{meeting.id}:{payload['starts_at']}",
            title=f"Заседание завтра: «{meeting.title}», {when_text(meeting.starts_at)}",
            url=f"/meetings/{meeting.id}",
            association_id=meeting.association_id,
        )
    wake_outbox(runtime)
