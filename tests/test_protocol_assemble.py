"""Assembly rules beyond the golden texts: Russian forms, edits, re-assembly, robustness."""

from __future__ import annotations

import dataclasses
from datetime import UTC, date, datetime

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from server.domain.meeting.meeting_log import LoggedEvent
from server.domain.protocol import (
    InvalidProtocolEdit,
    apply_edits,
    assemble_protocol,
    editable_parts,
    render_text,
    validate_edit,
)
from server.domain.protocol import russian as ru
from tests.support.logs import LogBuilder, meeting_info
from tests.test_protocol_golden import SCENARIOS


@pytest.mark.parametrize(
    ("n", "people", "minutes"),
    [
        (1, "1 человек", "1 минута"),
        (2, "2 человека", "2 минуты"),
        (3, "3 человека", "3 минуты"),
        (5, "5 человек", "5 минут"),
        (11, "11 человек", "11 минут"),
        (12, "12 человек", "12 минут"),
        (14, "14 человек", "14 минут"),
        (21, "21 человек", "21 минута"),
        (22, "22 человека", "22 минуты"),
        (111, "111 человек", "111 минут"),
        (0, "0 человек", "0 минут"),
    ],
)
def test_plural_agreement(n: int, people: str, minutes: str) -> None:
    assert ru.people(n) == people
    assert ru.minutes(n) == minutes


def test_dates_names_and_moscow_time() -> None:
    late = datetime(2026, 11, 24, 22, 30, tzinfo=UTC)  # already 25 November in Moscow
    assert ru.date_text(late) == "25 ноября 2026 г."
    assert ru.date_requisite(late) == "25.11.2026"
    assert ru.date_requisite(date(2027, 3, 1)) == "01.03.2027"
    assert ru.time_text(late) == "01:30"
    assert ru.short_name("Иванова Мария Петровна") == "М.П. Иванова"
    assert ru.short_name("Smith John") == "J. Smith"
    assert ru.of_members(21) == "21 члена" and ru.of_members(11) == "11 членов"
    assert ru.present_verb(21) == "присутствует" and ru.present_verb(11) == "присутствуют"


def test_votes_line() -> None:
    assert ru.votes_line(12, 0, 1) == "«за» — 12, «против» — 0, «воздержались» — 1"


def test_presence_share_is_configurable() -> None:
    info, events, form = SCENARIOS["threshold"]()
    half = assemble_protocol(info, events, form=form)
    strict = assemble_protocol(info, events, form=form, presence_share=0.9)
    assert "Г.О. Григорьев" not in half.present and "В.И. Жукова" in half.present
    assert strict.present == ("А.С. Абрамова", "Б.П. Белов")
    assert "не менее 90 % времени" in render_text(strict)


def test_number_and_date_come_from_the_record() -> None:
    info, events, form = SCENARIOS["quorum"]()
    numbered = dataclasses.replace(info, number=3, protocol_date=date(2026, 11, 26))
    text = render_text(assemble_protocol(numbered, events, form=form))
    assert "26.11.2026 № 3 " in text and "к протоколу от 26.11.2026 № 3" in text


def test_editable_parts_have_stable_keys() -> None:
    info, events, form = SCENARIOS["quorum"]()
    parts = editable_parts(assemble_protocol(info, events, form=form))
    assert parts["item.101.summary"] == "О результатах диагностических работ"
    assert parts["item.101.speech.u:4"] == ""
    assert parts["decision.1.text"] == "Принять к сведению результаты диагностических работ"
    assert {"decision.2.deadline", "decision.2.responsible", "item.102.speech.u:6"} <= parts.keys()


def test_edits_survive_reassembly_after_a_late_correction() -> None:
    info, events, form = SCENARIOS["quorum"]()
    edits = {
        "item.101.summary": "Проанализированы итоги диагностики в 7–9 классах",
        "item.101.speech.u:4": "предложил дополнительные занятия",
        "decision.1.text": "Принять к сведению результаты диагностики",
        "decision.1.deadline": "до 20 декабря 2026 г.",
        "decision.1.responsible": "руководители школьных МО",
        "decision.99.text": "a poll that no longer exists",
    }
    # The draft was assembled from a log that missed a chat message (a gap); the log is then
    # corrected and the protocol assembled again with the same stored edits.
    missing = next(i for i, e in enumerate(events) if e.type == "chat.message")
    first = assemble_protocol(info, events[:missing] + events[missing + 1 :], form=form, edits=edits)
    assert "отсутствует событие" in render_text(first)
    again = assemble_protocol(info, events, form=form, edits=edits)
    text = render_text(again)
    assert "В.И. Васильева — Проанализированы итоги диагностики в 7–9 классах." in text
    assert "Г.О. Григорьев — предложил дополнительные занятия." in text
    assert (
        "1.1. Принять к сведению результаты диагностики. Срок — до 20 декабря 2026 г. "
        "Ответственный — руководители школьных МО." in text
    )
    assert "decision.99.text" not in again.edited_keys
    assert again.edited_keys == first.edited_keys
    assert len(again.chat) == len(first.chat) + 1
    # Applying the same edits twice changes nothing.
    assert apply_edits(again, edits) == again


@pytest.mark.parametrize(
    ("key", "value"),
    [
        ("item.1.summary", "x" * 4001),
        ("decision.1.deadline", "x" * 201),
        ("item.1.summary", "bell\x07"),
        ("item.1.title", "unknown part"),
        ("item.1.summary", 5),
        ("decision.1.text; drop", "x"),
    ],
)
def test_bad_edits_are_rejected(key: str, value: object) -> None:
    with pytest.raises(InvalidProtocolEdit) as caught:
        validate_edit(key, value)
    assert caught.value.status == 422 and caught.value.code == "protocol_edit_invalid"
    assert "отклонена" in caught.value.message("ru")


def test_edits_are_plain_text_kept_verbatim() -> None:
    assert validate_edit("decision.1.responsible", "  И.О.\n Фамилия ") == "И.О. Фамилия"
    assert validate_edit("item.1.summary", "<i>a</i> & b\r\nc") == "<i>a</i> & b\nc"


def test_empty_log_still_gives_a_protocol() -> None:
    text = render_text(assemble_protocol(meeting_info(3), []))
    assert "Журнал заседания пуст." in text and "Присутствовали: нет" in text


def test_speech_across_items_is_split_at_the_boundary() -> None:
    info = meeting_info(4, agenda=(("Первый", None), ("Второй", None)))
    m = info.members
    b = LogBuilder().begin()
    for x in m:
        b.join(x)
    b.at(1).item(101, 1, "Первый").at(5).floor(m[2]).at(8).item(102, 2, "Второй").at(10).floor(
        m[2], False
    ).at(20).end()
    protocol = assemble_protocol(info, b.events)
    assert [(s.short_name, s.seconds) for s in protocol.items[0].speeches] == [("В.И. Васильева", 180)]
    assert [(s.short_name, s.seconds) for s in protocol.items[1].speeches] == [("В.И. Васильева", 120)]


_GARBAGE = st.sampled_from(
    [
        ("participant.joined", {"participant": 5}),
        ("poll.closed", {"poll_id": [1], "result": "x"}),
        ("poll.closed", {"poll_id": 1, "result": {"counts": "abc", "cast": "7"}}),
        ("vote.cast", {"poll_id": 1, "ballots": None, "voter": "u:1", "choices": [99, "x"]}),
        ("poll.created", {"poll_id": 1, "options": 3}),
        ("agenda.item.started", {"item_id": "101"}),
        ("chat.message", {"text": None}),
        ("unknown.type", {}),
        ("meeting.ended", {}),
    ]
)


@settings(max_examples=60, deadline=None)
@given(
    name=st.sampled_from(sorted(SCENARIOS)),
    drop=st.sets(st.integers(min_value=0, max_value=80), max_size=20),
    garbage=st.lists(st.tuples(st.integers(min_value=0, max_value=80), _GARBAGE), max_size=5),
)
def test_any_damaged_log_still_gives_a_protocol(
    name: str, drop: set[int], garbage: list[tuple[int, tuple[str, dict]]]
) -> None:
    info, events, form = SCENARIOS[name]()
    kept = [e for i, e in enumerate(events) if i not in drop]
    for position, (type_, payload) in garbage:
        at = events[min(position, len(events) - 1)].at
        kept.append(LoggedEvent(1, 1000 + position, type_, "u:1", payload, at))
    protocol = assemble_protocol(info, kept, form=form)
    assert render_text(protocol).startswith("Управление образования")


def test_an_item_never_taken_up_is_marked() -> None:
    info = meeting_info(3, agenda=(("Первый", 0), ("Второй", 1)))
    b = LogBuilder().begin()
    for x in info.members:
        b.join(x)
    b.at(1).item(101, 1, "Первый").at(10).item_end(101).at(12).end()
    text = render_text(assemble_protocol(info, b.events))
    first, second = text.split("2. СЛУШАЛИ:")
    assert "не рассматривался" not in first
    assert second.startswith("\nБ.П. Белов — Второй.\nВопрос на заседании не рассматривался.\n")
