"""The live meeting and its log: room, chat, hands, polls, media facts, documents, transcript, recording."""
