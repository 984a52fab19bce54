"""The SFU's knobs and the operator's ICE servers (never aiortc's default public STUN)."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

from aiortc import RTCBundlePolicy, RTCConfiguration, RTCIceServer

# "turn:user:secret@turn.example.org:3478?transport=udp" -> credentials split off the URL.
_CREDENTIALS = re.compile(r"^(?P<scheme>stuns?|turns?):(?P<user>[^:@]+):(?P<secret>[^@]+)@(?P<rest>.+)$")


def parse_ice_servers(entries: list[str]) -> list[RTCIceServer]:
    """One entry per server: ``stun:host:port`` or ``turn:user:secret@host:port[?transport=]``."""
    servers: list[RTCIceServer] = []
    for raw in entries:
        entry = raw.strip()
        if not entry:
            continue
        match = _CREDENTIALS.match(entry)
        if match:
            url = f"{match['scheme']}:{match['rest']}"
            servers.append(RTCIceServer(urls=url, username=match["user"], credential=match["secret"]))
        elif re.match(r"^(stuns?|turns?):", entry):
            servers.append(RTCIceServer(urls=entry))
        else:
            raise ValueError(f"not a STUN/TURN URL: {entry!r}")
    return servers


@dataclass(frozen=True)
class MediaConfig:
    ice_servers: list[str] = field(default_factory=list)
    max_audio: int = 3  # loudest current speakers forwarded to everyone
    last_n: int = 6  # cameras of the last N active speakers (plus the screen share)
    ice_timeout: float = 20.0  # a peer that has not connected by then is closed
    keyframe_interval: float = 0.3  # at most one keyframe request per publisher per interval
    # Speech detection from RFC 6464 levels (0 = loudest, 127 = silence, in -dBov).
    speech_level: int = 50  # a packet at or below this level is voiced
    speech_on: float = 0.25  # voiced for this long (gaps < speech_gap allowed) -> started
    speech_gap: float = 0.15
    speech_off: float = 0.8  # unvoiced for this long -> ended
    tick: float = 0.1  # policy / speech timer period
    max_packets_per_second: int = 3000  # per published track; above it the peer is closed
    placement_ttl: float = 15.0  # seconds a dead node keeps its meetings (Redis placement)
    send_thread: bool = True  # forwarded RTP sent by a thread of its own (realtime/media/sendthread.py)

    @classmethod
    def from_settings(cls, settings: Any) -> MediaConfig:
        """Fields named ``media_<knob>`` on the settings override the defaults when present."""
        values: dict[str, Any] = {"ice_servers": list(getattr(settings, "ice_servers", []) or [])}
        for name in cls.__dataclass_fields__:
            if name != "ice_servers" and hasattr(settings, f"media_{name}"):
                values[name] = getattr(settings, f"media_{name}")
        return cls(**values)

    def rtc_configuration(self) -> RTCConfiguration:
        # max-bundle: with aiortc's default "balanced" policy, the second transceiver of the
        # second media kind created by setRemoteDescription keeps a discarded transport and
        # never sends (aiortc 1.16.0); tests/test_media_units.py pins this.
        return RTCConfiguration(
            iceServers=parse_ice_servers(self.ice_servers), bundlePolicy=RTCBundlePolicy.MAX_BUNDLE
        )
