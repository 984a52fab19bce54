"""Demo data for a first run, and the administrator bootstrap (``smo`` commands)."""

from __future__ import annotations

import secrets
from datetime import timedelta

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from server import clock
from server.db.engine import Database
from server.db.models import (
    AgendaItem,
    Association,
    Meeting,
    MeetingForm,
    Membership,
    Organisation,
    Role,
    User,
)
from server.domain.accounts.passwords import check_password_rule, hash_password
from server.settings import Settings

DEMO_PASSWORD = "demo12345"
DEMO_PEOPLE = [
    # email, last, first, middle, position, school index, role
    ("metodist@demo.smo", "Смирнова", "Елена", "Викторовна", "сетевой методист", 0, Role.methodist),
    ("ivanova@demo.smo", "Иванова", "Ольга", "Петровна", "учитель математики", 1, Role.member),
    ("petrov@demo.smo", "Петров", "Андрей", "Николаевич", "учитель математики", 2, Role.mo_head),
]
DEMO_SCHOOLS = [
    ("ОГБОУ ДПО «Костромской областной институт развития образования»", "Кострома"),
    ("МБОУ «Средняя общеобразовательная школа № 1»", "Кострома"),
    ("МОУ «Гимназия № 15»", "Шарья"),
]


async def _seed_year(
    s: AsyncSession, settings: Settings, assoc: Association, people: list[User], meeting: Meeting
) -> None:
    """The year around the meetings: a plan, a published resource, an announcement, a topic."""
    from server.domain.community.announcements import post_announcement
    from server.domain.community.topics import propose_topic
    from server.domain.year.plans import add_plan_row, current_school_year, get_or_create_plan
    from server.domain.year.resources import create_resource

    methodist, teacher = people[0], people[1]
    year = current_school_year()
    plan = await get_or_create_plan(s, assoc.id, year)
    plan.theme = "Формирование функциональной грамотности обучающихся на уроках математики"
    plan.goal = "Повышение профессиональной компетентности учителей математики региона"
    plan.tasks = (
        "Изучить опыт коллег по формированию математической грамотности\n"
        "Провести серию практических семинаров\n"
        "Пополнить базу методических ресурсов"
    )
    row = await add_plan_row(
        s,
        assoc.id,
        year,
        topic=meeting.title,
        questions="О плане работы СМО на учебный год\nЗадачи на функциональную грамотность в 7–9 классах",
        form="Заседание",
        planned_date=meeting.starts_at.date(),
        responsible=methodist.short_name,
    )
    row.meeting_id = meeting.id
    await add_plan_row(
        s,
        assoc.id,
        year,
        topic="Круглый стол «Оценивание без отметок»",
        form="Круглый стол",
        dates_text="март",
    )
    await add_plan_row(
        s,
        assoc.id,
        year,
        topic="Мастер-класс «Цифровые инструменты учителя»",
        form="Мастер-класс",
        dates_text="апрель",
    )
    await create_resource(
        s,
        settings,
        association_id=assoc.id,
        user=methodist,
        title="Открытый банк заданий по функциональной грамотности",
        description="Задания для уроков математики 5–9 классов: чтение таблиц, графиков, расчёты в жизненных ситуациях.",
        subject="Математика",
        grades=[5, 6, 7, 8, 9],
        kind="didactic",
        tags=["функциональная грамотность", "PISA"],
        link="https://fg.resh.edu.ru/",
        publish=True,
    )
    await post_announcement(
        s,
        settings,
        methodist,
        assoc.id,
        title="Заседание СМО завтра в 15:00",
        text=(
            "Коллеги, напоминаем: завтра заседание «Функциональная грамотность на уроках математики». "
            "Зарегистрируйтесь на странице заседания и подготовьте вопросы."
        ),
    )
    await propose_topic(
        s,
        teacher,
        assoc.id,
        title="Подготовка к ОГЭ: разбор типичных ошибок",
        rationale="Многие коллеги просят обсудить задания второй части и критерии оценивания.",
    )


async def seed_demo(settings: Settings, *, only_if_empty: bool = True) -> bool:
    db = Database(settings.database_url, key_dir=settings.resolved_sealing_key_dir)
    try:
        async with db.transaction() as s:
            if only_if_empty and (await s.scalar(select(func.count(User.id)))):
                return False
            schools = [Organisation(name=n, locality=loc) for n, loc in DEMO_SCHOOLS]
            s.add_all(schools)
            assoc = Association(
                name="СМО учителей математики",
                subject="Математика",
                description=(
                    "Сетевое методическое объединение учителей математики Костромской области: "
                    "обмен опытом, заседания онлайн, база методических ресурсов."
                ),
                founder_name="ОГБОУ ДПО «Костромской областной институт развития образования»",
                place="онлайн",
            )
            s.add(assoc)
            await s.flush()
            people: list[User] = []
            for email, last, first, middle, position, school, role in DEMO_PEOPLE:
                user = User(
                    email=email,
                    password_hash=hash_password(DEMO_PASSWORD),
                    last_name=last,
                    first_name=first,
                    middle_name=middle,
                    position=position,
                    organisation_id=schools[school].id,
                )
                s.add(user)
                await s.flush()
                s.add(Membership(association_id=assoc.id, user_id=user.id, role=role))
                people.append(user)
            # Tomorrow at 15:00 Moscow time (12:00 UTC): an ordinary afternoon slot.
            start = (clock.now() + timedelta(days=1)).replace(hour=12, minute=0, second=0, microsecond=0)
            meeting = Meeting(
                association_id=assoc.id,
                title="Функциональная грамотность на уроках математики",
                description="Заседание СМО по плану работы на учебный год.",
                form=MeetingForm.zasedanie,
                starts_at=start,
                ends_at=start + timedelta(hours=1, minutes=30),
                chair_id=people[0].id,
                secretary_id=people[2].id,
                guest_token=secrets.token_urlsafe(24),
                created_by_id=people[0].id,
            )
            s.add(meeting)
            await s.flush()
            agenda = [
                ("О плане работы СМО на учебный год", people[0].id, 15),
                (
                    "Из опыта работы: задачи на функциональную грамотность в 7–9 классах",
                    people[1].id,
                    20,
                ),
                ("Разное", None, 10),
            ]
            for pos, (title, rapporteur, minutes) in enumerate(agenda, start=1):
                s.add(
                    AgendaItem(
                        meeting_id=meeting.id,
                        position=pos,
                        title=title,
                        rapporteur_id=rapporteur,
                        planned_minutes=minutes,
                    )
                )
            await s.flush()
            await _seed_year(s, settings, assoc, people, meeting)
        return True
    finally:
        await db.dispose()


async def create_admin(
    settings: Settings, email: str, password: str, last: str, first: str, middle: str = ""
) -> int:
    check_password_rule(password)
    email = email.strip().lower()
    db = Database(settings.database_url, key_dir=settings.resolved_sealing_key_dir)
    try:
        async with db.transaction() as s:
            user = await s.scalar(select(User).where(User.email == email))
            if user is None:
                user = User(
                    email=email,
                    password_hash=hash_password(password),
                    last_name=last,
                    first_name=first,
                    middle_name=middle,
                    is_admin=True,
                )
                s.add(user)
            else:
                user.is_admin = True
                user.password_hash = hash_password(password)
                user.session_version += 1
            await s.flush()
            return user.id
    finally:
        await db.dispose()


async def demo_logins(settings: Settings) -> list[tuple[str, str]]:
    """The demo accounts present in the database (e-mail, who), for the start-up banner."""
    db = Database(settings.database_url)
    try:
        async with db.read() as s:
            emails = [p[0] for p in DEMO_PEOPLE]
            found = set((await s.scalars(select(User.email).where(User.email.in_(emails)))).all())
    finally:
        await db.dispose()
    return [(p[0], f"{p[1]} {p[2][0]}.{p[3][0]}., {p[4]}") for p in DEMO_PEOPLE if p[0] in found]
