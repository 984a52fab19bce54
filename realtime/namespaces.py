"""Registers every Socket.IO namespace of the app."""

from __future__ import annotations

from typing import TYPE_CHECKING

import socketio

if TYPE_CHECKING:
    from server.runtime import Runtime


def register_namespaces(sio: socketio.AsyncServer, runtime: Runtime) -> None:
    # The meeting room (realtime/meeting/): its handlers come from realtime/meeting/handlers/.
    import realtime.meeting.handlers  # noqa: F401  (registers the room's messages)
    from realtime.meeting.namespace import MeetingNamespace
    from realtime.meeting.service import install

    room = install(runtime, sio)
    from realtime.docs.hooks import install as install_documents  # shared documents (realtime/docs/)

    install_documents(runtime, room)
    from realtime.meeting.handlers.polls import start_poll_timers  # polls: timers survive a restart

    start_poll_timers(runtime)
    from realtime.media.transcriber import start_transcriber  # speech -> transcript.segment

    start_transcriber(runtime)
    sio.register_namespace(MeetingNamespace(runtime, room, "/"))
