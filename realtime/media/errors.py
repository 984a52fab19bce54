"""Typed media errors (messages in server/i18n/<locale>/meeting/media.json)."""

from __future__ import annotations

from server.errors import AppError


class MediaError(AppError):
    code, status = "media_bad_signal", 400


class BadSignal(MediaError):
    """Malformed or hostile SDP / candidate, or a message out of order."""

    code = "media_bad_signal"


class CodecUnsupported(MediaError):
    code = "media_codec_unsupported"


class ScreenBusy(MediaError):
    code, status = "media_screen_busy", 409


class NoPeer(MediaError):
    code, status = "media_no_peer", 409


class MicLocked(MediaError):
    code, status = "media_mic_locked", 403
