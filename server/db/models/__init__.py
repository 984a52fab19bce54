"""All models, imported here so that metadata (and Alembic) sees every table."""

from server.db.models.accounts import Organisation, User
from server.db.models.associations import Association, Invitation, Membership, QuorumRule, Role
from server.db.models.meeting_log import MeetingEvent
from server.db.models.meetings import (
    AdmissionPolicy,
    AgendaItem,
    Meeting,
    MeetingForm,
    MeetingGuest,
    MeetingStatus,
)
from server.db.models.outbox import OutboxMessage

__all__ = [
    "AdmissionPolicy",
    "AgendaItem",
    "Association",
    "Invitation",
    "Meeting",
    "MeetingEvent",
    "MeetingForm",
    "MeetingGuest",
    "MeetingStatus",
    "Membership",
    "Organisation",
    "OutboxMessage",
    "QuorumRule",
    "Role",
    "User",
]
