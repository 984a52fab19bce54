"""The resource base (clauses 3.4, 6.1): members propose files or links, the methodist
publishes or rejects them with a reason; published resources are searched in Russian.

Visibility (decided for the whole installation, in the regulation's spirit of sharing):
- a *published* resource is visible to every signed-in user of the installation (its search
  entry has no association, so the shared search shows it to all signed-in readers);
- a *pending* or *rejected* resource is visible only to its author, the association's
  methodists and administrators — to everyone else it does not exist (404), it is never in the
  search index, and its file is never served.

Proposing needs membership of the association (any role); moderation needs the methodist (or an
administrator). The author edits while pending (or rejected: editing a rejected resource sends
it back for moderation); the methodist edits at any time.

Modules: rules (limits, shapes, validation), access (who may see and moderate), notices (the
search index and the notifications), actions (propose, edit, publish, reject, delete),
reading (the list with search, one resource, its file), summary (for the annual analysis and
the activity statistics).
"""

from __future__ import annotations

from server.domain.year.resources.actions import (
    create_resource,
    delete_resource,
    publish_resource,
    reject_resource,
    update_resource,
)
from server.domain.year.resources.reading import propose_context, resource_file, resource_index, resource_view
from server.domain.year.resources.rules import (
    GRADES,
    KIND_NAMES_RU,
    MAX_DESCRIPTION,
    MAX_LINK,
    MAX_SUBJECT,
    MAX_TAG_CHARS,
    MAX_TAGS,
    MAX_TITLE,
    ResourceFilters,
    ResourcesSummary,
    is_web_link,
    normalize_tags,
)
from server.domain.year.resources.summary import resources_summary

__all__ = [
    "GRADES",
    "KIND_NAMES_RU",
    "MAX_DESCRIPTION",
    "MAX_LINK",
    "MAX_SUBJECT",
    "MAX_TAGS",
    "MAX_TAG_CHARS",
    "MAX_TITLE",
    "ResourceFilters",
    "ResourcesSummary",
    "create_resource",
    "delete_resource",
    "is_web_link",
    "normalize_tags",
    "propose_context",
    "publish_resource",
    "reject_resource",
    "resource_file",
    "resource_index",
    "resource_view",
    "resources_summary",
    "update_resource",
]
