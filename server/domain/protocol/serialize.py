"""MeetingInfo <-> JSON, so a frozen protocol version keeps the exact input of its assembly."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from server.domain.protocol.model import AgendaEntry, MeetingInfo, Member


def info_to_json(info: MeetingInfo) -> dict[str, Any]:
    def when(value: datetime | date | None) -> str | None:
        return value.isoformat() if value is not None else None

    return {
        "meeting_id": info.meeting_id,
        "association_name": info.association_name,
        "title": info.title,
        "founder_name": info.founder_name,
        "place": info.place,
        "quorum_rule": info.quorum_rule,
        "members": [[m.key, m.full_name, m.short_name, m.organisation] for m in info.members],
        "agenda": [
            [a.item_id, a.position, a.title, a.rapporteur, a.rapporteur_key, a.summary] for a in info.agenda
        ],
        "chair": info.chair,
        "secretary": info.secretary,
        "chair_key": info.chair_key,
        "secretary_key": info.secretary_key,
        "scheduled_start": when(info.scheduled_start),
        "scheduled_end": when(info.scheduled_end),
        "number": info.number,
        "protocol_date": when(info.protocol_date),
        "title_genitive": info.title_genitive,
    }


def info_from_json(data: dict[str, Any]) -> MeetingInfo:
    def moment(value: str | None) -> datetime | None:
        return datetime.fromisoformat(value) if value else None

    return MeetingInfo(
        meeting_id=data["meeting_id"],
        association_name=data["association_name"],
        title=data["title"],
        founder_name=data["founder_name"],
        place=data["place"],
        quorum_rule=data["quorum_rule"],
        members=tuple(Member(*m) for m in data["members"]),
        agenda=tuple(AgendaEntry(*a) for a in data["agenda"]),
        chair=data["chair"],
        secretary=data["secretary"],
        chair_key=data.get("chair_key"),  # versions frozen before officers were checked lack it
        secretary_key=data.get("secretary_key"),
        scheduled_start=moment(data["scheduled_start"]),
        scheduled_end=moment(data["scheduled_end"]),
        number=data["number"],
        protocol_date=date.fromisoformat(data["protocol_date"]) if data["protocol_date"] else None,
        title_genitive=data["title_genitive"],
    )
