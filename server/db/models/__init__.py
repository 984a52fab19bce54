"""All models, imported here so that metadata (and Alembic) sees every table."""

from server.db.models.accounts import Organisation, User
from server.db.models.analysis import AnnualAnalysis  # noqa: F401
from server.db.models.announcements import Announcement, AnnouncementFile  # noqa: F401
from server.db.models.associations import Association, Invitation, Membership, QuorumRule, Role
from server.db.models.competitions import (  # noqa: F401
    Competition,
    CompetitionCriterion,
    CompetitionEntry,
    CompetitionJuror,
    CompetitionScore,
)
from server.db.models.consultations import (  # noqa: F401
    ConsultationAnswer,
    ConsultationExpert,
    ConsultationQuestion,
)
from server.db.models.documents import (  # noqa: F401
    DocSnapshot,
    DocumentKind,
    DocUpdate,
    EditPolicy,
    MeetingDocument,
)
from server.db.models.files import StoredFile
from server.db.models.library import LibraryDocument, LibraryKind, LibraryVersion  # noqa: F401
from server.db.models.meeting_log import MeetingEvent
from server.db.models.meetings import (
    AdmissionPolicy,
    AgendaItem,
    Meeting,
    MeetingForm,
    MeetingGuest,
    MeetingStatus,
)
from server.db.models.notifications import (  # noqa: F401
    EmailMode,
    Notification,
    NotificationKind,
    NotificationPreference,
)
from server.db.models.outbox import OutboxMessage
from server.db.models.plans import PlanRow, PlanRowSource, PlanRowStatus, WorkPlan  # noqa: F401
from server.db.models.polls import Ballot, Poll, PollParticipation, SealedBallot  # noqa: F401
from server.db.models.preparation import (  # noqa: F401
    LetterReason,
    MaterialKind,
    MeetingLetter,
    MeetingMaterial,
    MeetingRegistration,
)
from server.db.models.profiles import MemberProfile, ProfileCourse, QualificationCategory  # noqa: F401
from server.db.models.protocols import (  # noqa: F401
    MeetingProtocol,
    ProtocolEdit,
    ProtocolRemark,
    ProtocolStatus,
    ProtocolVersion,
)
from server.db.models.questionnaires import (  # noqa: F401
    Question,
    Questionnaire,
    QuestionnaireAnswer,
    QuestionnaireAuthor,
    QuestionnaireParticipant,
    QuestionnaireResponse,
    QuestionnaireSealed,
)
from server.db.models.resources import (  # noqa: F401
    Resource,
    ResourceGrade,
    ResourceKind,
    ResourceStatus,
    ResourceTag,
)
from server.db.models.search import SearchEntry
from server.db.models.topics import TopicProposal, TopicStatus, TopicSupport  # noqa: F401
from server.db.models.transcripts import TranscriptJob  # noqa: F401

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
    "SearchEntry",
    "StoredFile",
    "User",
]
from server.db.models.recordings import MeetingRecording, RecordingTrack  # noqa: F401
