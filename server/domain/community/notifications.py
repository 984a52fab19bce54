"""Notifications: one call for every feature that tells people something.

    await notify(session, user_ids, NotificationKind.announcement, dedupe_key=f"announcement:{a.id}",
                 title="Новое объявление: …", url=f"/announcements/{a.id}", association_id=a.id)

Inside the caller's transaction: the in-app rows (one per person; the same dedupe_key for a
person is ignored, so a retried job never notifies twice) and, per the person's e-mail
preference for that kind (``NotificationPreference``, defaults in ``DEFAULT_EMAIL``):

- ``immediately``: a durable job ``notifications.email`` (dedupe ``notification-mail:<id>``)
  whose handler queues the e-mail (``enqueue_mail`` with the key ``notification:<id>``, so it
  is never sent twice) and stamps ``emailed_at``. The handler, not ``notify``, writes the
  message because only it knows the installation's public address (``settings.public_url``).
- ``daily``: a delayed job ``notifications.digest`` per person and day, due at 07:00 Moscow
  time (dedupe ``digest:<user>:<date>``); its handler mails every not-yet-e-mailed daily
  notification of the person in one message (mail key ``digest:<user>:<date>``) and stamps
  them, in one transaction: at most one digest per person and day, nothing twice.
- ``never``: in-app only.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import TYPE_CHECKING, Any
from zoneinfo import ZoneInfo

from sqlalchemy import func, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from server.db.models import OutboxMessage, User
from server.db.models.notifications import EmailMode, Notification, NotificationKind, NotificationPreference
from server.db.types import utcnow
from server.domain.accounts.permissions import require_login
from server.errors import NotFound
from server.mail.outbox import Mail, enqueue, enqueue_mail
from server.workers import job_handler, wake_outbox

if TYPE_CHECKING:
    from server.runtime import Runtime

MOSCOW = ZoneInfo("Europe/Moscow")
DIGEST_HOUR = 7  # the daily digest leaves at 07:00 Moscow time
DIGEST_LOOKBACK = timedelta(days=7)  # older unmailed items are not dug out by a digest
EMAIL_JOB = "notifications.email"
DIGEST_JOB = "notifications.digest"
PAGE_SIZE = 30

# Defaults when a person has not chosen (documented in docs/community.md): what needs action
# soon or answers the person goes out at once; what is useful but not urgent goes into the
# digest; an approved protocol is mailed to every member with its DOCX/PDF by the protocol
# mailing anyway, so its notification e-mail would be a duplicate.
DEFAULT_EMAIL: dict[NotificationKind, EmailMode] = {
    NotificationKind.announcement: EmailMode.immediately,
    NotificationKind.meeting_tomorrow: EmailMode.immediately,
    NotificationKind.meeting_invitation: EmailMode.immediately,
    NotificationKind.protocol_review: EmailMode.immediately,
    NotificationKind.protocol_approved: EmailMode.never,
    NotificationKind.question_answered: EmailMode.immediately,
    NotificationKind.resource_pending: EmailMode.daily,
    NotificationKind.competition: EmailMode.daily,
    NotificationKind.topic_proposal: EmailMode.daily,
}

# Labels (ru) used in e-mails; pages use the catalogue keys ``notifications.kind.<kind>``.
KIND_LABEL_RU: dict[NotificationKind, str] = {
    NotificationKind.announcement: "Объявление",
    NotificationKind.meeting_tomorrow: "Заседание завтра",
    NotificationKind.meeting_invitation: "Приглашение на заседание",
    NotificationKind.protocol_review: "Протокол на обсуждении",
    NotificationKind.protocol_approved: "Протокол утверждён",
    NotificationKind.question_answered: "Ответ на вопрос",
    NotificationKind.resource_pending: "Ресурс ждёт проверки",
    NotificationKind.competition: "Конкурс",
    NotificationKind.topic_proposal: "Предложение темы",
}


async def notify(
    session: AsyncSession,
    user_ids: Iterable[int],
    kind: NotificationKind,
    *,
    dedupe_key: str,
    title: str,
    url: str = "",
    body: str = "",
    association_id: int | None = None,
) -> list[Notification]:
    """Create the notifications (flushed, not committed); returns the new rows."""
    wanted = sorted(set(user_ids))
    if not wanted:
        return []
    existing = set(
        (
            await session.scalars(
                select(Notification.user_id).where(
                    Notification.dedupe_key == dedupe_key, Notification.user_id.in_(wanted)
                )
            )
        ).all()
    )
    created = [
        Notification(
            user_id=uid,
            association_id=association_id,
            kind=kind,
            dedupe_key=dedupe_key,
            title=title[:300],
            body=body,
            url=url,
        )
        for uid in wanted
        if uid not in existing
    ]
    session.add_all(created)
    await session.flush()
    await deliver(session, created)
    return created


# --- preferences ---------------------------------------------------------------------------------
async def email_modes(
    session: AsyncSession, user_ids: Iterable[int]
) -> dict[int, dict[NotificationKind, EmailMode]]:
    """Each person's effective mode per kind (stored choices over the defaults)."""
    ids = sorted(set(user_ids))
    modes = {uid: dict(DEFAULT_EMAIL) for uid in ids}
    if not ids:
        return modes
    rows = await session.execute(
        select(
            NotificationPreference.user_id, NotificationPreference.kind, NotificationPreference.email
        ).where(NotificationPreference.user_id.in_(ids))
    )
    for uid, kind, mode in rows:
        modes[uid][kind] = mode
    return modes


async def my_preferences(session: AsyncSession, user: User | None) -> dict[NotificationKind, EmailMode]:
    user = require_login(user)
    return (await email_modes(session, [user.id]))[user.id]


async def save_preferences(
    session: AsyncSession, user: User | None, modes: dict[NotificationKind, EmailMode]
) -> None:
    """Store the person's choice for every given kind (one row per kind)."""
    user = require_login(user)
    stored = {
        p.kind: p
        for p in await session.scalars(
            select(NotificationPreference).where(NotificationPreference.user_id == user.id)
        )
    }
    for kind, mode in modes.items():
        row = stored.get(kind)
        if row is None:
            session.add(NotificationPreference(user_id=user.id, kind=kind, email=mode))
        else:
            row.email = mode
    await session.flush()


# --- delivery ------------------------------------------------------------------------------------
def next_digest_at(now: datetime) -> tuple[datetime, date]:
    """The next 07:00 Moscow time after ``now`` (UTC) and its (Moscow) date."""
    local = now.astimezone(MOSCOW)
    at = datetime.combine(local.date(), time(DIGEST_HOUR), tzinfo=MOSCOW)
    if local >= at:
        at += timedelta(days=1)
    return at.astimezone(UTC), at.date()


def digest_key(user_id: int, day: date) -> str:
    return f"digest:{user_id}:{day.isoformat()}"


async def schedule_digest(session: AsyncSession, user_id: int, now: datetime | None = None) -> str:
    """Make sure a digest job is due for the person (the next 07:00, or the day after when
    that day's job has already been taken by a worker); returns its dedupe key."""
    run_at, day = next_digest_at(now or utcnow())
    for _ in range(2):
        key = digest_key(user_id, day)
        status = await session.scalar(select(OutboxMessage.status).where(OutboxMessage.dedupe_key == key))
        if status is None:
            await enqueue(
                session, DIGEST_JOB, key, {"user_id": user_id, "day": day.isoformat()}, run_at=run_at
            )
            return key
        if status == "pending":
            return key
        run_at, day = run_at + timedelta(days=1), day + timedelta(days=1)
    return key


async def deliver(session: AsyncSession, created: list[Notification]) -> None:
    """E-mail per preference (immediately → a job that queues the mail; daily → the digest job)."""
    if not created:
        return
    modes = await email_modes(session, (n.user_id for n in created))
    with_email = set(
        await session.scalars(
            select(User.id).where(User.id.in_(list(modes)), User.is_active.is_(True), User.email != "")
        )
    )
    digests: set[int] = set()
    for n in created:
        if n.user_id not in with_email:
            continue
        mode = modes[n.user_id][n.kind]
        if mode == EmailMode.immediately:
            await enqueue(session, EMAIL_JOB, f"notification-mail:{n.id}", {"notification_id": n.id})
        elif mode == EmailMode.daily:
            digests.add(n.user_id)
    for uid in sorted(digests):
        await schedule_digest(session, uid)


def _absolute(public_url: str, url: str) -> str:
    if not url:
        return public_url.rstrip("/") + "/notifications"
    if url.startswith("/"):
        return public_url.rstrip("/") + url
    return url


def _footer(public_url: str) -> str:
    return (
        "\n\n—\nSMO Live. Настроить, какие уведомления приходят на почту и как часто: "
        f"{public_url.rstrip('/')}/notifications/settings\n"
    )


def notification_mail(user: User, n: Notification, public_url: str) -> Mail:
    parts = [f"{KIND_LABEL_RU.get(n.kind, '')}: {n.title}"]
    if n.body:
        parts.append(n.body)
    parts.append(f"Подробнее: {_absolute(public_url, n.url)}")
    return Mail(
        to=user.email,
        subject=n.title,
        text="\n\n".join(parts) + _footer(public_url),
        headers={"Auto-Submitted": "auto-generated"},
    )


def digest_mail(user: User, items: list[Notification], day: date, public_url: str) -> Mail:
    lines = [f"Здравствуйте, {user.first_name}!", "", f"Уведомления SMO Live ({len(items)}):", ""]
    for n in items:
        stamp = n.created_at.astimezone(MOSCOW).strftime("%d.%m %H:%M")
        lines.append(f"• {stamp} — {KIND_LABEL_RU.get(n.kind, '')}: {n.title}")
        if n.body:
            lines.append(f"  {n.body[:500]}")
        lines.append(f"  {_absolute(public_url, n.url)}")
    return Mail(
        to=user.email,
        subject=f"Сводка уведомлений SMO Live за {day.strftime('%d.%m.%Y')}",
        text="\n".join(lines) + _footer(public_url),
        headers={"Auto-Submitted": "auto-generated"},
    )


async def mail_one(session: AsyncSession, notification_id: int, public_url: str) -> bool:
    """Queue the immediate e-mail of one notification, if still wanted; True when queued."""
    n = await session.get(Notification, notification_id)
    if n is None or n.emailed_at is not None:
        return False
    user = await session.get(User, n.user_id)
    if user is None or not user.is_active or not user.email:
        return False
    if (await email_modes(session, [user.id]))[user.id][n.kind] != EmailMode.immediately:
        return False  # the person changed their mind before the job ran
    queued = await enqueue_mail(session, f"notification:{n.id}", notification_mail(user, n, public_url))
    n.emailed_at = utcnow()
    return queued


async def send_digest(session: AsyncSession, user_id: int, day: date, public_url: str) -> int:
    """Queue the person's digest for ``day``: every not-yet-e-mailed notification of a kind
    they get daily, stamped in the same transaction. Returns how many items it holds (0: no
    mail — nothing pending, or that day's digest exists already)."""
    key = digest_key(user_id, day)
    if await session.scalar(select(OutboxMessage.id).where(OutboxMessage.dedupe_key == f"mail:{key}")):
        return 0  # one digest per person and day, even when the job runs again
    user = await session.get(User, user_id)
    if user is None or not user.is_active or not user.email:
        return 0
    modes = (await email_modes(session, [user_id]))[user_id]
    daily = [k for k, m in modes.items() if m == EmailMode.daily]
    if not daily:
        return 0
    query = (
        select(Notification)
        .where(
            Notification.user_id == user_id,
            Notification.emailed_at.is_(None),
            Notification.kind.in_(daily),
            Notification.created_at >= utcnow() - DIGEST_LOOKBACK,
        )
        .order_by(Notification.created_at, Notification.id)
    )
    if session.bind is not None and session.bind.dialect.name != "sqlite":
        query = query.with_for_update()
    items = list(await session.scalars(query))
    if not items:
        return 0
    await enqueue_mail(session, key, digest_mail(user, items, day, public_url))
    now = utcnow()
    for n in items:
        n.emailed_at = now
    await session.flush()
    return len(items)


@job_handler(EMAIL_JOB)
async def email_job(runtime: Runtime, payload: dict[str, Any]) -> None:
    async with runtime.db.transaction() as s:
        queued = await mail_one(s, int(payload["notification_id"]), runtime.settings.public_url)
    if queued:
        wake_outbox(runtime)


@job_handler(DIGEST_JOB)
async def digest_job(runtime: Runtime, payload: dict[str, Any]) -> None:
    day = date.fromisoformat(str(payload["day"]))
    async with runtime.db.transaction() as s:
        sent = await send_digest(s, int(payload["user_id"]), day, runtime.settings.public_url)
    if sent:
        wake_outbox(runtime)


# --- the in-app list -----------------------------------------------------------------------------
async def unread_count(session: AsyncSession, user_id: int) -> int:
    """One COUNT over (user_id, read_at) — the index ``ix_notifications_user_read``."""
    n = await session.scalar(
        select(func.count(Notification.id)).where(
            Notification.user_id == user_id, Notification.read_at.is_(None)
        )
    )
    return int(n or 0)


@dataclass
class NotificationPage:
    items: list[Notification]
    total: int
    unread: int
    page: int
    pages: int


async def list_notifications(
    session: AsyncSession, user: User | None, *, page: int = 1, unread_only: bool = False
) -> NotificationPage:
    user = require_login(user)
    where = [Notification.user_id == user.id]
    if unread_only:
        where.append(Notification.read_at.is_(None))
    total = int(await session.scalar(select(func.count(Notification.id)).where(*where)) or 0)
    pages = max(1, (total + PAGE_SIZE - 1) // PAGE_SIZE)
    page = min(max(1, page), pages)
    items = list(
        await session.scalars(
            select(Notification)
            .where(*where)
            .order_by(Notification.created_at.desc(), Notification.id.desc())
            .limit(PAGE_SIZE)
            .offset((page - 1) * PAGE_SIZE)
        )
    )
    return NotificationPage(items, total, await unread_count(session, user.id), page, pages)


async def mark_read(session: AsyncSession, user: User | None, notification_id: int) -> Notification:
    """Mark one of my notifications read (someone else's is 404: its existence is not told)."""
    user = require_login(user)
    n = await session.get(Notification, notification_id) if 0 < notification_id < 2**31 else None
    if n is None or n.user_id != user.id:
        raise NotFound()
    if n.read_at is None:
        n.read_at = utcnow()
    return n


async def mark_unread(session: AsyncSession, user: User | None, notification_id: int) -> Notification:
    user = require_login(user)
    n = await session.get(Notification, notification_id) if 0 < notification_id < 2**31 else None
    if n is None or n.user_id != user.id:
        raise NotFound()
    n.read_at = None
    return n


async def mark_all_read(session: AsyncSession, user: User | None) -> None:
    user = require_login(user)
    await session.execute(
        update(Notification)
        .where(Notification.user_id == user.id, Notification.read_at.is_(None))
        .values(read_at=utcnow())
    )
