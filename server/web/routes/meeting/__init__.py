"""HTTP routes of the meeting group (see server/domain/meeting/)."""
