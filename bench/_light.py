"""A light load generator for the media benchmarks (not a benchmark itself: `make bench` skips `_*.py`).

The app runs as its own uvicorn process (its CPU read from /proc); the participants run in
worker processes (``multiprocessing``, forked), each on its own uvloop event loop, and talk to
the app as the room page does: a WebSocket Socket.IO client (bench/_sio.py) joins the meeting,
asks ``media.config`` and offers over ``media.offer``.

- **Light participants** complete the real handshake with an aiortc ``RTCPeerConnection`` (ICE,
  DTLS, SRTP keys; as many receive slots as the page opens). Once connected, every RTP packet
  that reaches one of its ICE sockets is taken before aiortc sees it: its clear header
  (sequence number, timestamp, SSRC, marker) is counted per stream — packets, sequence gaps,
  frames (marker bits), arrival of the first frame — and only a sample is SRTP-decrypted
  (every ``sample``-th video packet: a decrypt failure means invalid media). STUN (consent
  freshness) and RTCP still go to aiortc. A light participant that publishes sends
  pre-encoded, pre-packetised media itself: the RTP header packed into the SRTP session's
  buffer, protected and sent on the nominated socket (``hooks.rtp_emitter``, the SFU's own
  emit); aiortc's sender stays for SDP and RTCP (a PLI restarts the clip at its key frame).
- **Latency**: every video packet carries, in its VP8 payload descriptor (RFC 7741), the
  picture id (the frame's number) and TL0PICIDX = the publisher's index; the publisher
  writes each frame's send time into a shared-memory ring, the subscriber reads it for the
  decrypted sample: arrival − send = the added latency (same machine, CLOCK_MONOTONIC).
- **Witnesses**: a few full aiortc peers decode everything (libvpx, Opus): their decoded
  frame rate per video slot and their freezes (> 500 ms between two decoded frames) are what
  a person would see.
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
import multiprocessing as mp
import os
import re
import secrets
import signal
import struct
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import itertools

import aiohttp
from _rtc import encode_opus, encode_vp8
from _sio import RawClient
from _sio import session as http_session
from aiortc import RTCBundlePolicy, RTCConfiguration, RTCPeerConnection, RTCSessionDescription
from aiortc.mediastreams import MediaStreamError, MediaStreamTrack
from aiortc.rtp import RtpPacket

from realtime.media import hooks

ROOT = Path(__file__).resolve().parents[1]
RING = 1024  # send times kept per publisher (frames): 34 s at 30 fps
MAX_PUBLISHERS = 256  # TL0PICIDX is one byte
CHUNK = 1100  # VP8 payload bytes per packet after the descriptor (as aiortc's packetiser)
FREEZE = 0.5  # seconds between two decoded frames that count as a freeze


# --- media, encoded once in the coordinator (the forked workers inherit it) ---------------------
@dataclass
class Clip:
    kind: str
    fps: float
    step: int  # RTP timestamp step per frame
    frames: list[list[bytes]]  # video: the partition chunks of each frame; audio: [payload]


def video_clip(width: int, height: int, fps: int, seconds: float, bitrate: int) -> Clip:
    frames = encode_vp8(width, height, fps, seconds, bitrate, one_key_frame=True)
    return Clip(
        "video", fps, 90000 // fps, [[f[i : i + CHUNK] for i in range(0, len(f), CHUNK)] for f in frames]
    )


def audio_clip() -> Clip:
    return Clip("audio", 50, 960, [[p] for p in encode_opus()])


def clip_summary(clip: Clip) -> str:
    sizes = [sum(map(len, f)) for f in clip.frames]
    packets = sum(map(len, clip.frames)) / len(clip.frames)
    return f"{clip.kind} {len(sizes)} frames, {sum(sizes) // len(sizes)} B avg, {packets:.1f} packets/frame"


# --- the server and its world -------------------------------------------------------------------
def cpu_seconds(pid: int) -> float:
    """user + system CPU of a process (all its threads) from /proc."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def loop_cpu_seconds(pid: int) -> float:
    """user + system CPU of the process's main thread: uvicorn's event loop (SQLite's, the
    transcriber's and the SFU's sending thread are threads of their own)."""
    fields = Path(f"/proc/{pid}/task/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


def udp_drops() -> int:
    """The kernel's UDP receive-buffer overflows, machine-wide (/proc/net/snmp RcvbufErrors)."""
    lines = [
        line.split() for line in Path("/proc/net/snmp").read_text().splitlines() if line.startswith("Udp:")
    ]
    return int(lines[1][lines[0].index("RcvbufErrors")])


def load_average() -> str:
    return Path("/proc/loadavg").read_text().split(" ")[0]


async def seed(url: str, meetings: int, people: int) -> list[tuple[int, list[int]]]:
    """``meetings`` live meetings (open admission) of ``people`` users each; user 0 of each
    meeting is a methodist of the association (a moderator), the others members."""
    from server.db.engine import Database
    from server.db.models import AdmissionPolicy, Association, Meeting, MeetingStatus, Membership, Role, User
    from server.db.types import utcnow

    db = Database(url)
    out = []
    async with db.transaction() as s:
        association = Association(name=f"СМО bench {secrets.token_hex(3)}")
        s.add(association)
        await s.flush()
        for m in range(meetings):
            users = [
                User(
                    email=f"m{m}p{i}-{secrets.token_hex(3)}@example.org",
                    password_hash="x",
                    last_name=f"Участник{m}-{i}",
                    first_name="Бенч",
                )
                for i in range(people)
            ]
            s.add_all(users)
            await s.flush()
            for i, u in enumerate(users):
                role = Role.methodist if i == 0 else Role.member
                s.add(Membership(association_id=association.id, user_id=u.id, role=role))
            now = utcnow()
            meeting = Meeting(
                association_id=association.id,
                title=f"Бенчмарк {m + 1}",
                starts_at=now,
                ends_at=now,
                status=MeetingStatus.live,
                admission=AdmissionPolicy.open,
                guest_token=secrets.token_urlsafe(16),
            )
            s.add(meeting)
            await s.flush()
            out.append((meeting.id, [u.id for u in users]))
    await db.dispose()
    return out


@dataclass
class Server:
    proc: subprocess.Popen[bytes]
    port: int
    log: Path
    profiled: bool = False

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def pid(self) -> int:
        return self.proc.pid

    def stop(self) -> None:
        if self.proc.poll() is None:
            # SIGINT under cProfile: uvicorn shuts down and returns, cProfile writes its stats
            self.proc.send_signal(signal.SIGINT if self.profiled else signal.SIGTERM)
            try:
                self.proc.wait(20)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(5)


async def start_server(
    database_url: str,
    var_dir: Path,
    secret: str,
    extra_env: dict[str, str] | None = None,
    name: str = "app",
    profile: str | None = None,
) -> Server:
    """The app as its own uvicorn process; ``profile``: a cProfile stats file written when it stops."""
    from tests.support.net import free_port, wait_for
    from tests.support.proc import uvicorn_command

    port = free_port()
    env = {
        **os.environ,
        "SMO_DATABASE_URL": database_url,
        "SMO_SECRET_KEY": secret,
        "SMO_VAR_DIR": str(var_dir),
        "SMO_LOG_LEVEL": "WARNING",
        "SMO_CHAT_MESSAGES_PER_10S": "1000000",
        **(extra_env or {}),
    }
    if "SMO_REDIS_URL" not in (extra_env or {}):
        env.pop("SMO_REDIS_URL", None)
    log = var_dir / f"{name}-{port}.log"

    def spawn() -> subprocess.Popen[bytes]:
        var_dir.mkdir(parents=True, exist_ok=True)
        with log.open("ab") as out:
            return subprocess.Popen(
                uvicorn_command(port, ["-m", "cProfile", "-o", profile] if profile else None),
                cwd=ROOT,
                env=env,
                stdout=out,
                stderr=subprocess.STDOUT,
            )

    proc = await asyncio.to_thread(spawn)
    server = Server(proc, port, log, profiled=bool(profile))

    async def ok() -> bool:
        import httpx

        if proc.poll() is not None:
            raise SystemExit(f"server exited: {log.read_text()[-3000:]}")
        try:
            async with httpx.AsyncClient(timeout=2) as c:
                return (await c.get(f"{server.url}/healthz")).status_code == 200
        except httpx.HTTPError:
            return False

    try:
        await wait_for(ok, 120, interval=0.1, what="server ready")
    except BaseException:
        server.stop()
        raise
    return server


# --- participants -------------------------------------------------------------------------------
@dataclass
class Spec:
    """One participant for a worker: which meeting, who, what it publishes, how it receives."""

    meeting_id: int
    cookie: str
    url: str
    index: int  # participant number in its meeting (0 = the moderator)
    publish: list[str] = field(default_factory=list)  # "camera" / "screen" / "mic"
    witness: bool = False  # a full aiortc peer that decodes
    join_at: float = 0.0  # seconds after the worker's "go" (join storm)
    chat: bool = False  # sends the meeting's chat messages
    media: bool = True  # False: a chat observer (Socket.IO only, in a process of its own)
    moderator: bool = False  # opens the polls


class IdleTrack(MediaStreamTrack):
    """The track of a light publisher's aiortc sender: its RTP loop waits here for good (the
    light publisher sends the packets itself)."""

    def __init__(self, kind: str) -> None:
        super().__init__()
        self.kind = kind
        self._never: asyncio.Future[None] | None = None

    async def recv(self) -> Any:
        if self._never is None:
            self._never = asyncio.get_running_loop().create_future()
        await self._never
        raise MediaStreamError


class Shared:
    """Shared memory of all processes: each video frame's send time by (publisher, picture id)."""

    def __init__(self) -> None:
        self.send_times = mp.get_context("fork").RawArray("d", MAX_PUBLISHERS * RING)


class Counters:
    """What a worker's light receivers counted (plain numbers: sent to the coordinator)."""

    def __init__(self) -> None:
        self.packets = {"audio": 0, "video": 0}
        self.lost = {"audio": 0, "video": 0}  # sequence gaps, from the per-stream state at mark()
        self.frames = 0  # video marker packets
        self.latencies: list[float] = []
        self.decrypted = 0
        self.decrypt_failed = 0
        self.first_frame: list[float] = []  # join -> first complete video frame (seconds)


class LightReceiver:
    """Counts one light participant's incoming RTP from its clear header; decrypts a sample."""

    def __init__(self, counters: Counters, shared: Shared, video_pts: set[int], sample: int) -> None:
        self.c = counters
        self.send_times = shared.send_times
        self.video_pts = video_pts
        self.sample = sample
        self.session: Any = None
        self.streams: dict[int, list[int]] = {}  # ssrc -> [base, cycles, highest, received, video]
        self.n = 0
        self.joined_at = 0.0
        self.first_frame_at: float | None = None

    def packet(self, data: bytes) -> None:
        b0, b1, seq, _ts, ssrc = HEADER.unpack_from(data)
        video = (b1 & 0x7F) in self.video_pts
        s = self.streams.get(ssrc)
        if s is None:
            s = self.streams[ssrc] = [seq, 0, seq, 0, video]
        else:
            delta = (seq - s[2]) & 0xFFFF
            if delta and delta < 0x8000:
                if seq < s[2]:
                    s[1] += 0x10000
                s[2] = seq
        s[3] += 1
        c = self.c
        if not video:
            c.packets["audio"] += 1
            return
        c.packets["video"] += 1
        if b1 & 0x80:
            c.frames += 1
            if self.first_frame_at is None:
                self.first_frame_at = time.monotonic()
                c.first_frame.append(self.first_frame_at - self.joined_at)
        self.n += 1
        if self.n % self.sample == 0 and self.session is not None:
            self._sample(data, b0)

    def _sample(self, data: bytes, b0: int) -> None:
        now = time.monotonic()
        try:
            clear = self.session.unprotect(data)
        except Exception:
            self.c.decrypt_failed += 1
            return
        self.c.decrypted += 1
        i = 12 + 4 * (b0 & 0x0F)
        if b0 & 0x10:
            i += 4 + 4 * int.from_bytes(clear[i + 2 : i + 4], "big")
        d = clear[i:]
        if len(d) < 5 or d[0] & 0x80 == 0 or d[1] & 0xC0 != 0xC0:
            return
        if d[2] & 0x80:
            pid, j = ((d[2] & 0x7F) << 8) | d[3], 4
        else:
            pid, j = d[2], 3
        sent = self.send_times[d[j] * RING + pid % RING]
        if sent:
            self.c.latencies.append(now - sent)

    def lost(self) -> dict[str, int]:
        out = {"audio": 0, "video": 0}
        for base, cycles, highest, received, video in self.streams.values():
            out["video" if video else "audio"] += max(0, cycles + highest - base + 1 - received)
        return out


HEADER = struct.Struct("!BBHII")


def intercept(pc: RTCPeerConnection, on_rtp: Callable[[bytes], None]) -> int:
    """Take every RTP packet arriving on the peer's ICE sockets before aioice and aiortc see it;
    STUN, DTLS and RTCP pass on. Returns the number of sockets intercepted."""
    connection = pc.getTransceivers()[0].receiver.transport.transport._connection
    n = 0
    for protocol in connection._protocols:
        original = protocol.datagram_received

        def datagram_received(data: bytes, addr: Any, original: Any = original) -> None:
            if len(data) >= 12 and 127 < data[0] < 192 and not 191 < data[1] < 224:
                on_rtp(data)
            else:
                original(data, addr)

        protocol.datagram_received = datagram_received
        transport = protocol.transport
        if transport is not None and not transport.is_closing():
            import socket

            with contextlib.suppress(OSError):
                transport.get_extra_info("socket").setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 1 << 20)
        n += 1
    return n


class LightPublisher:
    """Sends a pre-encoded clip on one of a light participant's senders, paced in real time."""

    def __init__(self, transceiver: Any, clip: Clip, index: int, shared: Shared, level: int | None) -> None:
        self.transceiver = transceiver
        self.clip = clip
        self.index = index  # the publisher's number in the VP8 descriptor's TL0PICIDX
        self.send_times = shared.send_times
        self.level = level
        self.keyframe = False
        self.lateness: list[float] = []
        self.sent = 0
        hooks.install_sender_keyframe_hook(transceiver.sender, self._pli)

    def _pli(self) -> None:
        self.keyframe = True

    async def run(self) -> None:
        sender = self.transceiver.sender
        dtls = sender.transport
        mime = "video/vp8" if self.clip.kind == "video" else "audio/opus"
        pt = next(int(c.payloadType) for c in self.transceiver._codecs if c.mimeType.lower() == mime)
        packet = RtpPacket(payload_type=0)
        packet.extensions.mid = self.transceiver.mid
        if self.level is not None:
            packet.extensions.audio_level = (True, self.level)
        raw = packet.serialize(getattr(sender, hooks.SENDER_EXTENSIONS_MAP))
        ext = raw[12:] if raw[0] & 0x10 else b""
        b0 = 0x90 if ext else 0x80
        header = struct.Struct(f"!BBHII{len(ext)}s")
        pair = hooks.nominated_pair(dtls)
        emit = hooks.rtp_emitter(dtls._tx_srtp, header, dtls, pair)
        ssrc = sender._ssrc
        seq = secrets.randbits(16)
        ts = secrets.randbits(32)
        clip, frames = self.clip, self.clip.frames
        video = clip.kind == "video"
        slot = self.index * RING
        start = time.monotonic()
        i = f = 0
        while True:
            due = start + i / clip.fps
            wait = due - time.monotonic()
            if wait > 0:
                await asyncio.sleep(wait)
            if self.keyframe:
                self.keyframe, f = False, 0
            now = time.monotonic()
            if i % 10 == 0:
                self.lateness.append(now - due)
            if hooks.nominated_pair(dtls) is not pair:
                raise RuntimeError(f"publisher stopped: ICE pair changed or closed ({self.clip.kind})")
            chunks = frames[f]
            last = len(chunks) - 1
            if video:
                pid = i & 0x7FFF
                if self.index < MAX_PUBLISHERS:
                    self.send_times[slot + pid % RING] = now
                tail = bytes((0xC0, 0x80 | pid >> 8, pid & 0xFF, self.index & 0xFF))
                for j, chunk in enumerate(chunks):
                    payload = (b"\x90" if j == 0 else b"\x80") + tail + chunk
                    emit(b0, pt | (0x80 if j == last else 0), seq, ts, ssrc, ext, payload)
                    seq = (seq + 1) & 0xFFFF
            else:
                emit(b0, pt, seq, ts, ssrc, ext, chunks[0])
                seq = (seq + 1) & 0xFFFF
            self.sent += len(chunks)
            ts = (ts + clip.step) & 0xFFFFFFFF
            i += 1
            f = (f + 1) % len(frames)


class Witness:
    """A full aiortc peer's decoded media: per video slot the decoded frames and their gaps."""

    def __init__(self) -> None:
        self.frames: dict[str, list[float]] = {}  # mid -> arrival of each decoded video frame
        self.audio = 0
        self.joined_at = 0.0
        self.tasks: list[asyncio.Task[None]] = []

    def on_track(self, pc: RTCPeerConnection, track: MediaStreamTrack) -> None:
        mid = next(str(t.mid) for t in pc.getTransceivers() if t.receiver.track is track)
        self.tasks.append(asyncio.ensure_future(self._consume(track, mid)))

    async def _consume(self, track: MediaStreamTrack, mid: str) -> None:
        with contextlib.suppress(MediaStreamError, asyncio.CancelledError):
            while True:
                await track.recv()
                if track.kind == "audio":
                    self.audio += 1
                else:
                    self.frames.setdefault(mid, []).append(time.monotonic())

    def window(self, t0: float, t1: float) -> dict[str, Any]:
        """Per video slot that had frames in the window: fps and the longest gap (freezes)."""
        slots = []
        for times in self.frames.values():
            inside = [t for t in times if t0 <= t <= t1]
            if len(inside) < 2:
                continue
            edges = [t0, *inside, t1]
            gaps = [b - a for a, b in itertools.pairwise(edges)]
            slots.append(
                {
                    "fps": round(len(inside) / (t1 - t0), 1),
                    "longest_gap_ms": round(max(gaps) * 1000),
                    "freezes": sum(1 for g in gaps if g > FREEZE),
                }
            )
        return {"slots": sorted(slots, key=lambda s: -s["fps"]), "audio_frames": self.audio}


# --- a worker process ----------------------------------------------------------------------------
CLIPS: dict[str, Clip] = {}  # set by the coordinator before forking: "camera", "screen", "mic"


@dataclass
class Participant:
    spec: Spec
    client: RawClient
    pc: RTCPeerConnection | None = None
    receiver: LightReceiver | None = None
    witness: Witness | None = None
    publishers: list[LightPublisher] = field(default_factory=list)
    seqs: list[int] = field(default_factory=list)  # room event seqs in arrival order
    chat: list[int] = field(default_factory=list)  # chat message numbers (meeting's sender)
    chat_latency: list[float] = field(default_factory=list)
    poll_open: dict[int, float] = field(default_factory=dict)  # poll id -> arrival of poll.opened
    joined: bool = False
    error: str | None = None


SEQ = re.compile(r'"seq":(\d+)')
CHAT = re.compile(r'"text":"c(\d+) t=([0-9.]+)"')
POLL = re.compile(r'"poll_id":(\d+)')


class Worker:
    def __init__(
        self, conn: Connection, specs: list[Spec], shared: Shared, sample: int, first_index: int
    ) -> None:
        self.conn = conn
        self.specs = specs
        self.shared = shared
        self.sample = sample
        self.counters = Counters()
        self.people: list[Participant] = []
        self.next_index = first_index
        self.http: aiohttp.ClientSession | None = None
        self.tasks: set[asyncio.Task[Any]] = set()
        self.join_seconds: list[float] = []
        self.phases: dict[str, list[float]] = {}  # join phase -> seconds from the start of the join
        self.chat_sent = 0
        self.closed: list[str] = []  # media.closed pushes (the server dropped a connection)
        self.failures: list[str] = []  # publisher loops that ended with an exception

    def spawn(self, coro: Any) -> None:
        task = asyncio.ensure_future(coro)
        self.tasks.add(task)
        task.add_done_callback(self.tasks.discard)

    def _on_event(self, p: Participant) -> Callable[[str], None]:
        def on_event(text: str) -> None:
            if not text.startswith('42["event"'):
                if text.startswith('42["media.closed"'):
                    self.closed.append(text[2:200])
                return
            m = SEQ.search(text)
            if m:
                p.seqs.append(int(m.group(1)))
            if '"type":"chat.message"' in text:
                c = CHAT.search(text)
                if c:
                    p.chat.append(int(c.group(1)))
                    p.chat_latency.append(time.time() - float(c.group(2)))
            elif '"type":"poll.opened"' in text:
                m2 = POLL.search(text)
                if m2:
                    p.poll_open[int(m2.group(1))] = time.monotonic()
                    if not p.spec.moderator:
                        self.spawn(self._vote(p, int(m2.group(1))))

        return on_event

    async def _vote(self, p: Participant, poll_id: int) -> None:
        with contextlib.suppress(Exception):
            await p.client.call("vote.cast", {"poll_id": poll_id, "choices": [p.spec.index % 3]}, timeout=60)

    async def join(self, spec: Spec) -> None:
        assert self.http is not None
        t0 = time.monotonic()
        p = Participant(spec, RawClient(spec.url, spec.cookie, self.http))
        p.client.on_event = self._on_event(p)
        self.people.append(p)
        try:
            await p.client.connect(timeout=120)
            phase = self.phases.setdefault
            phase("connect", []).append(time.monotonic() - t0)
            ack = await p.client.call("join", {"meeting_id": spec.meeting_id}, timeout=120)
            phase("join", []).append(time.monotonic() - t0)
            if not ack.get("ok") or ack.get("status") != "in":
                raise RuntimeError(f"join: {ack}")
            if not spec.media:  # a chat observer: the room's events only
                p.joined = True
                return
            config = await p.client.call("media.config", {}, timeout=120)
            pc = p.pc = RTCPeerConnection(
                RTCConfiguration(iceServers=[], bundlePolicy=RTCBundlePolicy.MAX_BUNDLE)
            )
            sources: dict[Any, str] = {}
            for source in spec.publish:
                kind = "audio" if source == "mic" else "video"
                sources[pc.addTransceiver(IdleTrack(kind), direction="sendonly")] = source
            for kind in ["audio"] * int(config["audio_slots"]) + ["video"] * int(config["video_slots"]):
                t = pc.addTransceiver(kind, direction="recvonly")
                if not spec.witness:
                    hooks.install_receiver_passthrough(t.receiver, lambda codec, frame: None)
            if spec.witness:
                p.witness = Witness()
                pc.on("track", lambda track: p.witness.on_track(pc, track) if p.witness else None)
            connected = asyncio.Event()

            @pc.on("connectionstatechange")
            def changed() -> None:
                if pc.connectionState == "connected":
                    connected.set()

            await pc.setLocalDescription(await pc.createOffer())
            p_sources = {str(t.mid): s for t, s in sources.items()}
            ack = await p.client.call(
                "media.offer",
                {"sdp": pc.localDescription.sdp, "type": "offer", "sources": p_sources},
                timeout=120,
            )
            if not ack.get("ok"):
                raise RuntimeError(f"media.offer: {ack}")
            phase("answer", []).append(time.monotonic() - t0)
            await pc.setRemoteDescription(RTCSessionDescription(sdp=ack["sdp"], type="answer"))
            transceivers = pc.getTransceivers()
            hooks.install_rtx_routing(transceivers[0].receiver.transport)
            if not spec.witness:
                video_pts = {int(c.payloadType) for t in transceivers if t.kind == "video" for c in t._codecs}
                p.receiver = LightReceiver(self.counters, self.shared, video_pts, self.sample)
                p.receiver.joined_at = t0
                intercept(pc, p.receiver.packet)  # before DTLS completes: no RTP reaches aiortc
            else:
                assert p.witness is not None
                p.witness.joined_at = t0
            await asyncio.wait_for(connected.wait(), 60)
            phase("connected", []).append(time.monotonic() - t0)
            if p.receiver is not None:
                p.receiver.session = transceivers[0].receiver.transport._rx_srtp
            for t, source in sources.items():
                index = 0
                if source != "mic":
                    index, self.next_index = self.next_index, self.next_index + 1
                pub = LightPublisher(t, CLIPS[source], index, self.shared, 20 if source == "mic" else None)
                p.publishers.append(pub)
                self.spawn(self._publish(pub))
            p.joined = True
            self.join_seconds.append(time.monotonic() - t0)
        except Exception as exc:  # counted: a join that did not complete
            p.error = f"{type(exc).__name__}: {exc}"[:200]

    async def _publish(self, pub: LightPublisher) -> None:
        try:
            await pub.run()
        except Exception as exc:
            self.failures.append(f"{type(exc).__name__}: {exc}"[:200])

    async def join_all(self, concurrency: int, storm: bool) -> None:
        self.http = http_session()
        if storm:
            start = time.monotonic()

            async def at(spec: Spec) -> None:
                await asyncio.sleep(max(0.0, start + spec.join_at - time.monotonic()))
                await self.join(spec)

            await asyncio.gather(*(at(s) for s in self.specs))
            return
        for i in range(0, len(self.specs), concurrency):
            await asyncio.gather(*(self.join(s) for s in self.specs[i : i + concurrency]))

    async def chat_loop(self, rate: float, seconds: float) -> None:
        """The meeting's chat: ``rate`` messages per second from each chat sender here."""
        senders = [p for p in self.people if p.spec.chat and p.joined]
        if not senders:
            return
        start = time.monotonic()
        n = 0
        while time.monotonic() - start < seconds:
            n += 1
            for p in senders:
                self.spawn(p.client.call("chat.send", {"text": f"c{n} t={time.time():.6f}"}, timeout=60))
            self.chat_sent += 1
            await asyncio.sleep(max(0.0, start + n / rate - time.monotonic()))

    async def poll_loop(self, every: float, seconds: float) -> None:
        moderators = [p for p in self.people if p.spec.moderator and p.joined]
        start = time.monotonic()
        k = 0
        while moderators and time.monotonic() - start < seconds:
            for p in moderators:
                self.spawn(self._poll(p))
            k += 1
            await asyncio.sleep(max(0.0, start + k * every - time.monotonic()))

    async def _poll(self, p: Participant) -> None:
        with contextlib.suppress(Exception):
            created = await p.client.call("poll.create", {"question": "Утвердить план?", "kind": "decision"})
            await p.client.call("poll.open", {"poll_id": created["poll_id"]})
            await asyncio.sleep(15)
            await p.client.call("poll.close", {"poll_id": created["poll_id"]})

    def snapshot(self, t0: float | None = None, t1: float | None = None) -> dict[str, Any]:
        c = self.counters
        lost = {"audio": 0, "video": 0}
        for p in self.people:
            if p.receiver is not None:
                for k, v in p.receiver.lost().items():
                    lost[k] += v
        latencies, c.latencies = c.latencies, []
        lateness = [x for p in self.people for pub in p.publishers for x in pub.lateness]
        for p in self.people:
            for pub in p.publishers:
                pub.lateness.clear()
        out: dict[str, Any] = {
            "pid": os.getpid(),
            "packets": dict(c.packets),
            "lost": lost,
            "frames": c.frames,
            "latencies": latencies,
            "decrypted": c.decrypted,
            "decrypt_failed": c.decrypt_failed,
            "first_frame": list(c.first_frame),
            "joined": sum(1 for p in self.people if p.joined),
            "errors": [p.error for p in self.people if p.error],
            "join_seconds": list(self.join_seconds),
            "published": sum(pub.sent for p in self.people for pub in p.publishers),
            "publisher_lateness": lateness,
            "light": sum(1 for p in self.people if p.receiver is not None),
            "phases": {k: list(v) for k, v in self.phases.items()},
            "pc_states": [p.pc.connectionState for p in self.people if p.pc is not None],
            "media_closed": list(self.closed),
            "publisher_failures": list(self.failures),
            "sio_closed": sum(1 for p in self.people if p.client.ws is None or p.client.ws.closed),
        }
        if t0 is not None and t1 is not None:
            out["witnesses"] = [
                p.witness.window(t0, t1) for p in self.people if p.witness is not None and p.joined
            ]
        return out

    def order(self) -> dict[str, Any]:
        """Room events in increasing seq for everyone; the chat message numbers each received,
        in arrival order, by meeting (the coordinator checks them: once each, same order)."""
        unordered = sum(
            1 for p in self.people if any(b <= a for a, b in zip(p.seqs, p.seqs[1:], strict=False))
        )
        by_meeting: dict[int, list[list[int]]] = {}
        for p in self.people:
            if p.joined and not p.spec.chat:  # the sender may not get its own messages back
                by_meeting.setdefault(p.spec.meeting_id, []).append(p.chat)
        return {
            "people": len(self.people),
            "events_out_of_order": unordered,
            "events_seen": sum(len(p.seqs) for p in self.people),
            "chat": by_meeting,
            "chat_latencies": [x for p in self.people if p.spec.media for x in p.chat_latency],
            "observer_chat_latencies": [x for p in self.people if not p.spec.media for x in p.chat_latency],
            "polls_seen": sum(len(p.poll_open) for p in self.people),
            "chat_sent": self.chat_sent,
        }

    async def serve(self) -> None:
        loop = asyncio.get_running_loop()
        while True:
            msg = await loop.run_in_executor(None, self.conn.recv)
            cmd = msg[0]
            if cmd == "join":
                await self.join_all(int(msg[1]), bool(msg[2]))
                self.conn.send(self.snapshot())
            elif cmd == "mark":
                self.conn.send(self.snapshot(*msg[1:]) if len(msg) > 1 else self.snapshot())
            elif cmd == "load":  # chat and polls for the window
                self.spawn(self.chat_loop(float(msg[1]), float(msg[3])))
                self.spawn(self.poll_loop(float(msg[2]), float(msg[3])))
                self.conn.send("ok")
            elif cmd == "order":
                self.conn.send(self.order())
            elif cmd == "quit":
                for p in self.people:
                    if p.pc is not None:
                        with contextlib.suppress(Exception):
                            await asyncio.wait_for(p.pc.close(), 5)
                    with contextlib.suppress(Exception):
                        await asyncio.wait_for(p.client.close(), 5)
                if self.http is not None:
                    await self.http.close()
                self.conn.send("bye")
                return


def worker_main(conn: Connection, specs: list[Spec], shared: Shared, sample: int, first_index: int) -> None:
    import logging

    import uvloop

    # ICE consent expiring (RFC 7675) or a connection closing on this side is worth seeing.
    logging.basicConfig(level=logging.WARNING, format=f"worker {os.getpid()} %(name)s: %(message)s")
    logging.getLogger("aioice.ice").setLevel(logging.INFO)
    logging.getLogger("aioice.ice").addFilter(lambda r: "onsent" in r.getMessage())

    gc.freeze()
    uvloop.run(Worker(conn, specs, shared, sample, first_index).serve())


class Pool:
    """The worker processes of one run, driven over pipes."""

    def __init__(self, groups: list[list[Spec]], shared: Shared, sample: int) -> None:
        ctx = mp.get_context("fork")
        self.conns: list[Connection] = []
        self.procs: list[Any] = []
        first = 1
        for specs in groups:
            parent, child = ctx.Pipe()
            proc = ctx.Process(target=worker_main, args=(child, specs, shared, sample, first), daemon=True)
            proc.start()
            first += sum(1 for s in specs for src in s.publish if src != "mic")
            self.conns.append(parent)
            self.procs.append(proc)

    async def ask(self, *msg: Any, only: range | None = None) -> list[Any]:
        """Send ``msg`` to every worker (or those in ``only``), gather their answers."""
        loop = asyncio.get_running_loop()
        conns = self.conns if only is None else [self.conns[i] for i in only]
        for c in conns:
            c.send(msg)
        return list(await asyncio.gather(*(loop.run_in_executor(None, c.recv) for c in conns)))

    def cpu(self) -> float:
        return sum(self.cpu_each())

    def cpu_each(self) -> list[float]:
        out = []
        for p in self.procs:
            try:
                out.append(cpu_seconds(p.pid))
            except OSError:
                out.append(0.0)
        return out

    async def close(self) -> None:
        with contextlib.suppress(Exception):
            await asyncio.wait_for(self.ask("quit"), 60)
        for p in self.procs:
            p.join(5)
            if p.is_alive():
                p.kill()


def pct(values: list[float], p: float) -> float | None:
    if not values:
        return None
    v = sorted(values)
    return v[min(len(v) - 1, int(p * len(v)))]


def on_off_option(ap: Any, flag: str, what: str) -> None:
    """``--flag on off``: run each size with and without ``what`` in one command (same-run
    baseline); the default is on, as shipped."""
    ap.add_argument(
        flag, nargs="+", choices=("on", "off"), default=["on"], help=f"{what}; 'on off' runs both"
    )


def ms(x: float | None) -> float | None:
    return None if x is None else round(x * 1000, 1)


def summarise(before: list[dict[str, Any]], after: list[dict[str, Any]], seconds: float) -> dict[str, Any]:
    """The window between two marks of every worker: packets, loss, latency, witnesses."""
    pk = {
        k: sum(a["packets"][k] - b["packets"][k] for a, b in zip(after, before, strict=True))
        for k in ("audio", "video")
    }
    lost = {
        k: sum(a["lost"][k] - b["lost"][k] for a, b in zip(after, before, strict=True))
        for k in ("audio", "video")
    }
    latencies = [x for a in after for x in a["latencies"]]
    witnesses = [w for a in after for w in a.get("witnesses", [])]
    slots = [s for w in witnesses for s in w["slots"]]
    lateness = [x for a in after for x in a["publisher_lateness"]]
    received = pk["audio"] + pk["video"]
    lost_all = lost["audio"] + lost["video"]
    return {
        "received_pps": round(received / seconds),
        "received_video_pps": round(pk["video"] / seconds),
        "loss": round(lost_all / (received + lost_all), 5) if received else None,
        "loss_video": round(lost["video"] / (pk["video"] + lost["video"]), 5) if pk["video"] else None,
        "loss_audio": round(lost["audio"] / (pk["audio"] + lost["audio"]), 5) if pk["audio"] else None,
        "latency_ms_p50": ms(pct(latencies, 0.5)),
        "latency_ms_p99": ms(pct(latencies, 0.99)),
        "latency_ms_max": ms(max(latencies) if latencies else None),
        "latency_samples": len(latencies),
        "decrypted": sum(a["decrypted"] - b["decrypted"] for a, b in zip(after, before, strict=True)),
        "decrypt_failed": sum(
            a["decrypt_failed"] - b["decrypt_failed"] for a, b in zip(after, before, strict=True)
        ),
        "publisher_lateness_ms_p99": ms(pct(lateness, 0.99)),
        "published_pps": round(
            sum(a["published"] - b["published"] for a, b in zip(after, before, strict=True)) / seconds
        ),
        "witnesses": len(witnesses),
        "witness_slots": slots,
        "witness_top_fps_min": min((w["slots"][0]["fps"] for w in witnesses if w["slots"]), default=None),
        "witness_video_fps_min": min((s["fps"] for s in slots), default=None),
        "witness_freezes": sum(s["freezes"] for s in slots),
        "witness_longest_gap_ms": max((s["longest_gap_ms"] for s in slots), default=None),
    }


def chat_check(orders: list[dict[str, Any]]) -> dict[str, Any]:
    """Every participant of a meeting saw each chat message once and in the same order."""
    meetings: dict[Any, list[list[int]]] = {}
    for o in orders:
        for mid, lists in o["chat"].items():
            meetings.setdefault(mid, []).extend(lists)
    people = twice = mismatch = missing = 0
    for lists in meetings.values():
        reference = max(lists, key=len)
        position = {n: i for i, n in enumerate(reference)}
        for got in lists:
            people += 1
            if len(set(got)) != len(got):
                twice += 1
            if [n for n in got if n in position] != sorted(
                (n for n in got if n in position), key=position.__getitem__
            ):
                mismatch += 1
            missing += len(reference) - len(set(got))
    latencies = [x for o in orders for x in o["chat_latencies"]]
    observed = [x for o in orders for x in o["observer_chat_latencies"]]
    return {
        "chat_people": people,
        "chat_messages_per_meeting": [max((len(x) for x in lists), default=0) for lists in meetings.values()],
        "chat_seen_twice": twice,
        "chat_order_mismatch": mismatch,
        "chat_missing": missing,
        "chat_latency_ms_p50": ms(pct(latencies, 0.5)),
        "chat_latency_ms_p99": ms(pct(latencies, 0.99)),
        # the same messages at observers with no media, in a process of their own: the server's
        # latency without the media receivers' busy event loops
        "chat_observer_latency_ms_p50": ms(pct(observed, 0.5)),
        "chat_observer_latency_ms_p99": ms(pct(observed, 0.99)),
        "events_out_of_order": sum(o["events_out_of_order"] for o in orders),
        "polls_seen": sum(o["polls_seen"] for o in orders),
    }


async def server_gc(server: Server) -> dict[str, Any] | None:
    """The server's garbage-collector report from /healthz (server/gc_policy.py)."""
    import httpx

    try:
        async with httpx.AsyncClient(timeout=10) as client:
            body = (await client.get(f"{server.url}/healthz")).json()
        return body.get("media", {}).get("gc")  # type: ignore[no-any-return]
    except Exception as exc:
        return {"error": f"{type(exc).__name__}: {exc}"[:200]}


async def measure(
    server: Server, pool: Pool, seconds: float, warm: float, load: tuple[float, float] | None = None
) -> dict[str, Any]:
    """Let the media settle, then one window: the workers' counters, the server's and the
    generator's CPU from /proc, the kernel's UDP drops; with ``load`` = (chat messages per
    second per meeting, seconds between polls) the chat and polls run through the window."""
    await asyncio.sleep(warm)
    if load is not None:
        await pool.ask("load", load[0], load[1], seconds)
    la0 = load_average()
    before = await pool.ask("mark")
    e0 = pool.cpu_each()
    l0 = loop_cpu_seconds(server.pid)
    s0, g0, d0, t0 = cpu_seconds(server.pid), sum(e0), udp_drops(), time.monotonic()
    await asyncio.sleep(seconds)
    t1 = time.monotonic()
    e1 = pool.cpu_each()
    s1, g1, d1 = cpu_seconds(server.pid), sum(e1), udp_drops()
    l1 = loop_cpu_seconds(server.pid)
    after = await pool.ask("mark", t0, t1)
    elapsed = t1 - t0
    result = summarise(before, after, elapsed)
    result.update(
        {
            "window_s": round(elapsed, 1),
            "server_cpu_cores": round((s1 - s0) / elapsed, 3),
            "server_share_of_2_cores": round((s1 - s0) / elapsed / 2, 3),
            # the event loop's own thread: one core is its ceiling
            "server_loop_cpu_cores": round((l1 - l0) / elapsed, 3),
            "server_rss_mb": round(rss_mb(server.pid)),
            "generator_cpu_cores": round((g1 - g0) / elapsed, 3),
            "generator_processes": len(pool.procs),
            # per worker process, in plan order (the benches print which group is which)
            "generator_cpu_by_process": [round((b - a) / elapsed, 3) for a, b in zip(e0, e1, strict=True)],
            "udp_rcvbuf_drops": d1 - d0,
            "load_average": f"{la0} -> {load_average()}",
            "joined": sum(a["joined"] for a in after),
            "join_errors": [e for a in after for e in a["errors"]][:5],
            "join_seconds_p95": round(pct([x for a in after for x in a["join_seconds"]], 0.95) or 0, 2),
            "first_frame_s_p95": round(pct([x for a in after for x in a["first_frame"]], 0.95) or 0, 2),
            "first_frame_s_max": round(max((x for a in after for x in a["first_frame"]), default=0), 2),
            "light_participants": sum(a["light"] for a in after),
            "join_phases_s_p95": {
                k: round(pct([x for a in after for x in a["phases"].get(k, [])], 0.95) or 0, 2)
                for k in ("connect", "join", "answer", "connected")
            },
            "not_connected_at_end": sum(1 for a in after for st in a["pc_states"] if st != "connected"),
            "socketio_closed_at_end": sum(a["sio_closed"] for a in after),
            "media_closed": [x for a in after for x in a["media_closed"]][:5],
            "publisher_failures": [x for a in after for x in a["publisher_failures"]][:5],
        }
    )
    return result


def goals(r: dict[str, Any], participants: int, all_slots: bool) -> dict[str, bool]:
    """The issue's goals for one window: loss < 1 %, added latency p99 < 150 ms, the witnesses
    at full frame rate (the camera slot, or every slot) with no freeze > 500 ms, all joined."""
    slots = r["witness_slots"]
    if all_slots:
        fps_ok = bool(slots) and min(s["fps"] for s in slots) >= 28.5
    else:
        fps_ok = r["witness_top_fps_min"] is not None and r["witness_top_fps_min"] >= 28.5
    return {
        "all_joined": r["joined"] == participants,
        "loss_below_1pct": r["loss"] is not None and r["loss"] < 0.01,
        "latency_p99_below_150ms": r["latency_ms_p99"] is not None and r["latency_ms_p99"] < 150,
        "witnesses_full_frame_rate": fps_ok,
        "witnesses_no_freeze": bool(slots) and r["witness_freezes"] == 0,
    }
