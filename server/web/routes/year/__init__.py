"""HTTP routes of the year group (see server/domain/year/)."""
