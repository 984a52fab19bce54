"""Registration, log in, log out, login rate limiting, CSRF and bad input on the account forms."""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import func, select

from server.db.models import Organisation, User
from server.web.routes.accounts.accounts import (
    IP_LIMIT_FACTOR,
    REGISTRATIONS_PER_HOUR,
    login_email_key,
    login_ip_key,
)
from tests.support.client import WebClient
from tests.support.factories import make_user
from tests.support.live import LiveServer

GOOD = {
    "email": "  Teacher@School.RU ",
    "last_name": "Соколова",
    "first_name": "Анна",
    "middle_name": "Игоревна",
    "position": "учитель физики",
    "school": "МБОУ «Средняя школа № 7»",
    "password": "parol2026",
    "password_confirm": "parol2026",
}


async def count_users(server: LiveServer) -> int:
    async with server.runtime.db.read() as s:
        return int(await s.scalar(select(func.count(User.id))) or 0)


async def is_logged_in(client: WebClient) -> bool:
    r = await client.get("/login")
    return "Вы уже вошли" in r.text


async def test_register_login_logout(server: LiveServer, client: WebClient) -> None:
    page = await client.get("/register")
    assert page.status_code == 200
    assert "Регистрация" in page.text and 'name="password_confirm"' in page.text

    r = await client.submit("/register", GOOD)
    assert r.status_code == 303 and r.headers["location"] == "/"
    cookie = r.headers["set-cookie"].lower()
    assert "smo_session=" in cookie and "httponly" in cookie and "samesite=lax" in cookie
    assert await is_logged_in(client)
    async with server.runtime.db.read() as s:
        user = await s.scalar(select(User).where(User.email == "teacher@school.ru"))
        assert user is not None and user.short_name == "А.И. Соколова"
        assert user.password_hash.startswith("$argon2")
        org = await s.get(Organisation, user.organisation_id)
        assert org is not None and org.name == GOOD["school"]

    r = await client.submit("/logout")
    assert r.status_code == 303 and r.headers["location"] == "/login"
    assert not await is_logged_in(client)

    r = await client.submit(
        "/login", {"email": "TEACHER@school.ru", "password": "parol2026", "next": "/admin"}
    )
    assert r.status_code == 303 and r.headers["location"] == "/admin"
    assert await is_logged_in(client)


async def test_second_registration_reuses_school_and_rejects_taken_email(
    server: LiveServer, client: WebClient
) -> None:
    assert (await client.submit("/register", GOOD)).status_code == 303
    other = WebClient(base_url=server.url, follow_redirects=False)
    async with other:
        r = await other.submit("/register", {**GOOD, "email": "second@school.ru"})
        assert r.status_code == 303
        r = await other.submit("/register", {**GOOD, "email": "teacher@SCHOOL.ru"})
        assert r.status_code == 409
        assert "Этот адрес уже зарегистрирован." in r.text
        assert 'value="teacher@SCHOOL.ru"' in r.text  # the form is refilled
    async with server.runtime.db.read() as s:
        assert await s.scalar(select(func.count(Organisation.id))) == 1
    assert await count_users(server) == 2


@pytest.mark.parametrize(
    ("next_value", "expected"),
    [
        ("/associations/1", "/associations/1"),
        ("//evil.example/x", "/"),
        ("https://evil.example/", "/"),
        ("/\\evil.example", "/"),
        ("", "/"),
    ],
)
async def test_login_redirects_only_to_local_paths(
    server: LiveServer, client: WebClient, next_value: str, expected: str
) -> None:
    await make_user(server.runtime.db, "a@example.org")
    r = await client.submit("/login", {"email": "a@example.org", "password": "secret123", "next": next_value})
    assert r.status_code == 303 and r.headers["location"] == expected


async def test_login_page_keeps_safe_next(client: WebClient) -> None:
    r = await client.get("/login", params={"next": "/invitations/abc"})
    assert 'name="next" value="/invitations/abc"' in r.text
    r = await client.get("/login", params={"next": "//evil.example"})
    assert 'name="next" value="/"' in r.text


async def test_wrong_password_and_unknown_email_look_the_same(server: LiveServer, client: WebClient) -> None:
    await make_user(server.runtime.db, "a@example.org")
    await make_user(server.runtime.db, "off@example.org", is_active=False)
    bodies = []
    for email, password in [
        ("a@example.org", "wrong-password1"),
        ("nobody@example.org", "secret123"),
        ("off@example.org", "secret123"),
    ]:
        r = await client.submit("/login", {"email": email, "password": password})
        assert r.status_code == 401
        assert "Неверный адрес электронной почты или пароль." in r.text
        bodies.append(r.text.replace(email, "E"))
        assert not await is_logged_in(client)
    r = await client.submit(
        "/login", {"email": "a@example.org", "password": "x"}, headers={"Accept": "application/json"}
    )
    assert r.status_code == 401 and r.json()["error"]["code"] == "invalid_credentials"


async def test_login_rate_limited_per_email(server: LiveServer, client: WebClient) -> None:
    await make_user(server.runtime.db, "a@example.org")
    settings = server.settings
    limit = settings.login_attempts
    # Most of the window is filled directly (argon2 makes real attempts slow); the last
    # failed attempts are real.
    for _ in range(limit - 2):
        await server.runtime.limiter.hit(
            login_email_key("a@example.org"), limit, settings.login_window_seconds
        )
    for _ in range(2):
        r = await client.submit("/login", {"email": "a@example.org", "password": "wrong-password1"})
        assert r.status_code == 401
    # Past the limit even the right password is refused, with a clear Russian message.
    r = await client.submit("/login", {"email": "A@example.org", "password": "secret123"})
    assert r.status_code == 429
    assert "Слишком много попыток" in r.text
    assert int(r.headers["retry-after"]) > 0
    assert not await is_logged_in(client)
    r = await client.submit(
        "/login", {"email": "a@example.org", "password": "secret123"}, headers={"Accept": "application/json"}
    )
    assert r.status_code == 429 and r.json()["error"]["code"] == "rate_limited"
    # Another account from the same address is not locked out by this one.
    await make_user(server.runtime.db, "b@example.org")
    r = await client.submit("/login", {"email": "b@example.org", "password": "secret123"})
    assert r.status_code == 303


async def test_login_rate_limited_per_address(server: LiveServer, client: WebClient) -> None:
    await make_user(server.runtime.db, "a@example.org")
    settings = server.settings
    limit = settings.login_attempts * IP_LIMIT_FACTOR
    # Fill this address's window directly (argon2 makes a hundred real attempts slow), then
    # one real failed attempt reaches the limit.
    for _ in range(limit - 1):
        await server.runtime.limiter.hit(login_ip_key("127.0.0.1"), limit, settings.login_window_seconds)
    r = await client.submit("/login", {"email": "fresh@example.org", "password": "wrong-password1"})
    assert r.status_code == 401
    r = await client.submit("/login", {"email": "a@example.org", "password": "secret123"})
    assert r.status_code == 429 and "Слишком много попыток" in r.text
    assert not await is_logged_in(client)


async def test_registration_is_rate_limited_per_address(server: LiveServer, client: WebClient) -> None:
    for _ in range(REGISTRATIONS_PER_HOUR):
        await server.runtime.limiter.hit("register:ip:127.0.0.1", REGISTRATIONS_PER_HOUR, 3600)
    r = await client.submit("/register", GOOD)
    assert r.status_code == 429 and "Слишком много попыток" in r.text
    assert await count_users(server) == 0


BAD_REGISTRATIONS: list[tuple[str, dict[str, Any], str]] = [
    ("invalid email", {"email": "not-an-email"}, "Введите корректный адрес электронной почты."),
    ("email with space", {"email": "a b@example.org"}, "Введите корректный адрес"),
    ("too long email", {"email": "a" * 250 + "@example.org"}, "Слишком длинное значение."),
    ("weak password", {"password": "short1", "password_confirm": "short1"}, "Не менее 8 символов"),
    ("no digits", {"password": "onlyletters", "password_confirm": "onlyletters"}, "Не менее 8 символов"),
    ("mismatch", {"password_confirm": "parol2027"}, "Пароли не совпадают."),
    ("too long password", {"password": "a1" * 65, "password_confirm": "a1" * 65}, "Слишком длинное"),
    ("empty last name", {"last_name": "   "}, "Заполните это поле."),
    ("too long last name", {"last_name": "Я" * 101}, "Слишком длинное значение."),
    ("too long first name", {"first_name": "Я" * 101}, "Слишком длинное значение."),
    ("too long middle name", {"middle_name": "Я" * 101}, "Слишком длинное значение."),
    ("too long position", {"position": "я" * 201}, "Слишком длинное значение."),
    ("too long school", {"school": "я" * 301}, "Слишком длинное значение."),
    ("control characters", {"last_name": "Иван\x07ов"}, "недопустимые символы"),
    ("list instead of text", {"email[]": "x@example.org", "email": None}, "Некорректное значение."),
]


async def test_register_rejects_bad_input(server: LiveServer, client: WebClient) -> None:
    for case, change, message in BAD_REGISTRATIONS:
        data = {k: v for k, v in {**GOOD, **change}.items() if v is not None}
        r = await client.submit("/register", data)
        assert r.status_code == 422, case
        assert message in r.text, case
        assert 'class="field-error"' in r.text, case
    assert await count_users(server) == 0


async def test_register_missing_fields_and_malformed_body(server: LiveServer, client: WebClient) -> None:
    r = await client.submit("/register", {})
    assert r.status_code == 422
    assert r.text.count("Заполните это поле.") >= 3
    token = await client.csrf()
    r = await client.post(
        "/register",
        content=b"csrf_token=" + token.encode() + b"&email=\xff\xfe",
        headers={"Content-Type": "application/x-www-form-urlencoded"},
    )
    assert r.status_code == 400
    r = await client.post(
        "/register",
        content=b"x" * (300 * 1024),
        headers={"Content-Type": "application/x-www-form-urlencoded"},
    )
    assert r.status_code == 413
    r = await client.submit("/login", {"email": "a@example.org"})
    assert r.status_code == 422
    assert await count_users(server) == 0


@pytest.mark.parametrize("token", [None, "wrong"])
async def test_account_posts_reject_bad_csrf(
    server: LiveServer, client: WebClient, token: str | None
) -> None:
    await make_user(server.runtime.db, "a@example.org")
    extra = {} if token is None else {"csrf_token": token}
    await client.get("/login")  # a session with a real token exists
    for url, data in [
        ("/register", {**GOOD, "email": "new@example.org"}),
        ("/login", {"email": "a@example.org", "password": "secret123"}),
    ]:
        r = await client.post(url, data={**data, **extra})
        assert r.status_code == 403, url
        assert 'data-code="csrf_failed"' in r.text
        r = await client.post(url, data={**data, **extra}, headers={"Accept": "application/json"})
        assert r.status_code == 403 and r.json()["error"]["code"] == "csrf_failed"
    assert await count_users(server) == 1
    assert not await is_logged_in(client)

    await client.login("a@example.org", "secret123")
    r = await client.post("/logout", data=extra)
    assert r.status_code == 403
    assert await is_logged_in(client)


async def test_password_is_taken_exactly_as_typed(server: LiveServer, client: WebClient) -> None:
    data = {**GOOD, "password": " parol 2026 ", "password_confirm": " parol 2026 "}
    assert (await client.submit("/register", data)).status_code == 303
    await client.submit("/logout")
    r = await client.submit("/login", {"email": "teacher@school.ru", "password": "parol 2026"})
    assert r.status_code == 401
    r = await client.submit("/login", {"email": "teacher@school.ru", "password": " parol 2026 "})
    assert r.status_code == 303


async def test_pages_in_english(client: WebClient) -> None:
    client.cookies.set("lang", "en")
    r = await client.get("/register")
    assert r.status_code == 200 and "Registration" in r.text and "Password again" in r.text
    r = await client.submit("/login", {"email": "x@example.org", "password": "wrong-password1"})
    assert r.status_code == 401 and "Wrong e-mail or password." in r.text
