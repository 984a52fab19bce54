"""Russian document conventions: names, dates, Moscow time, plural agreement."""

from __future__ import annotations

from datetime import date, datetime, timedelta, timezone

# Moscow has kept UTC+3 all year since 2014; a fixed offset keeps rendering independent of tzdata.
MOSCOW = timezone(timedelta(hours=3), "MSK")

MONTHS_GENITIVE = (
    "января",
    "февраля",
    "марта",
    "апреля",
    "мая",
    "июня",
    "июля",
    "августа",
    "сентября",
    "октября",
    "ноября",
    "декабря",
)


def moscow(moment: datetime) -> datetime:
    return moment.astimezone(MOSCOW)


def _day(value: date | datetime) -> date:
    return moscow(value).date() if isinstance(value, datetime) else value


def date_text(value: date | datetime) -> str:
    """«25 ноября 2026 г.», the form used in running text."""
    d = _day(value)
    return f"{d.day} {MONTHS_GENITIVE[d.month - 1]} {d.year} г."


def date_requisite(value: date | datetime) -> str:
    """«25.11.2026», the form of the document's date requisite."""
    d = _day(value)
    return f"{d.day:02d}.{d.month:02d}.{d.year:04d}"


def time_text(value: datetime) -> str:
    """«10:05», Moscow time."""
    m = moscow(value)
    return f"{m.hour:02d}:{m.minute:02d}"


def plural(n: int, one: str, few: str, many: str) -> str:
    """The noun form that agrees with ``n``: (1) человек, (3) человека, (12) человек."""
    n = abs(n)
    if n % 10 == 1 and n % 100 != 11:
        return one
    if 2 <= n % 10 <= 4 and not 12 <= n % 100 <= 14:
        return few
    return many


def count_text(n: int, one: str, few: str, many: str) -> str:
    return f"{n} {plural(n, one, few, many)}"


def people(n: int) -> str:
    """1 человек, 3 человека, 12 человек, 21 человек («человек» is also the genitive plural)."""
    return count_text(n, "человек", "человека", "человек")


def minutes(n: int) -> str:
    """1 минута, 2 минуты, 5 минут."""
    return count_text(n, "минута", "минуты", "минут")


def of_members(n: int) -> str:
    """«из 21 члена», «из 20 членов»: after «из» the number governs the genitive."""
    return f"{n} {'члена' if n % 10 == 1 and n % 100 != 11 else 'членов'}"


def present_verb(n: int) -> str:
    """«присутствует 1 из 20», «присутствуют 5 из 20»."""
    return "присутствует" if n % 10 == 1 and n % 100 != 11 else "присутствуют"


def short_name(full_name: str) -> str:
    """«Фамилия Имя Отчество» -> «И.О. Фамилия»; a single word is returned as is."""
    parts = full_name.split()
    if len(parts) < 2:
        return full_name.strip()
    last, given = parts[0], parts[1:3]
    initials = "".join(f"{p[0].upper()}." for p in given)
    return f"{initials} {last}"


def quoted(text: str) -> str:
    return f"«{text}»"


def sentence(text: str) -> str:
    """End a sentence with one full stop (keeps «?», «!» and «…»)."""
    text = text.strip()
    if not text or text[-1] in ".!?…":
        return text
    return text + "."


def votes_line(za: int, against: int, abstained: int) -> str:
    return f"«за» — {za}, «против» — {against}, «воздержались» — {abstained}"
