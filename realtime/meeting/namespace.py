"""The meeting room's Socket.IO namespace: connection auth and the message dispatcher."""

from __future__ import annotations

import logging
from http.cookies import SimpleCookie
from typing import TYPE_CHECKING, Any

import socketio
from pydantic import ValidationError

from realtime.meeting import acks, limits
from realtime.meeting.broadcast import person_room
from realtime.meeting.registry import HANDLERS, HandlerContext
from realtime.meeting.service import RoomService
from server.domain.meeting.room import identify
from server.errors import AppError, Unauthenticated, refuse_nul, storage_full, validation_error_from_pydantic
from server.i18n import LOCALES
from server.sessions import SESSION_COOKIE, decode_session_cookie

if TYPE_CHECKING:
    from server.runtime import Runtime

log = logging.getLogger("smo.room")
MAX_NAME = 64


def refused(err: AppError, locale: str) -> socketio.exceptions.ConnectionRefusedError:
    """The client's ``connect_error`` gets ``message`` and ``data`` (the typed error body)."""
    return socketio.exceptions.ConnectionRefusedError(err.message(locale), err.to_dict(locale))


class MeetingNamespace(socketio.AsyncNamespace):
    def __init__(self, runtime: Runtime, room: RoomService, namespace: str = "/") -> None:
        super().__init__(namespace)
        self.runtime = runtime
        self.room = room

    async def on_connect(self, sid: str, environ: dict[str, Any], auth: Any = None) -> None:
        cookie = SimpleCookie()
        try:
            cookie.load(environ.get("HTTP_COOKIE", ""))
        except Exception:  # a malformed Cookie header is just no identity
            cookie = SimpleCookie()
        morsel = cookie.get(SESSION_COOKIE)
        data = decode_session_cookie(self.runtime.secret_key, morsel.value) if morsel else {}
        lang = cookie["lang"].value if "lang" in cookie else None
        try:
            async with self.runtime.db.read() as session:
                user, guest = await identify(session, data.get("uid"), data.get("sv"), data.get("guest"))
        except AppError as err:
            raise refused(err, self._locale(lang, None)) from None
        except Exception:
            log.exception("connect failed")
            raise refused(AppError(), self._locale(lang, None)) from None
        locale = self._locale(lang, user.locale if user is not None else None)
        key = f"u:{user.id}" if user is not None else f"g:{guest.id}"  # type: ignore[union-attr]
        await self.save_session(
            sid,
            {
                "participant": key,
                "user": user,
                "guest": guest,
                "locale": locale,
                "meeting_id": 0,
                "status": "",
                "office_moderator": False,
            },
        )
        await self.enter_room(sid, person_room(key))

    def _locale(self, lang: str | None, user_locale: str | None) -> str:
        for candidate in (lang, user_locale):
            if candidate in LOCALES:
                return str(candidate)
        return self.runtime.settings.default_locale

    async def on_disconnect(self, sid: str, reason: Any = None) -> None:
        try:
            data = await self.get_session(sid)
        except KeyError:
            return
        if data.get("status") == "in" and data.get("meeting_id"):
            from realtime.meeting.handlers.room import drop_connection

            try:
                await drop_connection(self.room, data["meeting_id"], data["participant"], sid, "disconnect")
            except AppError:
                pass  # the meeting is gone
            except Exception:
                log.exception("disconnect bookkeeping failed", extra={"sid": sid})

    async def trigger_event(self, event: str, *args: Any) -> Any:
        if event in ("connect", "disconnect"):
            return await super().trigger_event(event, *args)
        sid = args[0]
        try:
            data = await self.get_session(sid)
        except KeyError:
            return acks.fail(Unauthenticated())
        locale = str(data.get("locale", "ru"))
        try:
            return await self.dispatch(sid, data, event, args[1:])
        except AppError as err:
            return acks.fail(err, locale)
        except Exception as exc:
            full = storage_full(exc)
            if full is not None:
                log.error("storage full: the action changed nothing", extra={"event": str(event)[:MAX_NAME]})
                return acks.fail(full, locale)
            log.exception("room handler failed", extra={"event": str(event)[:MAX_NAME]})
            return acks.fail(AppError(), locale)

    async def dispatch(self, sid: str, data: dict[str, Any], event: str, args: tuple[Any, ...]) -> Any:
        spec = HANDLERS.get(event) if isinstance(event, str) else None
        if spec is None:
            raise AppError("unknown_event", status=404)
        if len(args) > 1:
            raise AppError("validation_failed", status=422, details={"fields": {"_": "too_many_arguments"}})
        raw = args[0] if args else {}
        if raw is None:
            raw = {}
        if not isinstance(raw, dict):
            raise AppError("validation_failed", status=422, details={"fields": {"_": "object_expected"}})
        refuse_nul(raw)
        try:
            payload = spec.schema.model_validate(raw)
        except ValidationError as exc:
            raise validation_error_from_pydantic(exc) from None
        meeting_id = int(data.get("meeting_id") or 0)
        await limits.check(self.runtime, data, event, meeting_id, data["participant"])
        if spec.joined and (not meeting_id or data.get("status") != "in"):
            raise AppError("not_joined", status=409)
        ctx = HandlerContext(
            runtime=self.runtime,
            room=self.room,
            sid=sid,
            meeting_id=meeting_id,
            participant=data["participant"],
            user=data.get("user"),
            guest=data.get("guest"),
            office_moderator=bool(data.get("office_moderator")),
            locale=str(data.get("locale", "ru")),
        )
        if meeting_id:
            # Pre-checks on this process's fold (no I/O); a refusal is confirmed on the exact
            # state, and every action re-checks inside its transaction anyway.
            ctx.state = self.room.cached_state(meeting_id) or await self.room.current_state(meeting_id)
            if spec.joined and ctx.state.is_removed(ctx.participant):
                ctx.state = await self.room.current_state(meeting_id)
                if ctx.state.is_removed(ctx.participant):
                    raise AppError("participant_removed", status=403)
        if spec.moderator and not ctx.is_moderator:
            if meeting_id:
                ctx.state = await self.room.current_state(meeting_id)
            if not ctx.is_moderator:
                raise AppError("forbidden", status=403)
        result = await spec.fn(ctx, payload)
        return acks.ok(result)
