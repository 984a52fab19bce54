from __future__ import annotations

from tests.support.client import WebClient


async def test_healthz_reports_database(client: WebClient) -> None:
    r = await client.get("/healthz")
    assert r.status_code == 200
    body = r.json()
    assert {k: body[k] for k in ("status", "checks")} == {"status": "ok", "checks": {"database": "ok"}}
    # Transcription is reported beside the checks (optional: it never makes the server unhealthy).
    assert body["transcription"]["status"] in ("ok", "checking")
    # The media node: its peers and its sending thread (on by default, running once used).
    media = body["media"]
    assert media["peers"] == 0
    assert media["send_thread"]["enabled"] is True
    # The garbage collector: observed always; freezing is off in the test environment.
    assert media["gc"]["freeze_survivors"] is False
    assert {"full_collections", "longest_full_ms", "frozen", "thaws"} <= set(media["gc"])


async def test_unknown_page_is_a_typed_404(client: WebClient) -> None:
    r = await client.get("/no/such/page", headers={"Accept": "application/json"})
    assert r.status_code == 404
    err = r.json()["error"]
    assert err["code"] == "not_found"
    assert err["message_ru"] == "Не найдено."
    assert err["message_en"] == "Not found."


async def test_security_headers(client: WebClient) -> None:
    r = await client.get("/healthz")
    assert r.headers["x-content-type-options"] == "nosniff"
    assert "frame-ancestors 'none'" in r.headers["content-security-policy"]


async def test_favicon_is_served_and_linked(client: WebClient) -> None:
    r = await client.get("/favicon.ico")
    assert r.status_code == 200
    assert r.headers["content-type"] == "image/x-icon"
    assert r.content[:4] == b"\0\0\1\0"  # the ICO signature
    page = await client.get("/login")
    assert '<link rel="icon" href="/favicon.ico"' in page.text
