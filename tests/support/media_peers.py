"""aiortc client peers for the media tests: synthetic camera and microphone, receive slots."""

from __future__ import annotations

import array
import asyncio
import contextlib
import fractions
import math
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field

from aiortc import RTCBundlePolicy, RTCConfiguration, RTCPeerConnection, RTCSessionDescription
from aiortc.mediastreams import MediaStreamError, MediaStreamTrack, VideoStreamTrack
from av import AudioFrame, VideoFrame

from realtime.media import hooks

SAMPLE_RATE = 48000
SAMPLES = 960  # 20 ms


class ToneTrack(MediaStreamTrack):
    """A 440 Hz tone (or ``frequency``), loud while ``pattern(t)`` is true, silent otherwise
    (paced in real time; ``frequency`` should make whole periods in 20 ms: a multiple of 50)."""

    kind = "audio"

    def __init__(self, pattern: Callable[[float], bool] = lambda t: True, frequency: float = 440) -> None:
        super().__init__()
        self.pattern = pattern
        self.start: float | None = None
        self._pts = 0
        tone = array.array(
            "h", (int(math.sin(2 * math.pi * frequency * n / SAMPLE_RATE) * 12000) for n in range(SAMPLES))
        )
        self._tone = tone.tobytes()
        self._silence = bytes(2 * SAMPLES)

    @property
    def sent_seconds(self) -> float:
        return self._pts / SAMPLE_RATE

    async def recv(self) -> AudioFrame:
        if self.readyState != "live":
            raise MediaStreamError
        if self.start is None:
            self.start = time.monotonic()
        else:
            wait = self.start + self._pts / SAMPLE_RATE - time.monotonic()
            if wait > 0:
                await asyncio.sleep(wait)
        t = self._pts / SAMPLE_RATE
        samples = self._tone if self.pattern(t) else self._silence
        frame = AudioFrame(format="s16", layout="mono", samples=SAMPLES)
        frame.planes[0].update(samples)
        frame.sample_rate = SAMPLE_RATE
        frame.pts = self._pts
        frame.time_base = fractions.Fraction(1, SAMPLE_RATE)
        self._pts += SAMPLES
        return frame


class PatternTrack(VideoStreamTrack):
    """Small moving colour frames at 30 fps (the client encodes them with VP8)."""

    def __init__(self, width: int = 160, height: int = 120) -> None:
        super().__init__()
        self.width = width
        self.height = height
        self.count = 0

    async def recv(self) -> VideoFrame:
        pts, time_base = await self.next_timestamp()
        frame = VideoFrame(self.width, self.height, "yuv420p")
        luma = bytearray(self.width * self.height)
        band = (self.count * 4) % (self.height - 8)
        luma[band * self.width : (band + 8) * self.width] = b"\xff" * (8 * self.width)
        frame.planes[0].update(bytes(luma))
        chroma = bytes([(self.count * 5) % 256]) * (self.width * self.height // 4)
        frame.planes[1].update(chroma)
        frame.planes[2].update(chroma)
        self.count += 1
        frame.pts = pts
        frame.time_base = time_base
        return frame


@dataclass
class Received:
    kind: str
    mid: str
    frames: int = 0
    first_at: float | None = None
    widths: set[int] = field(default_factory=set)


class ClientPeer:
    """One participant's browser stand-in."""

    def __init__(self, audio_slots: int = 3, video_slots: int = 2) -> None:
        self.pc = RTCPeerConnection(RTCConfiguration(iceServers=[], bundlePolicy=RTCBundlePolicy.MAX_BUNDLE))
        self.sources: dict[str, str] = {}
        self.received: dict[str, Received] = {}
        self._pending: list[tuple[str, MediaStreamTrack]] = []
        self._tasks: list[asyncio.Task[None]] = []
        self.created = time.monotonic()
        self.audio_slots = audio_slots
        self.video_slots = video_slots
        self.on_frame: Callable[[str, float], None] | None = None  # (kind, arrival) per frame
        self.pc.on("track", self._on_track)

    def publish(self, track: MediaStreamTrack, source: str) -> None:
        self._pending.append((source, track))

    async def offer(self, send: Callable[[str, dict[str, str]], Awaitable[str]]) -> None:
        """Create the offer, let ``send(sdp, sources)`` deliver it, apply the answer."""
        added = [
            (self.pc.addTransceiver(track, direction="sendonly"), source) for source, track in self._pending
        ]
        self._pending.clear()
        if self.pc.remoteDescription is None:  # the receive slots come with the first offer
            for _ in range(self.audio_slots):
                self.pc.addTransceiver("audio", direction="recvonly")
            for _ in range(self.video_slots):
                self.pc.addTransceiver("video", direction="recvonly")
        await self.pc.setLocalDescription(await self.pc.createOffer())
        for transceiver, source in added:
            self.sources[str(transceiver.mid)] = source
        answer = await send(self.pc.localDescription.sdp, dict(self.sources))
        await self.pc.setRemoteDescription(RTCSessionDescription(sdp=answer, type="answer"))
        # A browser routes the SFU's retransmissions by their SSRC; aiortc alone drops them
        # when several video slots share the RTX payload type (see hooks.install_rtx_routing).
        hooks.install_rtx_routing(self.pc.getTransceivers()[0].receiver.transport)

    def _on_track(self, track: MediaStreamTrack) -> None:
        mid = next(t.mid for t in self.pc.getTransceivers() if t.receiver.track is track)
        rec = self.received[str(mid)] = Received(track.kind, str(mid))
        self._tasks.append(asyncio.ensure_future(self._consume(track, rec)))

    async def _consume(self, track: MediaStreamTrack, rec: Received) -> None:
        with contextlib.suppress(MediaStreamError, asyncio.CancelledError):
            while True:
                frame = await track.recv()
                now = time.monotonic()
                rec.frames += 1
                if rec.first_at is None:
                    rec.first_at = now
                if self.on_frame is not None:
                    self.on_frame(rec.kind, now)
                if isinstance(frame, VideoFrame):
                    rec.widths.add(frame.width)

    def frames(self, kind: str) -> int:
        return sum(r.frames for r in self.received.values() if r.kind == kind)

    def first_frame_at(self, kind: str) -> float | None:
        times = [r.first_at for r in self.received.values() if r.kind == kind and r.first_at]
        return min(times) if times else None

    async def close(self) -> None:
        await self.pc.close()
        for task in self._tasks:
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)


class WavTrack(MediaStreamTrack):
    """A microphone that speaks a WAV file once (after ``lead`` seconds of silence), then stays
    silent; paced in real time. aiortc's sender encodes it as Opus and, as browsers do, sends
    its RFC 6464 audio level with every packet (the SFU's speech detection reads it)."""

    kind = "audio"

    def __init__(self, path: str, lead: float = 0.5) -> None:
        super().__init__()
        import av

        resampler = av.AudioResampler(format="s16", layout="mono", rate=SAMPLE_RATE)
        pcm = bytearray()
        with av.open(path) as container:
            for frame in container.decode(audio=0):
                for out in resampler.resample(frame):
                    pcm += bytes(out.planes[0])[: out.samples * 2]
        for out in resampler.resample(None):
            pcm += bytes(out.planes[0])[: out.samples * 2]
        self._pcm = bytes(2 * int(lead * SAMPLE_RATE)) + bytes(pcm)
        self.speech_seconds = len(pcm) / 2 / SAMPLE_RATE
        self.start: float | None = None
        self.spoken_at: float | None = None  # monotonic time the last speech sample was sent
        self._pts = 0

    async def recv(self) -> AudioFrame:
        if self.readyState != "live":
            raise MediaStreamError
        if self.start is None:
            self.start = time.monotonic()
        else:
            wait = self.start + self._pts / SAMPLE_RATE - time.monotonic()
            if wait > 0:
                await asyncio.sleep(wait)
        offset = self._pts * 2
        chunk = self._pcm[offset : offset + 2 * SAMPLES]
        if offset < len(self._pcm) <= offset + 2 * SAMPLES:
            self.spoken_at = time.monotonic()
        chunk = chunk + bytes(2 * SAMPLES - len(chunk))
        frame = AudioFrame(format="s16", layout="mono", samples=SAMPLES)
        frame.planes[0].update(chunk)
        frame.sample_rate = SAMPLE_RATE
        frame.pts = self._pts
        frame.time_base = fractions.Fraction(1, SAMPLE_RATE)
        self._pts += SAMPLES
        return frame
