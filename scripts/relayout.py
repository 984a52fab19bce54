#!/usr/bin/env python3
"""The package layout of issue 13 as a re-runnable codemod (stdlib only).

Run from a repository root:

    python scripts/relayout.py            # move (git mv) and rewrite references
    python scripts/relayout.py --dry-run  # print what it would do, change nothing
    python scripts/relayout.py --table    # print the table of moves

What it does, in order:

1. ``git mv`` every path of the table that still exists at its old place (a path already
   moved is skipped, so running it twice changes nothing). A moved *folder* is moved file by
   file, so files a branch added to the old folder move along.
2. Creates each new package's ``__init__.py`` (a one-line docstring) when it is missing.
3. Rewrites every reference in ``*.py *.html *.md *.toml *.ini *.cfg`` under server/,
   realtime/, tests/, bench/, migrations/, docs/, scripts/ and README.md, pyproject.toml:
   ``from server.domain import polls`` (split per new package, renamed modules keep their local
   name with ``as``), dotted module paths (``server.domain.polls``, imports, patch targets,
   logger names), file paths (``server/domain/polls.py``, ``server/web/templates/plan/``,
   ``server/i18n/ru/plan.json``) and template names (``"plan/index.html"``). Matching is
   exact: word boundaries, longest path first, one pass; where an old path is a prefix of its
   new one (``server.domain.accounts`` -> ``server.domain.accounts.accounts``) a path already
   pointing into the new package is left alone, so a second run changes nothing.
4. Applies FIXUPS: the few lines of code that depend on where a file sits (the catalogue
   loader reads sub-folders, a template path relative to a moved module).
5. Sorts the rewritten imports and reformats the changed Python files with ruff when ruff is
   installed (``.venv/bin/ruff`` or on PATH); otherwise it says so.

Flat modules left in server/domain/ or server/web/routes/ that the table does not know (a
branch's new module on the old layout) are listed at the end: add them to the table.
"""

from __future__ import annotations

import argparse
import ast
import os
import re
import shutil
import subprocess
import sys
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path

# --------------------------------------------------------------------------------------------
# The table. Groups: meeting (the live meeting and its log), protocol, year (the association's
# year around the meetings), community, accounts.
# --------------------------------------------------------------------------------------------

GROUP_DOCS = {
    "meeting": "The live meeting and its event log: the room, chat, hands, polls, media facts, documents.",
    "protocol": "The meeting protocol: the pure model, assembly and renderings, its workflow and mailing.",
    "year": "The association's year around the meetings: plan, preparation, questionnaires, resources, ...",
    "community": "The community layer: profiles, announcements, topics, notifications, overview, search.",
    "accounts": "Accounts, passwords, associations, memberships and permissions.",
}

# server/domain/<old>.py -> server/domain/<group>/<new>.py
DOMAIN: dict[str, dict[str, str]] = {
    "meeting": {
        "meetings": "meetings",
        "agenda": "agenda",
        "room": "room",
        "room_state": "room_state",
        "events": "events",
        "meeting_log": "meeting_log",
        "meeting_hooks": "meeting_hooks",
        "chat": "chat",
        "hands": "hands",
        "moderation": "moderation",
        "polls": "polls",
        "poll_closing": "poll_closing",
        "poll_results": "poll_results",
        "poll_exports": "poll_exports",
        "media": "media",
        "documents": "documents",
        "doc_text": "doc_text",
        "doc_export": "doc_export",
    },
    "protocol": {
        "protocols": "workflow",
        "protocol_mailing": "mailing",
    },
    "year": {
        "plans": "plans",
        "preparation": "preparation",
        "ics": "ics",
        "questionnaires": "questionnaires",
        "needs": "needs",
        "feedback": "feedback",
        "resources": "resources",
        "consultations": "consultations",
        "competitions": "competitions",
        "certificates": "certificates",
        "activity": "activity",
        "stats": "stats",
        "analysis": "analysis",
        "analysis_layout": "analysis_layout",
        "library": "library",
        "library_pages": "library_pages",
    },
    "community": {
        "profiles": "profiles",
        "announcements": "announcements",
        "topics": "topics",
        "notifications": "notifications",
        "overview": "overview",
        "search_index": "search_index",
    },
    "accounts": {
        "accounts": "accounts",
        "passwords": "passwords",
        "associations": "associations",
        "memberships": "memberships",
        "permissions": "permissions",
    },
}

# Folders moved whole (every file, including ones a branch added).
FOLDERS: dict[str, str] = {
    "server/protocols": "server/domain/protocol",
}

# server/web/routes/<old>.py -> server/web/routes/<group>/<new>.py (system.py stays).
ROUTES: dict[str, dict[str, str]] = {
    "meeting": {"meetings": "meetings", "room": "room", "polls": "polls", "documents": "documents"},
    "protocol": {"protocols": "protocols"},
    "year": {
        "plan": "plan",
        "preparation": "preparation",
        "questionnaires": "questionnaires",
        "resources": "resources",
        "consultations": "consultations",
        "competitions": "competitions",
        "stats": "stats",
        "analysis": "analysis",
        "library": "library",
    },
    "community": {
        "profiles": "profiles",
        "announcements": "announcements",
        "topics": "topics",
        "notifications": "notifications",
        "overview": "overview",
        "search": "search",
    },
    "accounts": {"accounts": "accounts", "admin": "admin", "associations": "associations"},
}

# server/web/templates/<dir>/ -> server/web/templates/<group>/<dir>/ (the root's base.html,
# _macros.html, _panels.html, home.html, error.html stay).
TEMPLATES: dict[str, list[str]] = {
    "meeting": ["meetings", "documents"],
    "protocol": ["protocols"],
    "year": [
        "plan",
        "preparation",
        "questionnaires",
        "resources",
        "consultations",
        "competitions",
        "stats",
        "analysis",
        "library",
    ],
    "community": ["profiles", "announcements", "topics", "notifications", "overview", "search"],
    "accounts": ["accounts", "admin", "associations"],
}

# server/i18n/<locale>/<name>.json -> server/i18n/<locale>/<group>/<name>.json (core.json stays).
I18N: dict[str, list[str]] = {
    "meeting": ["meetings", "room", "room_errors", "polls", "media", "documents"],
    "protocol": ["protocols", "protocol_pages"],
    "year": [
        "plan",
        "year_nav",
        "preparation",
        "questionnaires",
        "resources",
        "consultations",
        "competitions",
        "stats",
        "analysis",
        "library",
    ],
    "community": ["community", "profiles"],
    "accounts": ["accounts"],
}
LOCALES = ("ru", "en")

# Code that depends on where a file sits, fixed by exact replacement (skipped when already done).
FIXUPS: list[tuple[str, str, str]] = [
    (
        "server/i18n/__init__.py",
        'for path in sorted((DIR / locale).glob("*.json")):',
        'for path in sorted((DIR / locale).rglob("*.json")):',
    ),
    (
        "server/i18n/__init__.py",
        '''"""All keys of a locale: one JSON file per area under ``server/i18n/<locale>/``."""''',
        '''"""All keys of a locale: one JSON file per area under ``server/i18n/<locale>/<group>/``
    (``core.json`` at the locale's root)."""''',
    ),
    ("pyproject.toml", '"i18n/*/*.json"]', '"i18n/**/*.json"]'),
    (
        "server/domain/year/preparation.py",
        'Path(__file__).resolve().parent.parent / "web" / "templates"',
        'Path(__file__).resolve().parents[2] / "web" / "templates"',
    ),
]

# Where references are rewritten.
ROOTS = ("server", "realtime", "tests", "bench", "migrations", "docs", "scripts")
TOP_FILES = ("README.md", "pyproject.toml", "alembic.ini", "setup.cfg", "mypy.ini", "tox.ini")
SUFFIXES = (".py", ".html", ".md", ".toml", ".ini", ".cfg")
SKIP_DIRS = {".git", ".venv", "__pycache__", "node_modules", ".mypy_cache", ".ruff_cache", "vendor"}
SELF = Path("scripts/relayout.py")


# --------------------------------------------------------------------------------------------
# The table expanded
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Move:
    old: str  # a path relative to the repository root
    new: str
    folder: bool = False


def moves() -> list[Move]:
    out: list[Move] = []
    for old, new in FOLDERS.items():
        out.append(Move(old, new, folder=True))
    for group, names in DOMAIN.items():
        for old, new in names.items():
            out.append(Move(f"server/domain/{old}.py", f"server/domain/{group}/{new}.py"))
    for group, names in ROUTES.items():
        for old, new in names.items():
            out.append(Move(f"server/web/routes/{old}.py", f"server/web/routes/{group}/{new}.py"))
    for group, dirs in TEMPLATES.items():
        for d in dirs:
            out.append(Move(f"server/web/templates/{d}", f"server/web/templates/{group}/{d}", folder=True))
    for group, catalogs in I18N.items():
        for name in catalogs:
            for loc in LOCALES:
                out.append(Move(f"server/i18n/{loc}/{name}.json", f"server/i18n/{loc}/{group}/{name}.json"))
    return out


def new_packages() -> list[str]:
    pkgs = [f"server/domain/{g}" for g in DOMAIN] + [f"server/web/routes/{g}" for g in ROUTES]
    return sorted(set(pkgs))


def dotted(path: str) -> str:
    return path.removesuffix(".py").replace("/", ".")


def module_map() -> dict[str, str]:
    """Old dotted module path -> new one (modules and moved packages)."""
    out: dict[str, str] = {}
    for m in moves():
        if m.folder and m.old.startswith("server/protocols"):
            out[dotted(m.old)] = dotted(m.new)
        elif m.old.endswith(".py"):
            out[dotted(m.old)] = dotted(m.new)
    return out


def path_map() -> dict[str, str]:
    """Old file or folder path -> new one, as written in docs and comments."""
    out: dict[str, str] = {}
    for m in moves():
        out[m.old] = m.new
        if m.old.startswith("server/i18n/ru/"):
            name = m.old.removeprefix("server/i18n/ru/")
            out[f"server/i18n/<locale>/{name}"] = (
                f"server/i18n/<locale>/{m.new.removeprefix('server/i18n/ru/')}"
            )
    return out


def template_map() -> dict[str, str]:
    """Old template folder -> new one, as template names start ("plan/" -> "year/plan/")."""
    return {d: f"{g}/{d}" for g, dirs in TEMPLATES.items() for d in dirs}


# --------------------------------------------------------------------------------------------
# Moving
# --------------------------------------------------------------------------------------------


class Mover:
    def __init__(self, dry_run: bool) -> None:
        self.dry_run = dry_run
        self.done: list[tuple[str, str]] = []
        self.conflicts: list[str] = []

    def git(self, *args: str) -> str:
        return subprocess.run(["git", *args], check=True, capture_output=True, text=True).stdout

    def tracked(self, path: str) -> bool:
        return bool(self.git("ls-files", "--", path).strip())

    def move_file(self, old: str, new: str) -> None:
        src, dst = Path(old), Path(new)
        if not src.is_file():
            return
        if dst.exists():
            if dst.name == "__init__.py" and _trivial(dst.read_text(encoding="utf-8")):
                # a branch created the package early with a docstring only: the moved one wins
                if not self.dry_run:
                    if self.tracked(new):
                        self.git("rm", "-q", "-f", "--", new)
                    else:
                        dst.unlink()
            else:
                self.conflicts.append(f"{old} -> {new}: the target exists; merge by hand")
                return
        self.done.append((old, new))
        if self.dry_run:
            return
        dst.parent.mkdir(parents=True, exist_ok=True)
        if self.tracked(old):
            self.git("mv", "--", old, new)
        else:
            os.replace(src, dst)

    def move_folder(self, old: str, new: str) -> None:
        root = Path(old)
        if not root.is_dir():
            return
        # the new folder inside the old one (templates/accounts -> templates/accounts/accounts):
        # what is already in the new layout stays
        inside = {o.new.removeprefix(old + "/").split("/")[0] for o in moves() if o.new.startswith(old + "/")}
        files = sorted(
            p
            for p in root.rglob("*")
            if p.is_file()
            and not (set(p.relative_to(root).parts) & SKIP_DIRS)
            and p.suffix != ".pyc"
            and p.relative_to(root).parts[0] not in inside
        )
        for p in files:
            self.move_file(p.as_posix(), (Path(new) / p.relative_to(root)).as_posix())
        if not self.dry_run:
            _remove_empty(root)

    def run(self) -> None:
        for m in moves():
            (self.move_folder if m.folder else self.move_file)(m.old, m.new)
        for pkg in new_packages():
            init = Path(pkg) / "__init__.py"
            if init.exists():
                continue
            group = pkg.rsplit("/", 1)[1]
            doc = GROUP_DOCS[group]
            if pkg.startswith("server/web/routes"):
                doc = f"HTTP routes of the {group} group (see server/domain/{group}/)."
            self.done.append(("(new)", init.as_posix()))
            if not self.dry_run:
                init.parent.mkdir(parents=True, exist_ok=True)
                init.write_text(f'"""{doc}"""\n', encoding="utf-8")
                self.git("add", "--", init.as_posix())


def _trivial(text: str) -> bool:
    try:
        tree = ast.parse(text)
    except SyntaxError:
        return False
    body = tree.body
    return all(isinstance(n, ast.Expr) and isinstance(n.value, ast.Constant) for n in body)


def _remove_empty(root: Path) -> None:
    if not root.exists():
        return
    for d in sorted((p for p in root.rglob("*") if p.is_dir()), key=lambda p: -len(p.parts)):
        if d.name == "__pycache__":
            shutil.rmtree(d, ignore_errors=True)
    for d in sorted((p for p in root.rglob("*") if p.is_dir()), key=lambda p: -len(p.parts)):
        if not any(d.iterdir()):
            d.rmdir()
    if root.exists() and not any(root.iterdir()):
        root.rmdir()


# --------------------------------------------------------------------------------------------
# Rewriting
# --------------------------------------------------------------------------------------------


def children_now(path: str) -> set[str]:
    """Names directly under ``path`` in the new layout (from the table and the disk)."""
    names: set[str] = set()
    prefix = path.rstrip("/") + "/"
    for m in moves():
        if m.new.startswith(prefix):
            names.add(m.new[len(prefix) :].split("/")[0].removesuffix(".py").removesuffix(".json"))
    p = Path(path)
    if p.is_dir():
        for c in p.iterdir():
            if c.name not in SKIP_DIRS:
                names.add(c.name.removesuffix(".py").removesuffix(".json"))
    names.discard("__init__")
    return names


class Rewriter:
    def __init__(self) -> None:
        mods = module_map()
        self.mods = mods
        self.dotted_re = self._alternation(
            {old: new for old, new in mods.items()},
            before=r"(?<![\w.])",
            after=r"(?![\w])",
            sep=r"\.",
            as_path=lambda s: s.replace(".", "/"),
        )
        paths = path_map()
        self.paths = paths
        self.path_re = self._alternation(
            paths, before=r"(?<![\w./-])", after=r"(?![\w-])", sep="/", as_path=lambda s: s
        )
        tmpl = template_map()
        self.tmpl = tmpl
        parts = []
        for old in sorted(tmpl, key=lambda s: (-len(s), s)):
            kids = sorted(children_now(f"server/web/templates/{old}") & _new_only(old))
            guard = "(?!(?:" + "|".join(map(re.escape, kids)) + ")/)" if kids else ""
            parts.append(f"{re.escape(old)}/{guard}")
        self.tmpl_re = re.compile(r"(?<=[\"'`])(" + "|".join(parts) + r")(?=[^\"'`\s]*\.html[\"'`])")
        # from-import parents whose children moved: parent -> {old name: (new parent, new name)}
        self.from_map: dict[str, dict[str, tuple[str, str]]] = {}
        for old, new in mods.items():
            parent, _, name = old.rpartition(".")
            nparent, _, nname = new.rpartition(".")
            self.from_map.setdefault(parent, {})[name] = (nparent, nname)

    def _alternation(
        self, table: dict[str, str], *, before: str, after: str, sep: str, as_path: Callable[[str], str]
    ) -> re.Pattern[str]:
        parts = []
        for old in sorted(table, key=lambda s: (-len(s), s)):
            new = table[old]
            guard = ""
            if new.startswith(old + sep[-1]):
                # the old path is a prefix of the new one: leave paths already in the new package
                kids = children_now(as_path(old))
                guard = _guard(kids, sep)
            parts.append(re.escape(old) + guard)
        return re.compile(before + "(" + "|".join(parts) + ")" + after)

    # -- the passes --

    def rewrite(self, path: Path, text: str) -> str:
        protected: list[tuple[int, int]] = []
        if path.suffix == ".py":
            text, protected = self._from_imports(text)
        text = _sub_outside(self.dotted_re, lambda m: self._dotted_new(m.group(1)), text, protected)
        text = _sub_outside(self.path_re, lambda m: self._path_new(m.group(1)), text, protected)
        if path.suffix in (".py", ".html", ".md"):
            text = _sub_outside(
                self.tmpl_re, lambda m: self.tmpl[m.group(1).rstrip("/")] + "/", text, protected
            )
        return text

    def _dotted_new(self, old: str) -> str:
        return self.mods[old]

    def _path_new(self, old: str) -> str:
        return self.paths[old]

    def _from_imports(self, text: str) -> tuple[str, list[tuple[int, int]]]:
        """Rewrite ``from <parent> import a, b as c`` statements; return protected spans."""
        try:
            tree = ast.parse(text)
        except SyntaxError:
            return text, []
        # ast counts lines by "\n" (and "\r"); the statements' columns are ASCII here
        starts = [0] + [m.end() for m in re.finditer("\n", text)]
        edits: list[tuple[int, int, str]] = []
        for node in ast.walk(tree):
            if not isinstance(node, ast.ImportFrom) or node.level or not node.module:
                continue
            module = node.module
            start = starts[node.lineno - 1] + node.col_offset
            end = starts[node.end_lineno - 1] + node.end_col_offset  # type: ignore[operator]
            if module in self.from_map:
                table = self.from_map[module]
                stay: list[ast.alias] = []
                moved: dict[str, list[str]] = {}
                for alias in node.names:
                    target = table.get(alias.name)
                    if target is None:
                        stay.append(alias)
                        continue
                    nparent, nname = target
                    local = alias.asname or alias.name
                    moved.setdefault(nparent, []).append(nname if nname == local else f"{nname} as {local}")
                if not moved:
                    continue
                indent = " " * node.col_offset
                out = []
                if stay:
                    out.append(f"from {module} import {', '.join(_alias(a) for a in stay)}")
                for nparent in sorted(moved):
                    out.append(f"from {nparent} import {', '.join(moved[nparent])}")
                edits.append((start, end, ("\n" + indent).join(out)))
            elif module in self.mods and self.mods[module].startswith(module + "."):
                # ``from server.domain.accounts import X``: old layout unless every X is already a
                # module of the new package
                kids = children_now(module.replace(".", "/"))
                if all(a.name in kids for a in node.names):
                    edits.append((start, end, text[start:end]))  # protect as is
        edits.sort()
        out_parts, last, protected, shift = [], 0, [], 0
        for start, end, new in edits:
            out_parts.append(text[last:start])
            shift += len(text[last:start])
            protected.append((shift, shift + len(new)))
            out_parts.append(new)
            shift += len(new)
            last = end
        out_parts.append(text[last:])
        return "".join(out_parts), protected


def _new_only(old: str) -> set[str]:
    """Template folders of the new group folder named like ``old`` (a template name starting
    with ``accounts/accounts/`` is already in the new layout)."""
    return {d for g, dirs in TEMPLATES.items() if g == old for d in dirs}


def _guard(kids: Iterable[str], sep: str) -> str:
    kids = sorted(k for k in kids if k)
    if not kids:
        return ""
    s = re.escape(sep) if sep != r"\." else sep
    return "(?!" + s + "(?:" + "|".join(re.escape(k) for k in kids) + r")(?![\w]))"


def _alias(a: ast.alias) -> str:
    return a.name if a.asname is None else f"{a.name} as {a.asname}"


def _sub_outside(
    pattern: re.Pattern[str],
    repl: Callable[[re.Match[str]], str],
    text: str,
    protected: list[tuple[int, int]],
) -> str:
    if not protected:
        return pattern.sub(repl, text)
    out, last = [], 0
    for start, end in protected:
        out.append(pattern.sub(repl, text[last:start]))
        out.append(text[start:end])
        last = end
    out.append(pattern.sub(repl, text[last:]))
    return "".join(out)


def files_to_rewrite() -> list[Path]:
    out: list[Path] = []
    for root in ROOTS:
        for dirpath, dirnames, filenames in os.walk(root):
            dirnames[:] = sorted(d for d in dirnames if d not in SKIP_DIRS)
            for name in sorted(filenames):
                p = Path(dirpath) / name
                if p.suffix in SUFFIXES and p != SELF:
                    out.append(p)
    out += [Path(f) for f in TOP_FILES if Path(f).is_file()]
    return out


def stray_modules() -> list[str]:
    known = {m.old for m in moves()}
    out = []
    for folder, keep in (
        ("server/domain", {"__init__.py"}),
        ("server/web/routes", {"__init__.py", "system.py"}),
    ):
        for p in sorted(Path(folder).glob("*.py")):
            if p.name not in keep and p.as_posix() not in known:
                out.append(p.as_posix())
    return out


def ruff() -> str | None:
    local = Path(".venv/bin/ruff")
    if local.is_file():
        return str(local)
    return shutil.which("ruff")


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--dry-run", action="store_true", help="print what would change, change nothing")
    ap.add_argument("--table", action="store_true", help="print the table of moves and exit")
    ap.add_argument("--no-ruff", action="store_true", help="do not sort imports / format with ruff")
    args = ap.parse_args(argv)

    if not Path("server").is_dir() or not Path(".git").exists():
        print("run from the repository root", file=sys.stderr)
        return 2
    if args.table:
        for m in moves():
            print(f"{m.old}{'/' if m.folder else ''} -> {m.new}{'/' if m.folder else ''}")
        return 0

    mover = Mover(args.dry_run)
    mover.run()
    for old, new in mover.done:
        print(f"move {old} -> {new}")

    rewriter = Rewriter()
    changed: list[Path] = []
    for p in files_to_rewrite():
        try:
            text = p.read_text(encoding="utf-8")
        except (UnicodeDecodeError, FileNotFoundError):
            continue
        new = rewriter.rewrite(p, text)
        if new != text:
            changed.append(p)
            if not args.dry_run:
                p.write_text(new, encoding="utf-8")
    for path, before, after in FIXUPS:
        p = Path(path)
        if p.is_file() and before in (text := p.read_text(encoding="utf-8")):
            if not args.dry_run:
                p.write_text(text.replace(before, after), encoding="utf-8")
            if p not in changed:
                changed.append(p)
    for p in changed:
        print(f"rewrite {p.as_posix()}")

    py = [
        p.as_posix()
        for p in changed
        if p.suffix == ".py" and not p.as_posix().startswith("migrations/versions")
    ]
    if py and not args.dry_run and not args.no_ruff:
        exe = ruff()
        if exe:
            subprocess.run([exe, "check", "-q", "--select", "I001", "--fix", *py], check=False)
            subprocess.run([exe, "format", "-q", *py], check=False)
        else:
            print(
                "ruff not found: run `ruff check --select I001 --fix` and `ruff format` on the changed files"
            )

    for c in mover.conflicts:
        print(f"CONFLICT {c}", file=sys.stderr)
    for s in stray_modules():
        print(f"NOT IN THE TABLE (left in place): {s}", file=sys.stderr)
    print(f"{len(mover.done)} moved, {len(changed)} files rewritten{' (dry run)' if args.dry_run else ''}")
    return 1 if mover.conflicts else 0


if __name__ == "__main__":
    sys.exit(main())
