"""An httpx client for the live server that knows our CSRF and login conventions."""

from __future__ import annotations

import re
from typing import Any

import httpx

CSRF_META = re.compile(r'<meta name="csrf-token" content="([^"]+)"')


class WebClient(httpx.AsyncClient):
    async def csrf(self) -> str:
        """The session's CSRF token, read from any page's meta tag."""
        r = await self.get("/login")
        m = CSRF_META.search(r.text)
        assert m, "no csrf meta tag on /login"
        return m.group(1)

    async def submit(self, url: str, data: dict[str, Any] | None = None, **kw: Any) -> httpx.Response:
        """POST a form with the session's CSRF token."""
        payload = dict(data or {})
        payload.setdefault("csrf_token", await self.csrf())
        return await self.post(url, data=payload, **kw)

    async def api(self, method: str, url: str, json: Any = None, **kw: Any) -> httpx.Response:
        """Call a JSON endpoint with the CSRF header."""
        headers = {"X-CSRF-Token": await self.csrf(), "Accept": "application/json"}
        headers.update(kw.pop("headers", {}))
        return await self.request(method, url, json=json, headers=headers, **kw)

    async def login(self, email: str, password: str) -> httpx.Response:
        r = await self.submit("/login", {"email": email, "password": password})
        assert r.status_code in (302, 303), (r.status_code, r.text[:500])
        return r

    @property
    def session_cookie(self) -> str:
        return self.cookies.get("smo_session") or ""
