"""HTTP routes of the live meeting and its log."""
