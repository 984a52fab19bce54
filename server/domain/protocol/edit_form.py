"""The protocol's edit form as the page shows it: per item the СЛУШАЛИ summary, each
ВЫСТУПИЛИ line, each decision with its «Срок» and «Ответственный»; the officers (chosen from
the members present); the chat messages that may be promoted into ВЫСТУПИЛИ; extra
ПРИМЕЧАНИЯ. Built from the assembled model, so it always matches the document.

A speech field holds only the gist: the speaker's name is the label, never part of the value
(the layout drops a name typed in anyway, so it is never printed twice).
"""

from __future__ import annotations

from dataclasses import dataclass, field

from server.domain.protocol import editable_parts
from server.domain.protocol import russian as ru
from server.domain.protocol.model import Protocol, Speech

OFFICER_LABELS = {"chair": "Председатель", "secretary": "Секретарь"}


@dataclass(frozen=True, slots=True)
class TextField:
    key: str
    value: str
    placeholder: str = ""  # what the protocol says when the field is left empty


@dataclass(frozen=True, slots=True)
class SpeechRow:
    name: str
    field: TextField


@dataclass(frozen=True, slots=True)
class DecisionRow:
    number: str
    text: TextField
    deadline: TextField
    responsible: TextField
    outcome: str


@dataclass(frozen=True, slots=True)
class ItemFields:
    number: int
    title: str
    rapporteur: str
    summary: TextField
    speeches: tuple[SpeechRow, ...]
    decisions: tuple[DecisionRow, ...]


@dataclass(frozen=True, slots=True)
class OfficerChoice:
    role: str  # "chair" / "secretary"
    label: str
    key: str  # the form field: officer.<role>
    current: str  # participant key now named ("" = none)
    name: str
    absent: bool
    options: tuple[tuple[str, str], ...]  # (participant key, label)


@dataclass(frozen=True, slots=True)
class ChatChoice:
    seq: int
    time: str
    name: str
    text: str
    promoted: bool


@dataclass
class EditFormView:
    officers: list[OfficerChoice] = field(default_factory=list)
    items: list[ItemFields] = field(default_factory=list)
    chat: list[ChatChoice] = field(default_factory=list)
    notes: TextField = TextField("notes.extra", "")
    auto_notes: tuple[str, ...] = ()


def automatic_gist(s: Speech) -> str:
    """What ВЫСТУПИЛИ says for the speech when the secretary writes nothing."""
    if s.transcript:
        return s.transcript
    if s.seconds > 0:
        return f"выступление {max(1, round(s.seconds / 60))} мин."
    return "; ".join(ru.quoted(c) for c in s.chat)


def _outcome(status: str, unanimous: bool) -> str:
    return {
        "accepted": "решение принято единогласно" if unanimous else "решение принято",
        "rejected": "решение не принято",
        "interrupted": "голосование прервано окончанием заседания",
    }.get(status, "голосование не завершено")


def officer_choices(model: Protocol, planned: dict[str, tuple[str | None, str]]) -> list[OfficerChoice]:
    """``planned``: role -> (participant key, name) of the meeting's own officer."""
    out = []
    for role in ("chair", "secretary"):
        current = (model.chair_key if role == "chair" else model.secretary_key) or ""
        name = model.chair if role == "chair" else model.secretary
        options = [(k, n) for k, n in model.officer_candidates]
        own_key, own_name = planned.get(role, (None, ""))
        if own_key and own_key not in dict(options):
            options.insert(0, (own_key, f"{own_name} (не присутствовал на заседании)"))
        if current and current not in dict(options):
            options.insert(0, (current, name))
        out.append(
            OfficerChoice(
                role, OFFICER_LABELS[role], f"officer.{role}", current, name, role in model.absent_officers,
                tuple(options),
            )
        )  # fmt: skip
    return out


def edit_form_view(model: Protocol, planned: dict[str, tuple[str | None, str]]) -> EditFormView:
    parts = editable_parts(model)
    view = EditFormView(officers=officer_choices(model, planned))
    for item in model.items:
        speeches = tuple(
            SpeechRow(s.short_name, TextField(s.key, parts.get(s.key, ""), automatic_gist(s)))
            for s in item.speeches
        )
        decisions = tuple(
            DecisionRow(
                d.number,
                TextField(f"{d.key}.text", parts.get(f"{d.key}.text", d.text)),
                TextField(f"{d.key}.deadline", parts.get(f"{d.key}.deadline", ""), "например, до 25.12.2026"),
                TextField(f"{d.key}.responsible", parts.get(f"{d.key}.responsible", ""), "И.О. Фамилия"),
                _outcome(d.status, d.unanimous),
            )
            for d in item.decisions
        )
        view.items.append(
            ItemFields(
                item.number,
                item.title,
                item.rapporteur,
                TextField(item.summary_key, parts.get(item.summary_key, item.summary), item.title),
                speeches,
                decisions,
            )
        )
    view.chat = [
        ChatChoice(c.seq, ru.time_text(c.at), c.short_name, c.text, c.promoted) for c in model.chat if c.seq
    ]
    view.notes = TextField("notes.extra", parts.get("notes.extra", ""), "Каждое примечание с новой строки")
    extra = set(parts.get("notes.extra", "").splitlines())
    view.auto_notes = tuple(n for n in model.notes if n not in extra)
    return view
