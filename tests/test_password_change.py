"""A person changes their own password: the current one must match, the new one follows the
rule, every other session ends and this browser stays in; wrong guesses are limited."""

from __future__ import annotations

from sqlalchemy import select

from server.db.models import User
from server.domain.accounts.passwords import verify_password
from tests.support.client import WebClient
from tests.support.factories import DEFAULT_PASSWORD, logged_in_client, make_user
from tests.support.live import LiveServer

EMAIL = "changer@example.org"


async def password_hash(server: LiveServer) -> str:
    async with server.runtime.db.read() as s:
        return str(await s.scalar(select(User.password_hash).where(User.email == EMAIL)))


async def test_changing_the_password_ends_the_other_sessions(server: LiveServer) -> None:
    await make_user(server.runtime.db, EMAIL)
    me = await logged_in_client(server, EMAIL)
    other_device = await logged_in_client(server, EMAIL)
    try:
        page = await me.get("/profile")
        assert 'href="/account/password"' in page.text
        page = await me.get("/account/password")
        assert page.status_code == 200 and "Смена пароля" in page.text
        before = await password_hash(server)

        bad = [
            ({"current_password": "wrong-0000", "password": "novyi2027", "password_confirm": "novyi2027"},
             "Текущий пароль указан неверно."),
            ({"current_password": "", "password": "novyi2027", "password_confirm": "novyi2027"},
             "Заполните это поле."),
            ({"current_password": "x", "password": "short1", "password_confirm": "short1"}, "Не менее 8 символов"),
            ({"current_password": "x", "password": "novyi2027", "password_confirm": "novyi2028"},
             "Пароли не совпадают."),
        ]  # fmt: skip
        for data, message in bad:
            r = await me.submit("/account/password", data)
            assert r.status_code == 422 and message in r.text, (data, r.status_code)
        assert await password_hash(server) == before  # nothing changed
        r = await me.submit(
            "/account/password",
            {"current_password": "wrong"},
            headers={"Accept": "application/json"},
        )
        assert r.status_code == 422 and r.json()["error"]["code"] == "validation_failed"

        r = await me.submit(
            "/account/password",
            {"current_password": DEFAULT_PASSWORD, "password": "novyi2027", "password_confirm": "novyi2027"},
        )
        assert r.status_code == 303 and r.headers["location"] == "/account/password"
        page = await me.get("/account/password")
        assert "Пароль изменён" in page.text  # this browser is still in
        assert verify_password(await password_hash(server), "novyi2027")
        r = await other_device.get("/notifications")
        assert r.status_code == 303 and r.headers["location"].startswith("/login")  # logged out

        async with WebClient(base_url=server.url, follow_redirects=False, timeout=20) as fresh:
            r = await fresh.submit("/login", {"email": EMAIL, "password": DEFAULT_PASSWORD})
            assert r.status_code == 401
            await fresh.login(EMAIL, "novyi2027")
    finally:
        await me.aclose()
        await other_device.aclose()


async def test_guessing_the_current_password_is_limited(server: LiveServer) -> None:
    await make_user(server.runtime.db, EMAIL)
    me = await logged_in_client(server, EMAIL)
    try:
        codes = []
        for n in range(12):
            r = await me.submit(
                "/account/password",
                {
                    "current_password": f"guess{n:04d}",
                    "password": "novyi2027",
                    "password_confirm": "novyi2027",
                },
            )
            codes.append(r.status_code)
        assert codes[:10] == [422] * 10 and codes[10:] == [429, 429], codes
        assert "Retry-After" in r.headers
    finally:
        await me.aclose()


async def test_the_page_needs_a_login(server: LiveServer, client: WebClient) -> None:
    r = await client.get("/account/password")
    assert r.status_code == 303 and r.headers["location"] == "/login?next=/account/password"
    r = await client.submit("/account/password", {"current_password": "x", "password": "y"})
    assert r.status_code == 303 and r.headers["location"].startswith("/login")
