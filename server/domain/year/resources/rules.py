"""The resource base: limits, the shapes the pages get, validation of the inputs."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from urllib.parse import urlsplit

from server.db.models import Association, StoredFile, User
from server.db.models.resources import Resource, ResourceKind

MAX_ID = 2**31 - 1
GRADES = range(1, 12)
MAX_TAGS = 10
MAX_TAG_CHARS = 50
MAX_TITLE = 300
MAX_DESCRIPTION = 10_000
MAX_SUBJECT = 200
MAX_LINK = 1000
LIST_LIMIT = 200

# Russian names of the kinds (also in the i18n catalogues, for the pages); used in the index.
KIND_NAMES_RU: dict[ResourceKind, str] = {
    ResourceKind.methodical: "методическая разработка",
    ResourceKind.lesson_notes: "конспект урока",
    ResourceKind.presentation: "презентация",
    ResourceKind.work_program: "рабочая программа",
    ResourceKind.didactic: "дидактический материал",
    ResourceKind.video: "видео",
    ResourceKind.other: "другое",
}


@dataclass(frozen=True, slots=True)
class ResourcesSummary:
    """Resources published within a period (for the annual analysis)."""

    published: int
    by_type: dict[str, int]  # ResourceKind value -> count


@dataclass(slots=True)
class ResourceItem:
    resource: Resource
    grades: list[int] = field(default_factory=list)
    tags: list[str] = field(default_factory=list)
    author: User | None = None
    file: StoredFile | None = None


@dataclass(slots=True)
class ResourceView:
    item: ResourceItem
    association: Association
    is_member: bool
    can_edit: bool
    can_moderate: bool
    can_delete: bool


@dataclass(frozen=True, slots=True)
class ResourceFilters:
    q: str = ""
    subject: str = ""
    grade: int | None = None
    kind: ResourceKind | None = None
    tag: str = ""


@dataclass(slots=True)
class ResourceIndexPage:
    association: Association
    is_member: bool
    can_moderate: bool
    published: list[ResourceItem]
    pending: list[ResourceItem]  # for moderators: the queue
    mine: list[ResourceItem]  # the reader's own unpublished proposals
    subjects: list[str]
    tags: list[str]


# ---------------------------------------------------------------- validation


def normalize_tags(raw: Sequence[str] | str) -> list[str]:
    """Tags from a list or a comma-separated string: trimmed, lower-cased, unique, in order."""
    items = raw.split(",") if isinstance(raw, str) else list(raw)
    out: list[str] = []
    for item in items:
        tag = " ".join(str(item).split()).lower()
        if tag and tag not in out:
            out.append(tag)
    return out


def check_input(
    *,
    title: str,
    description: str,
    subject: str,
    grades: Sequence[int],
    kind: str,
    tags: Sequence[str],
    link: str | None,
) -> dict[str, str]:
    """Field -> error code for everything wrong (the domain's own guard; forms check first)."""
    errors: dict[str, str] = {}
    if not title.strip():
        errors["title"] = "missing"
    elif len(title) > MAX_TITLE:
        errors["title"] = "string_too_long"
    if len(description) > MAX_DESCRIPTION:
        errors["description"] = "string_too_long"
    if len(subject) > MAX_SUBJECT:
        errors["subject"] = "string_too_long"
    if any(g not in GRADES for g in grades):
        errors["grades"] = "resource_grade"
    if kind not in ResourceKind.__members__:
        errors["kind"] = "enum"
    if len(tags) > MAX_TAGS:
        errors["tags"] = "resource_too_many_tags"
    elif any(len(t) > MAX_TAG_CHARS for t in tags):
        errors["tags"] = "resource_tag_too_long"
    if link is not None and not is_web_link(link):
        errors["link"] = "resource_link"
    return errors


def is_web_link(link: str) -> bool:
    """An absolute http(s) URL with a host, no spaces or control characters."""
    if not link or len(link) > MAX_LINK or any(c.isspace() or ord(c) < 32 for c in link):
        return False
    try:
        parts = urlsplit(link)
    except ValueError:
        return False
    return parts.scheme.lower() in ("http", "https") and bool(parts.hostname)
