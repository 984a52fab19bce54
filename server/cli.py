"""``smo``: serve, migrate, create-admin, demo-data, transcribe."""

from __future__ import annotations

import argparse
import asyncio
import getpass
import os
import sys

from server.settings import Settings


def banner(settings: Settings) -> str:
    """A short human greeting for the terminal of ``make run``: where to go, how to log in."""
    lines = ["", f"  SMO Live: откройте {settings.public_url}"]
    if settings.env == "development":
        from server.demo import DEMO_PASSWORD, demo_logins

        try:
            logins = asyncio.run(demo_logins(settings))
        except Exception:  # no database yet: the banner is a courtesy, never a failure
            logins = []
        if logins:
            lines.append(f"  Демо-входы (пароль {DEMO_PASSWORD}):")
            lines += [f"    {email:<22} {who}" for email, who in logins]
    lines += ["  Остановить: Ctrl+C", ""]
    return "\n".join(lines)


def cmd_serve(args: argparse.Namespace) -> int:
    import uvicorn

    # Links in e-mails and the guest link point at the address served, unless configured.
    os.environ["HOST"], os.environ["PORT"] = args.host, str(args.port)
    settings = Settings()
    print(banner(settings), flush=True)
    if args.workers > 1:
        # Each worker builds its own app; the factory reads the environment.
        uvicorn.run(
            "server.app:create_app",
            factory=True,
            host=args.host,
            port=args.port,
            workers=args.workers,
            log_config=None,
            proxy_headers=True,
        )
        return 0
    from server.app import create_app

    uvicorn.run(create_app(settings), host=args.host, port=args.port, log_config=None, proxy_headers=True)
    return 0


def cmd_migrate(args: argparse.Namespace) -> int:
    from server.db.migrate import downgrade, upgrade

    settings = Settings()
    if args.downgrade:
        downgrade(settings.database_url, args.revision or "base")
    else:
        upgrade(settings.database_url, args.revision or "heads")
    print(f"migrations applied ({settings.database_url.split('://')[0]})")
    return 0


def cmd_create_admin(args: argparse.Namespace) -> int:
    from server.demo import create_admin

    password = args.password or os.environ.get("SMO_ADMIN_PASSWORD") or getpass.getpass("Пароль: ")
    user_id = asyncio.run(
        create_admin(Settings(), args.email, password, args.last_name, args.first_name, args.middle_name)
    )
    print(f"administrator {args.email} (id {user_id}) ready")
    return 0


def cmd_demo_data(args: argparse.Namespace) -> int:
    from server.demo import seed_demo

    created = asyncio.run(seed_demo(Settings(), only_if_empty=args.if_empty))
    print("demo data created" if created else "demo data already present, nothing changed")
    return 0


def _clock(seconds: float) -> str:
    minutes, rest = divmod(seconds, 60)
    return f"{int(minutes):02d}:{rest:04.1f}"


def cmd_transcribe(args: argparse.Namespace) -> int:
    """What the configured engine hears in a file: one segment a line, with times."""
    from pathlib import Path

    from server.transcription.audio import BadAudio, decode_file
    from server.transcription.engine import Engine, EngineOptions

    settings = Settings()
    options = EngineOptions.from_settings(settings)
    if args.model:
        options = EngineOptions(args.model, args.sha256, options.threads, options.beam_size)
    engine = Engine(options)
    if not engine.load():
        print(f"transcription unavailable: {engine.reason}", file=sys.stderr)
        return 2
    try:
        audio = decode_file(Path(args.file))
    except BadAudio as exc:
        print(f"cannot read audio: {exc}", file=sys.stderr)
        return 1
    for piece in engine.transcribe(audio):
        print(f"[{_clock(piece.start)} – {_clock(piece.end)}] {piece.text}")
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="smo", description="SMO Live: сетевые методические объединения")
    sub = parser.add_subparsers(dest="command", required=True)

    p = sub.add_parser("serve", help="serve the web app (HTTP + Socket.IO)")
    p.add_argument("--host", default=os.environ.get("HOST", "127.0.0.1"))
    p.add_argument("--port", type=int, default=int(os.environ.get("PORT", "8000")))
    p.add_argument("--workers", type=int, default=1, help="processes (needs PostgreSQL and Redis)")
    p.set_defaults(func=cmd_serve)

    p = sub.add_parser("migrate", help="apply database migrations (SMO_DATABASE_URL)")
    p.add_argument("--revision", default=None, help="target revision (default: head / base)")
    p.add_argument("--downgrade", action="store_true", help="downgrade instead of upgrade")
    p.set_defaults(func=cmd_migrate)

    p = sub.add_parser("create-admin", help="create or promote a site administrator")
    p.add_argument("email")
    p.add_argument("--password", default=None, help="default: SMO_ADMIN_PASSWORD or a prompt")
    p.add_argument("--last-name", default="Администратор")
    p.add_argument("--first-name", default="Системный")
    p.add_argument("--middle-name", default="")
    p.set_defaults(func=cmd_create_admin)

    p = sub.add_parser("demo-data", help="seed a demo association, its people and a meeting")
    p.add_argument("--if-empty", action="store_true", help="only when the database has no users")
    p.set_defaults(func=cmd_demo_data)

    p = sub.add_parser("transcribe", help="print what the transcription engine hears in a WAV/OGG/WebM file")
    p.add_argument("file")
    p.add_argument("--model", default=None, help="a CTranslate2 Whisper directory (default: the configured)")
    p.add_argument("--sha256", default=None, help="the expected sha256 of that model's model.bin")
    p.set_defaults(func=cmd_transcribe)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    return int(args.func(args))


if __name__ == "__main__":
    sys.exit(main())
