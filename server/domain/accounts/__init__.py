"""Accounts, passwords, associations, memberships and permissions."""
