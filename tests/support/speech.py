"""Russian test speech (tests/speech/, scripts/make_test_speech.sh) as a browser would send it."""

from __future__ import annotations

import fractions
from pathlib import Path

import av

SPEECH = Path(__file__).resolve().parents[1] / "speech"


def opus_packets(wav: Path) -> list[tuple[int, bytes]]:
    """The WAV encoded as 20 ms Opus packets with their RTP timestamps, as a browser sends."""
    codec = av.CodecContext.create("libopus", "w")
    codec.sample_rate = 48000
    codec.layout = "mono"
    codec.format = av.AudioFormat("s16")
    codec.time_base = fractions.Fraction(1, 48000)
    resampler = av.AudioResampler(format="s16", layout="mono", rate=48000, frame_size=960)
    packets: list[tuple[int, bytes]] = []
    ts = 1_000_000
    with av.open(str(wav)) as container:
        for frame in container.decode(audio=0):
            for out in resampler.resample(frame):
                for packet in codec.encode(out):
                    packets.append((ts, bytes(packet)))
                    ts += 960
    for packet in codec.encode(None):
        packets.append((ts, bytes(packet)))
        ts += 960
    return packets
