"""iCalendar (RFC 5545) invitations for meetings: one VEVENT per meeting with a stable UID.

    build_invitation(Invitation(...), method="REQUEST")  -> bytes of a VCALENDAR

An update keeps the UID and raises SEQUENCE; a cancellation is METHOD:CANCEL with
STATUS:CANCELLED and the next SEQUENCE (RFC 5546 §3.2.2 and §3.2.5).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from email.utils import parseaddr
from typing import Literal
from urllib.parse import urlsplit

from icalendar import Calendar, Event, vCalAddress, vText

Method = Literal["REQUEST", "CANCEL"]
PRODID = "-//SMO Live//Meetings//RU"


@dataclass(frozen=True, slots=True)
class Invitation:
    meeting_id: int
    sequence: int
    title: str
    description: str  # plain text: agenda and the join link
    starts_at: datetime
    ends_at: datetime
    url: str  # the meeting's page: {public_url}/meetings/{id}
    organizer: str  # "Name <address>" (settings.mail_from)
    attendee_email: str
    attendee_name: str
    stamp: datetime


def meeting_uid(public_url: str, meeting_id: int) -> str:
    """The same for every letter, update and cancellation of one meeting on one installation."""
    host = urlsplit(public_url).hostname or "smo.local"
    return f"smo-meeting-{meeting_id}@{host}"


def _address(email: str, name: str, **params: str) -> vCalAddress:
    address = vCalAddress(f"mailto:{email}")
    if name:
        address.params["CN"] = vText(name)
    for key, value in params.items():
        address.params[key] = vText(value)
    return address


def build_invitation(inv: Invitation, *, method: Method, uid: str) -> bytes:
    cal = Calendar()
    cal.add("prodid", PRODID)
    cal.add("version", "2.0")
    cal.add("calscale", "GREGORIAN")
    cal.add("method", method)
    event = Event()
    event.add("uid", uid)
    event.add("sequence", inv.sequence)
    event.add("dtstamp", inv.stamp.astimezone(UTC))
    event.add("dtstart", inv.starts_at.astimezone(UTC))
    event.add("dtend", inv.ends_at.astimezone(UTC))
    event.add("summary", inv.title)
    event.add("description", inv.description)
    event.add("location", inv.url)
    event.add("url", inv.url)
    organizer_name, organizer_email = parseaddr(inv.organizer)
    event.add("organizer", _address(organizer_email or "noreply@smo.local", organizer_name))
    event.add(
        "attendee",
        _address(
            inv.attendee_email,
            inv.attendee_name,
            ROLE="REQ-PARTICIPANT",
            PARTSTAT="NEEDS-ACTION",
            RSVP="FALSE",
        ),
    )
    if method == "CANCEL":
        event.add("status", "CANCELLED")
    else:
        event.add("status", "CONFIRMED")
        event.add("transp", "OPAQUE")
    cal.add_component(event)
    return bytes(cal.to_ical())
