"""The protocol laid out as a flat list of blocks, shared by every rendering.

The text, HTML, DOCX and PDF renderings only differ in how they draw a block, so they say
the same thing by construction. The order and wording follow PROTOCOL.md §1.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from server.domain.protocol import russian as ru
from server.domain.protocol.boards import page_pictures
from server.domain.protocol.groups import group_lines
from server.domain.protocol.model import Decision, Item, PollReport, Protocol, Speech
from server.domain.protocol.text import clean_block
from server.domain.protocol.transcript import stenogram_lines

BlockKind = Literal[
    "text", "heading", "requisites", "signature", "table", "break", "gap", "attachment_mark", "image"
]


@dataclass(frozen=True, slots=True)
class Block:
    kind: BlockKind
    text: str = ""
    right: str = ""  # requisites: the place; signature: the name
    rows: tuple[tuple[str, ...], ...] = ()  # table: the first row is the header
    bold: bool = False
    image: bytes = b""  # image: PNG bytes (e.g. server.charts.bar_chart(..., fmt="png")); text = caption
    width_mm: float = 160.0  # image: the printed width


def _t(text: str, bold: bool = False) -> Block:
    return Block("text", text, bold=bold)


GAP = Block("gap")


def number_line(protocol: Protocol) -> str:
    h = protocol.header
    day = ru.date_requisite(h.date) if h.date else "__.__.____"
    return f"{day} № {h.number if h.number is not None else '___'}"


def _present_line(p: Protocol) -> str:
    if not p.present:
        return "Присутствовали: нет"
    if p.list_attached:
        return f"Присутствовали: {ru.people(len(p.present))} (список прилагается)"
    return "Присутствовали: " + ", ".join(p.present)


def _quorum_line(p: Protocol) -> str:
    q = p.quorum
    counted = f"{ru.present_verb(q.present)} {q.present} из {ru.of_members(q.total)} СМО."
    if q.rule == "none":
        return f"Кворум не требуется: {counted}"
    return f"Кворум имеется: {counted}" if q.has_quorum else f"Кворума нет: {counted}"


_NAME_SEPARATORS = " \t—–-:,."


def without_name(text: str, *names: str) -> str:
    """The gist without a leading speaker's name the secretary typed in («И.О. Фамилия — …»)."""
    stripped = text.strip()
    for name in sorted((n for n in names if n), key=len, reverse=True):
        if stripped.casefold().startswith(name.casefold()):
            rest = stripped[len(name) :]
            if not rest or rest[0] in _NAME_SEPARATORS:
                return rest.lstrip(_NAME_SEPARATORS)
    return stripped


def _speech_lines(s: Speech) -> list[Block]:
    quotes = "; ".join(ru.quoted(c) for c in s.chat)
    summary = without_name(s.summary, s.short_name)
    if summary:
        first = f"{s.short_name} — {ru.sentence(summary)}"
    elif s.transcript:
        first = f"{s.short_name} — {ru.sentence(s.transcript)}"
    elif s.seconds > 0:
        first = f"{s.short_name} — выступление {max(1, round(s.seconds / 60))} мин."
    else:
        noun = "сообщение" if len(s.chat) == 1 else "сообщения"
        return [_t(f"{s.short_name} — {quotes} ({noun} в чате).")]
    out = [_t(first)]
    if quotes:
        out.append(_t(f"{'Сообщение' if len(s.chat) == 1 else 'Сообщения'} в чате: {quotes}."))
    return out


INTERRUPTED = "Голосование не завершено: прервано окончанием заседания."


def _decision_lines(d: Decision) -> list[Block]:
    first = f"{d.number}. {ru.sentence(d.text)}"
    if d.deadline:
        first += f" Срок — {ru.sentence(d.deadline)}"
    if d.responsible:
        first += f" Ответственный — {ru.sentence(d.responsible)}"
    if d.status == "interrupted" and d.counts is not None:
        return [_t(first), _t(f"{INTERRUPTED} Подано голосов до окончания: {ru.votes_line(*d.counts)}.")]
    if d.status == "unfinished" or d.counts is None:
        return [_t(first), _t("Голосование не завершено.")]
    if d.status == "accepted":
        outcome = "Решение принято единогласно." if d.unanimous else "Решение принято."
    elif not d.quorum:
        outcome = "Решение не принято: нет кворума."
    else:
        outcome = "Решение не принято."
    return [_t(first), _t(f"Голосовали: {ru.votes_line(*d.counts)}. {outcome}")]


def _option_counts(poll: PollReport) -> str:
    pairs = [f"{ru.quoted(o)} — {c}" for o, c in zip(poll.options, poll.counts or (), strict=False)]
    return ", ".join(pairs) if pairs else "голосов нет"


def _poll_counts(poll: PollReport) -> str:
    if poll.counts is None:
        return "голосование не завершено"
    if poll.interrupted:
        return f"голосование не завершено: прервано окончанием заседания; подано до окончания: {_option_counts(poll)}"
    return _option_counts(poll)


def _item_blocks(item: Item, full: bool) -> list[Block]:
    out = [_t(f"{item.number}. СЛУШАЛИ:", bold=True)]
    summary = ru.sentence(item.summary)
    out.append(_t(f"{item.rapporteur} — {summary}" if item.rapporteur else summary))
    if not item.considered:
        out.append(_t("Вопрос на заседании не рассматривался."))
    if full and item.speeches:
        out.append(_t("ВЫСТУПИЛИ:", bold=True))
        for s in item.speeches:
            out.extend(_speech_lines(s))
    for work in item.groups:
        out += [_t(text, bold=bold) for text, bold in group_lines(work)]
    if item.decisions:
        out.append(_t("ПОСТАНОВИЛИ:", bold=True))
        for d in item.decisions:
            out.extend(_decision_lines(d))
    for poll in item.polls:
        out.append(_t(f"Опрос {ru.quoted(poll.question)}: {_poll_counts(poll)}."))
    out.append(GAP)
    return out


# Short headers: the PDF's narrow columns never break a word («Подключе|ние»).
ATTENDANCE_HEADER = ("№", "Фамилия, имя, отчество", "Организация", "Время подключения", "Всего", "Учтён")


def _attendance(p: Protocol) -> list[Block]:
    share = round(p.presence_share * 100)
    out = [Block("heading", "СПИСОК ПРИСУТСТВУЮЩИХ", bold=True)]
    if p.started and p.ended:
        out.append(
            _t(
                f"Заседание {ru.date_text(p.started)}, {ru.time_text(p.started)}–{ru.time_text(p.ended)} "
                f"(время московское). Присутствующим считается участник, подключённый не менее "
                f"{share} % времени заседания."
            )
        )
    if not p.attendance:
        return [*out, _t("Подключений к заседанию не было.")]
    rows: list[tuple[str, ...]] = [ATTENDANCE_HEADER]
    for n, r in enumerate(p.attendance, start=1):
        spans = ", ".join(f"{ru.time_text(a)}–{ru.time_text(b)}" for a, b in r.intervals)
        rows.append(
            (
                str(n),
                r.full_name + (" (приглашённый участник)" if r.role == "guest" else ""),
                r.organisation or "—",
                spans or "—",
                ru.minutes(round(r.seconds_present / 60)),
                "да" if r.counted else "нет",
            )
        )
    return [*out, Block("table", rows=tuple(rows))]


def _polls(p: Protocol) -> list[Block]:
    out = [Block("heading", "РЕЗУЛЬТАТЫ ГОЛОСОВАНИЙ", bold=True)]
    for n, poll in enumerate(p.polls, start=1):
        kind = "тайное голосование" if poll.secret else "открытое голосование"
        out.append(_t(f"{n}. {ru.quoted(poll.question)} — {kind}.", bold=True))
        if poll.counts is None:
            out.append(_t(f"Голосование не завершено (бюллетеней: {poll.cast})."))
        elif poll.interrupted:
            out.append(
                _t(
                    f"{INTERRUPTED} Подано до окончания: {_option_counts(poll)}; "
                    f"проголосовали {poll.cast} из {poll.eligible}."
                )
            )
        else:
            out.append(_t(f"{_poll_counts(poll)}; проголосовали {poll.cast} из {poll.eligible}."))
        if poll.ballots:
            out.append(_t("Голосовали поименно:"))
            for option in poll.options:
                voters = [b.short_name for b in poll.ballots if option in b.choices]
                if voters:
                    out.append(_t(f"{ru.quoted(option)} — {', '.join(voters)}."))
    return out


def protocol_blocks(p: Protocol) -> list[Block]:
    h = p.header
    out: list[Block] = [_t(line) for line in (h.founder_name, h.association_name) if line]
    out += [GAP, Block("heading", "ПРОТОКОЛ", bold=True), GAP]
    out += [Block("requisites", number_line(p), right=h.place), GAP, _t(h.title_line), GAP]
    out += [
        _t(f"Председатель — {p.chair or 'не назначен'}"),
        _t(f"Секретарь — {p.secretary or 'не назначен'}"),
        _t(_present_line(p)),
    ]
    if p.guests:
        guests = "; ".join(
            f"{g.short_name} — {g.organisation}" if g.organisation else g.short_name for g in p.guests
        )
        out.append(_t(f"Приглашенные: {guests}"))
    out.append(_t(_quorum_line(p)))
    if p.recording_line:
        out.append(_t(p.recording_line))
    out += [GAP, _t("ПОВЕСТКА ДНЯ:", bold=True)]
    if p.agenda_approved:
        out += [_t(f"{n}. {title}") for n, title in enumerate(p.agenda, start=1)]
    else:
        out.append(_t("Повестка дня не утверждена."))
    out.append(GAP)
    for item in p.items:
        out += _item_blocks(item, p.form == "full")
    if p.notes:
        out.append(_t("ПРИМЕЧАНИЯ:", bold=True))
        out += [_t(f"{n}. {note}") for n, note in enumerate(p.notes, start=1)]
        out.append(GAP)

    attachments: list[tuple[str, list[Block]]] = [("Список присутствующих", _attendance(p))]
    for doc in p.documents:
        if doc.board is not None:  # a board («Доска»): its final pages as pictures
            body = [Block("heading", f"ИТОГОВЫЕ СТРАНИЦЫ ДОСКИ {ru.quoted(doc.title)}", bold=True)]
            for title, png in page_pictures(doc):
                body += [_t(title, bold=True), Block("image", title, image=png, width_mm=170.0), GAP]
            attachments.append((f"Итоговые страницы доски {ru.quoted(doc.title)}", body))
            continue
        body = [Block("heading", f"ИТОГОВЫЙ ТЕКСТ СОВМЕСТНОГО ДОКУМЕНТА {ru.quoted(doc.title)}", bold=True)]
        body += [_t(line) for line in doc.text.splitlines() if line.strip()] or [_t("(документ пуст)")]
        attachments.append((f"Итоговый текст совместного документа {ru.quoted(doc.title)}", body))
    if p.polls:
        attachments.append(("Результаты голосований", _polls(p)))
    if p.chat:  # chat lines are not speeches: every public message, in full, with its time
        chat = [Block("heading", "СООБЩЕНИЯ ЧАТА", bold=True)]
        chat += [_t(f"{ru.time_text(c.at)} {c.short_name}: {c.text}") for c in p.chat]
        attachments.append(("Сообщения чата", chat))
    if p.stenogram:
        body = [Block("heading", "СТЕНОГРАММА ВЫСТУПЛЕНИЙ", bold=True)]
        body += [_t("Автоматическая расшифровка; время московское.")]
        body += [_t(line) for line in stenogram_lines(p.stenogram)]
        attachments.append(("Стенограмма выступлений", body))
    out.append(
        _t("Приложения: " + " ".join(f"{n}. {ru.sentence(t)}" for n, (t, _) in enumerate(attachments, 1)))
    )
    out += [
        GAP,
        Block("signature", "Председатель", right=p.chair),
        Block("signature", "Секретарь", right=p.secretary),
    ]
    for n, (_, body) in enumerate(attachments, start=1):
        out += [
            Block("break"),
            Block("attachment_mark", f"Приложение {n}", right=f"к протоколу от {number_line(p)}"),
        ]
        out += [GAP, *body]
    return [clean_block(b) for b in out]
