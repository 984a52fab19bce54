"""Preparing a meeting (clause 5.1): the information letter with its iCalendar invitation,
materials, members' registration, the reminder and the «заседание завтра» notification.

Rights: the letter is the methodist's (methodists of the association, administrators);
materials are added and removed by the meeting's moderators by office (methodists,
administrators, the chair and the secretary), who also see the registrations; members of the
association (and administrators) read the materials and register.

Mail never leaves from a request: rows in the durable outbox do the work.

* ``meeting.letter`` {letter_id} expands one :class:`MeetingLetter` (an invitation, an update
  after a reschedule, or a cancellation) into one e-mail per recipient, deduplicated by
  ``letter:{meeting}:{sequence}:{user}``. A letter superseded by a later SEQUENCE is skipped
  (the later one carries the news).
* ``meeting.schedule`` {meeting_id, starts_at} is queued whenever a meeting gets a start
  (created, rescheduled; also on registering and sending the letter, for meetings made
  otherwise); it queues the two delayed jobs for that start, because only a job sees the
  settings (``reminder_minutes``).
* ``meeting.reminder`` {meeting_id, starts_at} at ``starts_at - reminder_minutes``: one e-mail
  per registrant (``reminder:{meeting}:{start}:{user}``), only if the meeting still starts then.
* ``meeting.tomorrow`` {meeting_id, starts_at} at 09:00 Moscow time of the day before the
  meeting (or at once when the meeting is planned later than that on the day before):
  ``notify(..., meeting_tomorrow)`` for every member, only if the meeting still starts then and
  it is still the day before.

Modules: rules (limits, errors, inputs), reading (the page, materials, registrations),
materials, registration, letters (queued, sent, rescheduled), letter_text (the letter and the
reminder as e-mails), jobs (the outbox jobs above).
"""

from __future__ import annotations

from server.domain.year.preparation.jobs import tomorrow_run_at
from server.domain.year.preparation.letters import letters_of, send_letter, stamp, unsent_members
from server.domain.year.preparation.materials import (
    add_material,
    material_file,
    material_to_resource,
    remove_material,
)
from server.domain.year.preparation.reading import (
    is_methodist_of,
    is_registered,
    materials_of,
    preparation_page,
    registration_count,
    registrations,
    registrations_csv,
)
from server.domain.year.preparation.registration import register, unregister
from server.domain.year.preparation.rules import MaterialInput

__all__ = [
    "MaterialInput",
    "add_material",
    "is_methodist_of",
    "is_registered",
    "letters_of",
    "material_file",
    "material_to_resource",
    "materials_of",
    "preparation_page",
    "register",
    "registration_count",
    "registrations",
    "registrations_csv",
    "remove_material",
    "send_letter",
    "stamp",
    "tomorrow_run_at",
    "unregister",
    "unsent_members",
]
