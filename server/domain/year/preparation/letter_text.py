"""The information letter and the reminder as e-mails: text, HTML and the iCalendar part."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from jinja2 import Environment, FileSystemLoader, select_autoescape
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import selectinload

import server
from server.db.models import Association, Meeting, User
from server.db.models.preparation import LetterReason, MaterialKind, MeetingLetter
from server.db.types import utcnow
from server.domain.protocol import russian as ru
from server.domain.year.ics import Invitation, Method, build_invitation, meeting_uid
from server.domain.year.preparation.reading import materials_of
from server.domain.year.preparation.rules import ICS_TYPE_CANCEL, ICS_TYPE_REQUEST
from server.i18n import translate
from server.mail.outbox import Attachment, Mail
from server.settings import Settings

# the e-mails share the pages' templates folder (a path, not an import of the web layer)
_TEMPLATES = Path(server.__file__).resolve().parent / "web" / "templates"
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
