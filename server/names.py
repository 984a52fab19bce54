"""People's names as official documents show them: one parser, one short form, one sort key.

Everywhere a person is shown (protocols, rooms, lists) the short form is «И.О. Фамилия»,
built by ``short_name`` from the parts. Free text typed by a guest is split into parts by
``parse_name``, robustly: any letter case, a missing patronymic, the «Имя Отчество Фамилия»
and «Имя Фамилия» orders, non-Russian names (Latin script: given name first).

Pure functions, no imports from the rest of the project (the database models use them too).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

# Patronymics: -ович/-евич/-ич, -овна/-евна/-ична/-инична; Turkic «оглы»/«кызы» follow the name.
_PATRONYMIC = re.compile(r"(вич|вна|ична|инична|ьич)$")
_TURKIC = frozenset({"оглы", "кызы", "улы", "уулу"})
# Typical Russian surname endings (a word that looks like a surname, not a given name).
_SURNAME = re.compile(
    r"(ов|ова|ев|ева|ёв|ёва|ин|ина|ын|ына|ский|ская|цкий|цкая|ской|ых|их|енко|ук|юк|ко|ян|дзе|швили|ович)$"
)
# Given names that end like surnames (Марина, Ирина, Полина, …): never taken for a surname.
_GIVEN_LIKE_SURNAME = frozenset(
    {
        "марина", "ирина", "полина", "алина", "галина", "арина", "карина", "нина", "кристина", "регина",
        "ангелина", "валентина", "екатерина", "эвелина", "альбина", "лина", "дина", "зарина", "римма",
        "илья", "никита", "лев", "ян", "вениамин", "кузьма", "фома", "савва", "святослав",
    }
)  # fmt: skip
_CYRILLIC = re.compile(r"[а-яё]", re.IGNORECASE)
_SPACES = re.compile(r"\s+")


@dataclass(frozen=True, slots=True)
class PersonName:
    last: str
    first: str = ""
    middle: str = ""

    @property
    def full(self) -> str:
        """«Фамилия Имя Отчество» (the parts there are)."""
        return " ".join(p for p in (self.last, self.first, self.middle) if p)

    @property
    def short(self) -> str:
        return short_name(self.last, self.first, self.middle)

    @property
    def stored(self) -> str:
        """The one-line form ``parse_name`` reads back into the same parts: «Фамилия Имя
        Отчество» for Cyrillic names, «Given Family» for others."""
        if not self.last or _CYRILLIC.match(self.last):
            return self.full
        return " ".join(p for p in (self.first, self.middle, self.last) if p)

    @property
    def sort_key(self) -> tuple[int, str, str, str]:
        return (*order_key(self.last), alpha(self.first), alpha(self.middle))


def alpha(text: str) -> str:
    """A case- and «ё»-insensitive key for alphabetical order."""
    return text.casefold().replace("ё", "е")


def order_key(text: str) -> tuple[int, str]:
    """Russian lists: Cyrillic names first (А–Я, «ё» as «е»), then other scripts (A–Z)."""
    return (0 if _CYRILLIC.match(text.strip()) else 1, alpha(text))


def _cap_word(word: str) -> str:
    if not word:
        return word
    if word.islower() or word.isupper():
        word = word.lower()
        return "-".join(p[:1].upper() + p[1:] for p in word.split("-"))
    return word  # mixed case is kept as typed (McDonald, ДиКаприо)


def capitalise(part: str) -> str:
    """«орлова» -> «Орлова», «АННА-МАРИЯ» -> «Анна-Мария»; mixed case is kept."""
    return " ".join(_cap_word(w) for w in _SPACES.split(part.strip()) if w)


def _initial(part: str) -> str:
    letters = [c for c in part if c.isalpha()]
    return f"{letters[0].upper()}." if letters else ""


def short_name(last: str, first: str = "", middle: str = "") -> str:
    """«И.О. Фамилия» from the parts; «И. Фамилия» without a patronymic; the surname alone.
    Every given name has its initial («Mary Ann» -> «M.A.»), a patronymic one («Гасан оглы» -> «Г.»)."""
    initials = "".join(_initial(p) for p in first.split()) + (_initial(middle) if middle.strip() else "")
    last = capitalise(last)
    return f"{initials} {last}".strip() if last else initials


def _is_patronymic(word: str) -> bool:
    w = alpha(word)
    return bool(_PATRONYMIC.search(w)) or (w.split() or [""])[-1] in _TURKIC


def _looks_like_surname(word: str) -> bool:
    w = alpha(word)
    return w not in _GIVEN_LIKE_SURNAME and bool(_SURNAME.search(w)) and not _is_patronymic(word)


def parse_name(text: str) -> PersonName:
    """Split a typed full name into parts (see the module's docstring for the rules)."""
    words: list[str] = []
    for w in _SPACES.split(text.replace(",", " ").strip()):
        if w and alpha(w) in _TURKIC and words:
            words[-1] = f"{words[-1]} {alpha(w)}"  # «Гасан оглы» is one patronymic
        elif w:
            words.append(capitalise(w))
    if not words:
        return PersonName("")
    if len(words) == 1:
        return PersonName(words[0])
    if not any(_CYRILLIC.search(w) for w in words):
        # Latin (or other) script: «John Smith», «Mary Ann Smith» — the family name comes last.
        return PersonName(words[-1], " ".join(words[:-1]))
    if len(words) >= 3 and _is_patronymic(words[1]) and not _is_patronymic(words[2]):
        # «Вера Михайловна Орлова»
        return PersonName(" ".join(words[2:]), words[0], words[1])
    if len(words) >= 3 and _is_patronymic(words[-1]):
        # «Орлова Вера Михайловна» (a double surname may come in two words)
        return PersonName(" ".join(words[:-2]), words[-2], words[-1])
    if len(words) == 2:
        first, second = words
        if _is_patronymic(second):  # «Вера Михайловна»: no surname given
            return PersonName("", first, second)
        if _looks_like_surname(second) and not _looks_like_surname(first):
            return PersonName(second, first)  # «Вера Орлова»
        return PersonName(first, second)  # «Орлова Вера»: the official order
    return PersonName(words[0], words[1], " ".join(words[2:]))


def person_name(last: str, first: str = "", middle: str = "") -> PersonName:
    """The parts as given in separate fields, tidied (case, spaces)."""
    return PersonName(capitalise(last), capitalise(first), capitalise(middle))


def short_from_full(full_name: str) -> str:
    """The short form of a typed full name (parsed with ``parse_name``)."""
    return parse_name(full_name).short
