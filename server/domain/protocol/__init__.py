"""The meeting protocol's workflow: assembly, the secretary's edit form, approval, mailing."""
