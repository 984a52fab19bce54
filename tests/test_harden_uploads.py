"""Uploads cannot take the server down (issue 15, item 2): a zip bomb is sniffed with bounded
reads and refused, and images are decoded in a worker thread while the event loop keeps
answering."""

from __future__ import annotations

import asyncio
import io
import threading
import tracemalloc
import zipfile

import pytest
from PIL import Image

from server.domain.community import profiles
from server.files import sniff
from tests.support.factories import logged_in_client, make_user
from tests.support.live import LiveServer
from tests.support.net import wait_for
from tests.test_profiles_pages import post_profile, profile_form

INFLATED = 200 * 1024 * 1024


def zip_bomb(member: str = "mimetype") -> bytes:
    """A zip of about 200 KB whose one member inflates to 200 MB."""
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED, compresslevel=9) as z:
        with z.open(member, "w", force_zip64=True) as f:
            chunk = b"\0" * (4 * 1024 * 1024)
            for _ in range(INFLATED // len(chunk)):
                f.write(chunk)
    return buf.getvalue()


@pytest.fixture(scope="module")
def bomb() -> bytes:
    return zip_bomb()


def test_sniffing_a_zip_bomb_reads_only_what_it_needs(bomb: bytes) -> None:
    assert len(bomb) < 1024 * 1024
    tracemalloc.start()
    try:
        kind = sniff(bomb)
        _current, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert peak < 16 * 1024 * 1024, peak  # far below the 200 MB the member inflates to
    assert kind is None  # refused: no document kind we accept inflates like this


async def test_a_zip_bomb_upload_is_refused(server: LiveServer, bomb: bytes) -> None:
    await make_user(server.runtime.db, "bomber@example.org")
    c = await logged_in_client(server, "bomber@example.org")
    try:
        status = await post_profile(c, profile_form(), ("photo.zip", bomb))
        assert status == 415
        assert (await c.get("/healthz")).status_code == 200
    finally:
        await c.aclose()


async def test_health_answers_while_a_photo_is_decoded(
    server: LiveServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The photo is decoded in a worker thread: /healthz answers while it is still running."""
    await make_user(server.runtime.db, "photographer@example.org")
    c = await logged_in_client(server, "photographer@example.org")
    health_answered = threading.Event()
    seen: dict[str, object] = {}
    original = profiles.reencode_photo

    def slow_reencode(data: bytes) -> tuple[bytes, str]:
        seen["thread"] = threading.current_thread() is threading.main_thread()
        # Hold the decoding until the server has answered /healthz: on the event loop this
        # would wait in vain (nothing else runs), in a worker thread it returns at once.
        seen["health_first"] = health_answered.wait(20)
        return original(data)

    monkeypatch.setattr(profiles, "reencode_photo", slow_reencode)
    img = Image.new("RGB", (3000, 2000), (10, 120, 200))
    buf = io.BytesIO()
    img.save(buf, format="JPEG", quality=70)
    try:
        upload = asyncio.create_task(post_profile(c, profile_form(), ("big.jpg", buf.getvalue())))
        await wait_for(lambda: "thread" in seen, 30, what="the photo's decoding started")
        async with asyncio.timeout(15):
            r = await c.get("/healthz")
        assert r.status_code == 200
        health_answered.set()
        assert await upload == 303
        assert seen == {"thread": False, "health_first": True}
    finally:
        health_answered.set()
        await c.aclose()


def test_a_pixel_bomb_photo_is_refused() -> None:
    img = Image.new("1", (10_000, 10_000))  # 100 megapixels, a few kilobytes as PNG
    buf = io.BytesIO()
    img.save(buf, format="PNG")
    with pytest.raises(profiles.FileRejected):
        profiles.reencode_photo(buf.getvalue())
