"""The import rules of docs/architecture.md, read from the source with ``ast``.

The arrows run one way: app -> realtime / web -> domain -> db. Every import counts: at the
top, inside functions (lazy imports) and under ``TYPE_CHECKING``. The checker is also fed
deliberately wrong sources below, to show that it fails on them.
"""

from __future__ import annotations

import ast
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PACKAGES = ("server", "realtime")


@dataclass(frozen=True)
class Rule:
    importer: str  # a package (and everything under it)
    forbidden: tuple[str, ...]
    why: str


COMPOSE = "the app composes the runtime, the realtime server and the workers"
RULES = (
    Rule("server.domain", ("server.web", "realtime"), "the domain never sees pages or sockets"),
    Rule(
        "server.db",
        ("server.domain", "server.web", "realtime", "server.runtime", "server.workers"),
        "persistence imports nothing above it",
    ),
    Rule("realtime", ("server.web",), "realtime and web never import each other"),
    Rule("server.web", ("realtime",), "realtime and web never import each other"),
    Rule("server.runtime", ("server.domain", "server.web", "realtime", "server.workers"), COMPOSE),
    Rule("server.workers", ("server.domain", "server.web", "realtime"), COMPOSE),
    *(
        Rule(layer, ("server.app",), "only the entry points import the app")
        for layer in (
            "server.domain",
            "server.db",
            "server.web",
            "realtime",
            "server.runtime",
            "server.workers",
        )
    ),
)


def _within(name: str, package: str) -> bool:
    return name == package or name.startswith(package + ".")


def imports_of(module: str, source: str, *, is_package: bool = False) -> list[tuple[int, str]]:
    """(line, imported module) of every import in ``source``, relative ones resolved."""
    found: list[tuple[int, str]] = []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            found += [(node.lineno, alias.name) for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = module.split(".")
                base = base if is_package else base[:-1]
                base = base[: len(base) - (node.level - 1)]
                target = ".".join(base + ([node.module] if node.module else []))
            else:
                target = node.module or ""
            # one entry per name: ``from server import web`` imports server.web, and
            # ``from server.web.panels import panel`` is within server.web as well
            found += [(node.lineno, f"{target}.{alias.name}") for alias in node.names]
    return found


def violations(sources: dict[str, tuple[str, bool]]) -> list[str]:
    """``sources``: module name -> (source, is_package). One line per forbidden import."""
    out: list[str] = []
    for module, (source, is_package) in sorted(sources.items()):
        for rule in RULES:
            if not _within(module, rule.importer):
                continue
            for line, target in imports_of(module, source, is_package=is_package):
                bad = [f for f in rule.forbidden if _within(target, f)]
                if bad:
                    out.append(f"{module}:{line} imports {target} ({rule.why})")
    return sorted(set(out))


LAYERS = ("server.db", "server.domain", "server.web", "realtime")


def layer_of(module: str) -> str:
    return next((layer for layer in LAYERS if _within(module, layer)), "server")


def cycles(sources: dict[str, tuple[str, bool]]) -> list[list[str]]:
    """The import cycles (strongly connected components of more than one module)."""
    graph: dict[str, set[str]] = {}
    for module, (source, is_package) in sources.items():
        deps = set()
        for _, name in imports_of(module, source, is_package=is_package):
            while name and name not in sources:  # ``from a.b import name`` -> a.b
                name = name.rpartition(".")[0]
            if name and name != module:
                deps.add(name)
        graph[module] = deps
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    found: list[list[str]] = []

    def visit(v: str) -> None:  # Tarjan
        index[v] = low[v] = len(index)
        stack.append(v)
        for w in sorted(graph[v]):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            component = []
            while True:
                w = stack.pop()
                component.append(w)
                if w == v:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for v in sorted(graph):
        if v not in index:
            visit(v)
    return sorted(found)


def tree_sources(root: Path) -> dict[str, tuple[str, bool]]:
    sources: dict[str, tuple[str, bool]] = {}
    for package in PACKAGES:
        for path in sorted((root / package).rglob("*.py")):
            rel = path.relative_to(root).with_suffix("")
            parts = rel.parts[:-1] if rel.name == "__init__" else rel.parts
            sources[".".join(parts)] = (path.read_text(encoding="utf-8"), rel.name == "__init__")
    return sources


def test_the_code_keeps_the_import_rules() -> None:
    sources = tree_sources(ROOT)
    assert len(sources) > 150  # the whole of server/ and realtime/ was read
    assert violations(sources) == []


def test_no_import_cycle_crosses_a_layer() -> None:
    """A cycle inside one layer (a registry and its handlers) is tolerated; one through two
    layers (the runtime starting the realtime server that imports the runtime) is not."""
    found = cycles(tree_sources(ROOT))
    assert [c for c in found if len({layer_of(m) for m in c}) > 1] == []
    # the media SFU: a peer knows its room through a protocol, the room imports the peer
    assert [c for c in found if "realtime.media.peer" in c] == []


def test_the_cycle_check_finds_cycles() -> None:
    sources = {
        "server.runtime": ("def start():\n    from realtime.server import create\n", False),
        "realtime.server": ("from server.runtime import Runtime\n", False),
        "realtime.media.peer": (
            "from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    from . import room\n",
            False,
        ),
        "realtime.media.room": ("from realtime.media.peer import Peer\n", False),
        "server.db.engine": ("import server.settings\n", False),
    }
    assert cycles(sources) == [
        ["realtime.media.peer", "realtime.media.room"],
        ["realtime.server", "server.runtime"],
    ]
    assert layer_of("server.runtime") == "server" and layer_of("realtime.server") == "realtime"


def test_the_checker_fails_on_a_wrong_import() -> None:
    wrong = {
        # top level, from-import of the package's child
        "server.domain.meeting.polls": ("from server.web.panels import panel\n", False),
        # lazy, inside a function
        "server.domain.year.plans.reading": ("def f():\n    import realtime.server\n", False),
        # under TYPE_CHECKING, and ``from server import web``
        "server.db.models.x": (
            "from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    from server.domain import meeting\n"
            "from server import web\n",
            False,
        ),
        # relative: server/web/routes/meeting/__init__.py doing ``from ....realtime`` is impossible,
        # but ``from ... import app`` from server/web/routes/x.py reaches server.app
        "server.web.routes.x": ("from ... import app\n", False),
        "realtime.meeting.namespace": ("from server.web.auth import current_user\n", False),
        "server.runtime": (
            "async def start(self):\n    from realtime.server import create_realtime\n",
            False,
        ),
    }
    found = violations(wrong)
    assert found == [
        "realtime.meeting.namespace:1 imports server.web.auth.current_user "
        "(realtime and web never import each other)",
        "server.db.models.x:3 imports server.domain.meeting (persistence imports nothing above it)",
        "server.db.models.x:4 imports server.web (persistence imports nothing above it)",
        "server.domain.meeting.polls:1 imports server.web.panels.panel (the domain never sees pages or sockets)",
        "server.domain.year.plans.reading:2 imports realtime.server (the domain never sees pages or sockets)",
        f"server.runtime:2 imports realtime.server.create_realtime ({COMPOSE})",
        "server.web.routes.x:1 imports server.app (only the entry points import the app)",
    ]


def test_allowed_imports_pass() -> None:
    fine = {
        "server.web.routes.meeting.polls": ("from server.domain.meeting.polls import cast_vote\n", False),
        "realtime.server": ("from server.runtime import Runtime\nimport server.domain.meeting.room\n", False),
        "server.app": ("import realtime.server\nfrom server.web.routes import build_routes\n", False),
        "server.db.engine": (
            "from server.db.base import Base\nfrom server.settings import Settings\n",
            False,
        ),
        "server.domain.protocol": ("from .assemble import assemble_protocol\n", True),
    }
    assert violations(fine) == []
    assert imports_of("server.domain.protocol", "from .assemble import x\n", is_package=True) == [
        (1, "server.domain.protocol.assemble.x")
    ]
    assert imports_of("server.web.routes.x", "from ..panels import panel\n") == [
        (1, "server.web.panels.panel")
    ]
