"""Imports every module that registers room messages: one ``import`` line per area."""

import realtime.docs.sync
import realtime.media.signalling
import realtime.media.transcription
import realtime.meeting.handlers.chat
import realtime.meeting.handlers.floor
import realtime.meeting.handlers.groups
import realtime.meeting.handlers.moderation
import realtime.meeting.handlers.polls
import realtime.meeting.handlers.reactions
import realtime.meeting.handlers.recording
import realtime.meeting.handlers.room  # noqa: F401
