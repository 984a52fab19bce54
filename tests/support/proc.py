"""The app as a separate uvicorn process (for kill -9 and multi-process tests)."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import httpx

from tests.support.net import free_port, wait_for

ROOT = Path(__file__).resolve().parents[2]


@dataclass
class ServerProcess:
    proc: subprocess.Popen[bytes]
    port: int
    log_path: Path

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def kill9(self) -> None:
        """SIGKILL: no shutdown, no flush, nothing."""
        if self.proc.poll() is None:
            os.kill(self.proc.pid, signal.SIGKILL)
        self.proc.wait(10)

    async def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                await asyncio.to_thread(self.proc.wait, 15)
            except subprocess.TimeoutExpired:
                self.kill9()

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")[-5000:]


async def start_server_process(
    database_url: str,
    var_dir: Path,
    *,
    secret_key: str,
    redis_url: str | None = None,
    redis_prefix: str = "smo",
    port: int | None = None,
    extra_env: dict[str, str] | None = None,
) -> ServerProcess:
    port = port or free_port()
    env = {
        **os.environ,
        "SMO_ENV": "test",
        "SMO_DATABASE_URL": database_url,
        "SMO_VAR_DIR": str(var_dir),
        "SMO_SECRET_KEY": secret_key,
        "SMO_LOG_LEVEL": "WARNING",
        "SMO_REDIS_PREFIX": redis_prefix,
        **(extra_env or {}),
    }
    if redis_url:
        env["SMO_REDIS_URL"] = redis_url
    else:
        env.pop("SMO_REDIS_URL", None)
    log_path = var_dir / f"server-{port}.log"
    proc = await asyncio.to_thread(_spawn, port, env, var_dir, log_path)
    server = ServerProcess(proc, port, log_path)

    async def ready() -> bool:
        if proc.poll() is not None:
            raise AssertionError(f"server exited: {server.log()}")
        try:
            async with httpx.AsyncClient(timeout=2) as c:
                r = await c.get(f"{server.url}/healthz")
            return r.status_code == 200
        except httpx.HTTPError:
            return False

    try:
        await wait_for(ready, 60, interval=0.1, what="server process ready")  # a loaded 2-core machine
    except BaseException:
        server.kill9()  # never leave a half-started server behind
        raise
    return server


def uvicorn_command(port: int, python_args: list[str] | None = None) -> list[str]:
    """The command line of an app server process on ``port`` (settings from the environment)."""
    return [
        sys.executable,
        *(python_args or []),
        "-m",
        "uvicorn",
        "server.app:create_app",
        "--factory",
        "--host",
        "127.0.0.1",
        "--port",
        str(port),
        "--ws",
        "websockets-sansio",
        "--log-level",
        "warning",
    ]


def _spawn(port: int, env: dict[str, str], var_dir: Path, log_path: Path) -> subprocess.Popen[bytes]:
    var_dir.mkdir(parents=True, exist_ok=True)
    command = uvicorn_command(port)
    with log_path.open("ab") as log:
        return subprocess.Popen(command, cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT)
