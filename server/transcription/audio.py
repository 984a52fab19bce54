"""Audio for the engine: one speaker's Opus packets (as captured by the SFU) decoded to 16 kHz
mono float32, and files (WAV / OGG / WebM) the same way. PyAV (aiortc's dependency) decodes.

A captured segment travels as one blob: ``MAGIC`` then, per RTP packet, ``!IH`` (RTP
timestamp relative to the first packet, at 48 kHz; payload length) and the Opus payload. The
timestamps let the decoder put silence where packets were missing (loss, DTX)."""

from __future__ import annotations

import struct
from collections.abc import Iterable
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import numpy as np  # imported where used: server start stays lean


MAGIC = b"SMOP1"
ENTRY = struct.Struct("!IH")
RATE = 16000
OPUS_RATE = 48000
MAX_GAP = OPUS_RATE * 2  # a longer hole is capped at 2 s of silence


class BadAudio(Exception):
    """The audio cannot be decoded (corrupt blob, unknown format)."""


def pack_packets(packets: Iterable[tuple[int, bytes]]) -> bytes:
    """``(rtp timestamp, payload)`` in arrival order -> one blob."""
    out = [MAGIC]
    first: int | None = None
    for ts, payload in packets:
        if first is None:
            first = ts
        out.append(ENTRY.pack((ts - first) & 0xFFFFFFFF, len(payload)))
        out.append(payload)
    return b"".join(out)


def unpack_packets(blob: bytes) -> list[tuple[int, bytes]]:
    if not blob.startswith(MAGIC):
        raise BadAudio("not a captured Opus segment")
    packets = []
    i = len(MAGIC)
    n = len(blob)
    while i < n:
        if i + ENTRY.size > n:
            raise BadAudio("truncated packet header")
        offset, length = ENTRY.unpack_from(blob, i)
        i += ENTRY.size
        if i + length > n:
            raise BadAudio("truncated packet")
        packets.append((offset, blob[i : i + length]))
        i += length
    return packets


def decode_opus(blob: bytes) -> np.ndarray:
    """The captured packets -> 16 kHz mono float32 samples (silence for missing packets; a
    corrupt packet is skipped)."""
    import av
    import numpy as np

    packets = unpack_packets(blob)
    codec = av.CodecContext.create("opus", "r")
    codec.sample_rate = OPUS_RATE
    codec.layout = "mono"
    resampler = av.AudioResampler(format="flt", layout="mono", rate=RATE)
    chunks: list[np.ndarray] = []
    written = 0  # samples at 48 kHz placed so far
    decoded_any = False
    for offset, payload in sorted(packets, key=lambda p: p[0]):
        if offset > written:
            gap = min(offset - written, MAX_GAP)
            chunks.append(np.zeros(gap // 3, dtype=np.float32))
            written = offset
        elif offset + 960 <= written:
            continue  # a duplicate (retransmission) of audio already placed
        try:
            frames = codec.decode(av.Packet(payload))
        except Exception:  # av.error.InvalidDataError and friends: skip the packet
            continue
        for frame in frames:
            written += frame.samples
            for out in resampler.resample(frame):
                chunks.append(out.to_ndarray().reshape(-1).astype(np.float32, copy=False))
                decoded_any = True
    for out in resampler.resample(None):
        chunks.append(out.to_ndarray().reshape(-1).astype(np.float32, copy=False))
    if not decoded_any:
        raise BadAudio("no Opus packet could be decoded")
    return np.concatenate(chunks) if chunks else np.zeros(0, dtype=np.float32)


def decode_file(path: Path) -> np.ndarray:
    """A WAV / OGG / WebM (any format FFmpeg reads) -> 16 kHz mono float32."""
    import av
    import numpy as np

    try:
        container = av.open(str(path))
    except Exception as exc:
        raise BadAudio(f"cannot open {path}: {exc}") from exc
    with container:
        if not container.streams.audio:
            raise BadAudio(f"no audio stream in {path}")
        stream = container.streams.audio[0]
        resampler = av.AudioResampler(format="flt", layout="mono", rate=RATE)
        chunks: list[np.ndarray] = []
        try:
            for frame in container.decode(stream):
                for out in resampler.resample(frame):
                    chunks.append(out.to_ndarray().reshape(-1))
            for out in resampler.resample(None):
                chunks.append(out.to_ndarray().reshape(-1))
        except Exception as exc:
            raise BadAudio(f"cannot decode {path}: {exc}") from exc
    return np.concatenate(chunks).astype(np.float32) if chunks else np.zeros(0, dtype=np.float32)
