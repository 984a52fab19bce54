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
