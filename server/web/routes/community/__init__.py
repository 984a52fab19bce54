"""HTTP routes of the community group (see server/domain/community/)."""
