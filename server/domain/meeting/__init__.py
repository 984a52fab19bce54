"""The live meeting and its event log: the room, chat, hands, polls, media facts, documents."""
