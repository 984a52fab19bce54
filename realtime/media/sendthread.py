"""The process's sending thread for forwarded RTP (the C extension ``_sendthread.c``).

With it on (the default, ``SMO_MEDIA_SEND_THREAD``), a slot's emit is one C call on the event
loop: the RTP header, the slot's extension block and the publisher's payload are written into
a ring slot and libsrtp protects them there with the subscriber's session (as before, on the
event loop's thread); a thread without the GIL sends the ring in order. The event loop no
longer spends the kernel's send (most of a forwarded packet's cost) and goes on with
signalling, chat and the next packets; the send runs on another core. ``flush`` wakes the
thread once per publisher packet (after the fan-out), so a 200-way fan-out costs one wake-up.

Without the compiled extension (an install without a C compiler) or with the setting off, the
slots send from the event loop as before (``hooks.rtp_emitter``'s direct path)."""

from __future__ import annotations

import logging
from typing import Any

log = logging.getLogger("smo.media")

_SendThread: Any
try:
    from realtime.media._dataplane import SendThread as _SendThread
except ImportError:  # pragma: no cover - depends on the install
    _SendThread = None

CAPACITY = 16384  # datagrams (≈ 25 MB); at 43k forwarded packets/s, ≈ 0.4 s of backlog

_enabled = True
_sendthread: Any = None


def available() -> bool:
    return _SendThread is not None


def configure(enabled: bool) -> None:
    """The setting, applied by ``Sfu`` when it starts (process-wide: one thread per process)."""
    global _enabled
    if enabled and _SendThread is None and _enabled:
        log.warning(
            "media: the sending thread is not built (realtime/media/_sendthread.c); sending from the event loop"
        )
    _enabled = enabled


def current() -> Any:
    """The process's sending thread, or None when slots send from the event loop."""
    global _sendthread
    if not _enabled or _SendThread is None:
        return None
    if _sendthread is None:
        from realtime.media import _dataplane as module
        from realtime.media.hooks import srtp_function_address

        module.set_protect(srtp_function_address("srtp_protect"))
        _sendthread = _SendThread(CAPACITY)
    return _sendthread


def flush() -> None:
    """Wake the thread for what the event loop queued (after a publisher packet's fan-out)."""
    if _sendthread is not None:
        _sendthread.flush()


def stats() -> dict[str, Any]:
    """Counters for /healthz and the benches: sent, send_errors, dropped (ring full), pending."""
    if _sendthread is None:
        return {"running": False, "enabled": _enabled and _SendThread is not None}
    return {**_sendthread.stats(), "enabled": _enabled}
