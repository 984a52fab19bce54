"""E-mail: queued durably in the outbox, sent by the background worker."""
