"""Helpers shared by the media benchmarks (not a benchmark itself: `make bench` skips `_*.py`)."""

from __future__ import annotations

from collections.abc import Iterable

from aiortc import RTCPeerConnection


async def inbound_totals(pcs: Iterable[RTCPeerConnection]) -> tuple[int, int]:
    """(packets lost, packets received) over every receiving transceiver of the peers."""
    lost = received = 0
    for pc in pcs:
        for t in pc.getTransceivers():
            if t.direction == "recvonly":
                for st in (await t.receiver.getStats()).values():
                    if st.type == "inbound-rtp":
                        lost += max(st.packetsLost, 0)
                        received += st.packetsReceived
    return lost, received


def enlarge_receive_buffers(pcs: Iterable[RTCPeerConnection], size: int = 1 << 20) -> None:
    """Give the load generator's UDP sockets a browser-sized receive buffer (Chromium's RTP
    sockets ask for about 1 MB; Linux's default 208 kB overflows when several publishers'
    key frames reach one subscriber in the same millisecond on loopback)."""
    import socket

    for pc in pcs:
        for t in pc.getTransceivers()[:1]:
            connection = t.receiver.transport.transport._connection
            for protocol in connection._protocols:
                transport = protocol.transport
                if transport is not None and not transport.is_closing():  # ICE closed unused pairs
                    transport.get_extra_info("socket").setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, size)
