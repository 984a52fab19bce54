"""HTTP routes of the accounts group (see server/domain/accounts/)."""
