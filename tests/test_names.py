"""One short-name rule for every person shown (server/names.py): parts typed separately or as
free text, in any case and order, with or without a patronymic, in any script."""

from __future__ import annotations

import pytest

from server.names import order_key, parse_name, person_name, short_from_full, short_name


@pytest.mark.parametrize(
    ("typed", "full", "short"),
    [
        ("Орлова Вера Михайловна", "Орлова Вера Михайловна", "В.М. Орлова"),
        ("орлова вера михайловна", "Орлова Вера Михайловна", "В.М. Орлова"),
        ("  ОРЛОВА   ВЕРА  МИХАЙЛОВНА ", "Орлова Вера Михайловна", "В.М. Орлова"),
        ("Вера Михайловна Орлова", "Орлова Вера Михайловна", "В.М. Орлова"),
        ("вера орлова", "Орлова Вера", "В. Орлова"),
        ("Орлова Вера", "Орлова Вера", "В. Орлова"),
        ("Марина Орлова", "Орлова Марина", "М. Орлова"),
        ("Иванов Пётр Ильич", "Иванов Пётр Ильич", "П.И. Иванов"),
        ("Мамедов Эльчин Гасан оглы", "Мамедов Эльчин Гасан оглы", "Э.Г. Мамедов"),
        ("Римский-Корсаков Николай Андреевич", "Римский-Корсаков Николай Андреевич", "Н.А. Римский-Корсаков"),
        ("анна-мария петрова", "Петрова Анна-Мария", "А. Петрова"),
        ("John Smith", "Smith John", "J. Smith"),
        ("mary ann smith", "Smith Mary Ann", "M.A. Smith"),
        ("Лекторова", "Лекторова", "Лекторова"),
        ("", "", ""),
    ],
)
def test_typed_names_are_parsed(typed: str, full: str, short: str) -> None:
    name = parse_name(typed)
    assert (name.full, name.short) == (full, short)
    assert short_from_full(typed) == short


def test_parts_from_separate_fields() -> None:
    assert person_name("орлова", "вера", "михайловна").short == "В.М. Орлова"
    assert person_name("Орлова", "Вера").short == "В. Орлова"
    assert short_name("Орлова", "Вера", "Михайловна") == "В.М. Орлова"


def test_lists_sort_by_surname_cyrillic_first() -> None:
    typed = ["Орлова Вера Михайловна", "вера орлова", "Анна Петровна Быстрова", "John Smith", "ёлкин иван"]
    ordered = [parse_name(t).short for t in sorted(typed, key=lambda t: parse_name(t).sort_key)]
    assert ordered == ["А.П. Быстрова", "И. Ёлкин", "В. Орлова", "В.М. Орлова", "J. Smith"]
    assert order_key("Ёлкин") < order_key("Жуков") < order_key("Adams")
