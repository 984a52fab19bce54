"""HTTP: server-rendered pages (Jinja2), a small JSON API, and their shared plumbing."""

import server.web.ids  # noqa: F401  (bounds every {id:int} before any route is built)
