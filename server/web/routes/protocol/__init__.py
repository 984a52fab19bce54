"""HTTP routes of the protocol group (see server/domain/protocol/)."""
