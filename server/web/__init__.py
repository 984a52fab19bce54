"""HTTP: server-rendered pages (Jinja2), a small JSON API, and their shared plumbing."""
