"""scripts/relayout.py (the layout codemod) on a small repository still on the flat layout:
it moves with git, rewrites references exactly, and a second run changes nothing."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SCRIPT = ROOT / "scripts" / "relayout.py"

FILES = {
    "server/__init__.py": "",
    "server/domain/__init__.py": '"""Domain."""\n',
    "server/domain/polls.py": '"""Polls."""\n',
    "server/domain/accounts.py": "def authenticate(): ...\n",
    "server/domain/protocols.py": '"""The workflow."""\n',
    "server/domain/protocol_mailing.py": "",
    "server/protocols/__init__.py": "from server.protocols.russian import date_text\n",
    "server/protocols/russian.py": "def date_text(): ...\n",
    "server/protocols/added_on_a_branch.py": "import server.protocols.russian\n",
    "server/web/__init__.py": "",
    "server/web/routes/__init__.py": (
        "from server.web.routes import accounts, plan as plan_routes, system  # noqa: F401\n"
    ),
    "server/web/routes/accounts.py": "",
    "server/web/routes/plan.py": "",
    "server/web/routes/system.py": "",
    "server/web/templates/accounts/login.html": '{% extends "base.html" %}\n',
    "server/web/templates/plan/index.html": '{% from "plan/_row.html" import row %}\n',
    "server/web/templates/plan/_row.html": "",
    "server/i18n/ru/plan.json": "{}\n",
    "server/i18n/en/plan.json": "{}\n",
    "server/domain/transcript.py": '"""A new module the table does not know."""\n',
    "tests/test_x.py": (
        "import server.domain.accounts\n"
        "from server import protocols\n"
        "from server.domain import accounts, polls, protocols as flow\n"
        "from server.domain.accounts import authenticate\n"
        "\n"
        "\n"
        "def test() -> None:\n"
        "    from server.domain import protocol_mailing\n"
        '    target = "server.domain.accounts.authenticate"\n'
        '    names = ["accounts/login.html", "plan/index.html", "planning/x.html"]\n'
        "    print(server.domain.accounts, protocols, accounts, polls, flow, authenticate, protocol_mailing)\n"
        "    print(target, names)\n"
    ),
    "docs/x.md": (
        "See server/domain/polls.py, server/protocols/ and `server.domain.polls`; "
        "texts in server/i18n/<locale>/plan.json; pages in server/web/templates/plan/.\n"
    ),
}


def run(repo: Path) -> str:
    done = subprocess.run(
        [sys.executable, str(SCRIPT), "--no-ruff"], cwd=repo, capture_output=True, text=True, check=False
    )
    assert done.returncode == 0, done.stderr
    return done.stdout + done.stderr


def git(repo: Path, *args: str) -> str:
    return subprocess.run(["git", *args], cwd=repo, capture_output=True, text=True, check=True).stdout


def test_relayout_moves_rewrites_and_is_idempotent(tmp_path: Path) -> None:
    repo = tmp_path / "repo"
    for name, text in FILES.items():
        path = repo / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
    git(repo, "init", "-q")
    git(repo, "-c", "user.email=t@example.org", "-c", "user.name=t", "add", "-A")
    git(repo, "-c", "user.email=t@example.org", "-c", "user.name=t", "commit", "-qm", "flat")

    out = run(repo)
    assert "NOT IN THE TABLE (left in place): server/domain/transcript.py" in out
    tracked = set(git(repo, "ls-files").split())
    for moved in (
        "server/domain/meeting/polls.py",
        "server/domain/accounts/accounts.py",
        "server/domain/protocol/workflow.py",
        "server/domain/protocol/mailing.py",
        "server/domain/protocol/__init__.py",  # the folded server/protocols/
        "server/domain/protocol/added_on_a_branch.py",  # a file the table does not name moves along
        "server/web/routes/accounts/accounts.py",
        "server/web/routes/year/plan.py",
        "server/web/routes/system.py",
        "server/web/templates/accounts/accounts/login.html",
        "server/web/templates/year/plan/index.html",
        "server/i18n/ru/year/plan.json",
        "server/domain/meeting/__init__.py",
    ):
        assert moved in tracked, moved
    assert not (repo / "server/protocols").exists()
    assert (repo / "server/domain/protocol/added_on_a_branch.py").read_text() == (
        "import server.domain.protocol.russian\n"
    )
    assert (repo / "server/web/routes/__init__.py").read_text() == (
        "from server.web.routes import system\n"
        "from server.web.routes.accounts import accounts\n"
        "from server.web.routes.year import plan as plan_routes  # noqa: F401\n"
    )
    test = (repo / "tests/test_x.py").read_text()
    assert test.splitlines()[:5] == [
        "import server.domain.accounts.accounts",
        "from server.domain import protocol as protocols",
        "from server.domain.accounts import accounts",
        "from server.domain.meeting import polls",
        "from server.domain.protocol import workflow as flow",
    ]
    assert "from server.domain.accounts.accounts import authenticate" in test
    assert "    from server.domain.protocol import mailing as protocol_mailing" in test
    assert '"server.domain.accounts.accounts.authenticate"' in test
    assert '["accounts/accounts/login.html", "year/plan/index.html", "planning/x.html"]' in test
    assert "server.domain.accounts.accounts, protocols," in test
    assert (repo / "server/web/templates/year/plan/index.html").read_text() == (
        '{% from "year/plan/_row.html" import row %}\n'
    )
    assert (repo / "docs/x.md").read_text() == (
        "See server/domain/meeting/polls.py, server/domain/protocol/ and `server.domain.meeting.polls`; "
        "texts in server/i18n/<locale>/year/plan.json; pages in server/web/templates/year/plan/.\n"
    )

    git(repo, "add", "-A")
    before = {p: p.read_bytes() for p in repo.rglob("*") if p.is_file() and ".git" not in p.parts}
    again = run(repo)
    assert "0 moved, 0 files rewritten" in again
    after = {p: p.read_bytes() for p in repo.rglob("*") if p.is_file() and ".git" not in p.parts}
    assert after == before
