"""The Yjs sync and awareness protocols over the meeting's Socket.IO connection.

Messages (client -> server, each acknowledged; ``data`` is base64 of a y-websocket style
message, i.e. with its leading message-type byte: 0 = sync, 1 = awareness):

- ``doc.list`` {} -> {documents: [...]} (creates the default documents when missing, unless
  the meeting is over: reading an ended meeting's documents writes nothing)
- ``doc.open`` {doc_id} -> {document, can_edit, sync: [step 1, step 2], awareness?}: joins the
  document's room; the client answers the server's step 1 with its own step 2 (``doc.sync``)
- ``doc.sync`` {doc_id, data}: step 1 -> {reply: step 2}; step 2 / update -> stored, then
  {seq} and fanned out to the document's room as ``doc.sync`` {doc_id, data}
- ``doc.awareness`` {doc_id, data}: cursors and who is editing, relayed as ``doc.awareness``
  (the ``user.name`` of each state is set by the server to the sender's real name)
- ``board.get`` {} -> {document, can_edit}: the meeting's board (created on first use)
- ``doc.close`` {doc_id}; moderators: ``doc.create`` {title, agenda_item_id?},
  ``doc.policy`` {doc_id, edit_policy, editors}, ``doc.snapshot`` {} (a manual capture).
"""

from __future__ import annotations

import base64
import binascii
import json
import time
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any, Literal

from pycrdt import Decoder, Encoder, write_message
from pydantic import Field

from realtime.docs.rooms import EMPTY_UPDATE, DocRoom, DocRooms, doc_rooms
from realtime.meeting.registry import Empty, HandlerContext, Message, handler
from server.db.models.documents import MeetingDocument
from server.domain.meeting import board, documents
from server.domain.meeting.documents import DocumentReadOnly, DocUpdateMalformed
from server.domain.meeting.events import ParticipantKey
from server.errors import AppError, RateLimited

if TYPE_CHECKING:
    from realtime.meeting.service import RoomService

DocId = Field(ge=1, le=2**31)
MAX_DATA_CHARS = 1_400_000  # base64 of more than MAX_UPDATE_BYTES: rejected as too large, typed
MAX_AWARENESS_BYTES = 16 * 1024
MAX_AWARENESS_CLIENTS = 4  # Yjs client ids one connection may announce per document
BAD_LIMIT, BAD_WINDOW = 10, 60  # rejected messages per participant before a cool-down
SYNC, AWARENESS = 0, 1
STEP1, STEP2, UPDATE = 0, 1, 2


class DocRef(Message):
    doc_id: int = DocId


class DocData(Message):
    doc_id: int = DocId
    data: str = Field(max_length=MAX_DATA_CHARS)


class DocCreate(Message):
    title: str = Field(min_length=1, max_length=300)
    agenda_item_id: int | None = Field(default=None, ge=1, le=2**31)


class DocPolicy(Message):
    doc_id: int = DocId
    edit_policy: Literal["everyone", "moderators", "named"]
    editors: list[ParticipantKey] = Field(default_factory=list, max_length=500)


def doc_room(meeting_id: int, document_id: int) -> str:
    return f"m{meeting_id}:doc:{document_id}"


def emitter(service: RoomService) -> Callable[[DocRoom, bytes, str | None], Awaitable[None]]:
    """Fan-out of stored updates to a document's room, through the room service's broadcaster
    (with Redis: the one ordered Socket.IO channel every process delivers from)."""

    async def emit(room: DocRoom, update: bytes, skip_sid: str | None) -> None:
        data = {"doc_id": room.document_id, "data": b64(sync_message(UPDATE, update))}
        await service.broadcaster.emit(
            "doc.sync", data, doc_room(room.meeting_id, room.document_id), skip_sid
        )

    return emit


def b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


def sync_message(kind: int, payload: bytes) -> bytes:
    return bytes([SYNC, kind]) + write_message(payload)


# --- parsing, with every failure typed -----------------------------------------------------
def _decode(data: str) -> bytes:
    try:
        raw = base64.b64decode(data, validate=True)
    except (binascii.Error, ValueError):
        raise DocUpdateMalformed() from None
    if len(raw) > documents.MAX_ANY_UPDATE_BYTES + 16:
        raise documents.DocUpdateTooLarge(limit=documents.MAX_ANY_UPDATE_BYTES)
    return raw


def _framed(raw: bytes, outer: int, header: int) -> bytes:
    """The payload of a message ``[outer, (kind,)] varUint8Array``; exact length required."""
    if len(raw) < header + 1 or raw[0] != outer:
        raise DocUpdateMalformed()
    decoder = Decoder(raw[header:])
    try:
        payload = decoder.read_message()
    except (IndexError, RuntimeError):
        raise DocUpdateMalformed() from None
    if payload is None or decoder.length != 0:
        raise DocUpdateMalformed()
    return payload


def parse_sync(raw: bytes) -> tuple[int, bytes]:
    if len(raw) < 2 or raw[1] not in (STEP1, STEP2, UPDATE):
        raise DocUpdateMalformed()
    return raw[1], _framed(raw, SYNC, 2)


def rewrite_awareness(update: bytes, name: str) -> tuple[bytes, list[int]]:
    """Validate an awareness update and stamp the sender's real name on every state."""
    if len(update) > MAX_AWARENESS_BYTES:
        raise documents.DocUpdateTooLarge(limit=MAX_AWARENESS_BYTES)
    decoder = Decoder(update)
    encoder = Encoder()
    ids: list[int] = []
    try:
        count = decoder.read_var_uint()
        if count > MAX_AWARENESS_CLIENTS:
            raise DocUpdateMalformed()
        encoder.write_var_uint(count)
        for _ in range(count):
            client_id, clock = decoder.read_var_uint(), decoder.read_var_uint()
            state = json.loads(decoder.read_var_string() or "null")
            if state is not None:
                if not isinstance(state, dict):
                    raise DocUpdateMalformed()
                user = state.get("user")
                color = str(user.get("color", ""))[:32] if isinstance(user, dict) else ""
                state["user"] = {"name": name, "color": color}
            ids.append(client_id)
            encoder.write_var_uint(client_id)
            encoder.write_var_uint(clock)
            # ASCII JSON: pycrdt's Encoder writes the length in characters, not bytes.
            encoder.write_var_string(json.dumps(state, separators=(",", ":")))
    except (IndexError, RuntimeError, ValueError, UnicodeDecodeError):
        raise DocUpdateMalformed() from None
    if decoder.length != 0:
        raise DocUpdateMalformed()
    return encoder.to_bytes(), ids


# --- guards ---------------------------------------------------------------------------------
async def _guarded(ctx: HandlerContext, rooms: DocRooms, work: Callable[[], Awaitable[Any]]) -> Any:
    """Run ``work``. Rejected garbage is counted per participant (the runtime's limiter: across
    processes with Redis); past the limit the connection is refused for the window, and a new
    connection of the same person is refused again at its first bad message."""
    until = rooms.blocked.get(ctx.sid, 0.0)
    if until > time.monotonic():
        raise RateLimited(retry_after=int(until - time.monotonic()) + 1)
    try:
        return await work()
    except (DocUpdateMalformed, documents.DocUpdateTooLarge, *board.BAD_INPUT):
        try:
            await ctx.runtime.limiter.hit(f"docbad:{ctx.meeting_id}:{ctx.participant}", BAD_LIMIT, BAD_WINDOW)
        except RateLimited:
            now = time.monotonic()
            if len(rooms.blocked) > 10_000:
                rooms.blocked = {k: v for k, v in rooms.blocked.items() if v > now}
            rooms.blocked[ctx.sid] = now + BAD_WINDOW
        raise


def _open_for_edits(ctx: HandlerContext) -> None:
    if ctx.state is not None and ctx.state.status in ("ended", "cancelled"):
        raise DocumentReadOnly()


def _display_name(ctx: HandlerContext) -> str:
    person = ctx.state.participants.get(ctx.participant) if ctx.state is not None else None
    if person:
        return str(person.get("short_name") or person.get("name") or ctx.participant)
    if ctx.user is not None:
        return ctx.user.short_name
    return ctx.guest.name if ctx.guest is not None else ctx.participant


# --- handlers -------------------------------------------------------------------------------
@handler("doc.list", Empty)
async def doc_list(ctx: HandlerContext, msg: Empty) -> dict[str, Any]:
    # Reading never writes: the defaults are created only while the meeting is not over.
    async with ctx.runtime.db.read() as session:
        closed = await documents.meeting_closed(session, ctx.meeting_id)
        if closed:
            docs = await documents.list_documents(session, ctx.meeting_id)
            infos = [documents.document_info(d) for d in docs]
    if not closed:
        async with ctx.runtime.db.transaction() as session:
            docs = await documents.ensure_default_documents(session, ctx.meeting_id)
            infos = [documents.document_info(d) for d in docs]
    mod = ctx.is_moderator
    for info, d in zip(infos, docs, strict=True):
        info["can_edit"] = documents.can_edit(d, ctx.participant, moderator=mod)
    return {"documents": infos}


@handler("board.get", Empty)
async def board_get(ctx: HandlerContext, msg: Empty) -> dict[str, Any]:
    """The meeting's board («Доска», a document of kind ``board``), created on first use while
    the meeting is not over; then ``doc.open`` / ``doc.sync`` as for any document."""
    async with ctx.runtime.db.transaction() as session:
        row = await documents.ensure_board(session, ctx.meeting_id)
        info = documents.document_info(row)
        editable = documents.can_edit(row, ctx.participant, moderator=ctx.is_moderator)
    closed = ctx.state is not None and ctx.state.status in ("ended", "cancelled")
    return {"document": info, "can_edit": editable and not closed}


@handler("doc.open", DocRef)
async def doc_open(ctx: HandlerContext, msg: DocRef) -> dict[str, Any]:
    rooms = doc_rooms(ctx.runtime)
    async with ctx.runtime.db.read() as session:
        row = await documents.get_document(session, ctx.meeting_id, msg.doc_id)
        info = documents.document_info(row)
    await ctx.room.sio.enter_room(ctx.sid, doc_room(ctx.meeting_id, msg.doc_id))
    # Entering first: an update committed from now on reaches this connection as well.
    room, state_vector, state = await rooms.open(ctx.meeting_id, msg.doc_id)
    awareness = room.get_awareness()
    others = [cid for cid in awareness.states if cid != awareness.client_id]
    editable = documents.can_edit(row, ctx.participant, moderator=ctx.is_moderator)
    return {
        "document": info,
        "can_edit": editable and not (ctx.state is not None and ctx.state.status in ("ended", "cancelled")),
        "sync": [b64(sync_message(STEP1, state_vector)), b64(sync_message(STEP2, state))],
        "awareness": b64(bytes([AWARENESS]) + write_message(awareness.encode_awareness_update(others)))
        if others
        else None,
    }


@handler("doc.sync", DocData)
async def doc_sync(ctx: HandlerContext, msg: DocData) -> dict[str, Any]:
    rooms = doc_rooms(ctx.runtime)
    return await _guarded(ctx, rooms, lambda: _sync(ctx, rooms, msg))


async def _sync(ctx: HandlerContext, rooms: DocRooms, msg: DocData) -> dict[str, Any]:
    kind, payload = parse_sync(_decode(msg.data))
    if kind == STEP1:
        diff = await rooms.diff_since(ctx.meeting_id, msg.doc_id, payload)
        return {"reply": b64(sync_message(STEP2, diff))}
    if payload == EMPTY_UPDATE:
        return {}
    moderator = ctx.is_moderator

    def check(row: MeetingDocument) -> None:
        _open_for_edits(ctx)
        if not documents.can_edit(row, ctx.participant, moderator=moderator):
            raise DocumentReadOnly()

    if rooms.emit is None:
        rooms.emit = emitter(ctx.room)
    seq = await rooms.apply(ctx.meeting_id, msg.doc_id, payload, check, ctx.sid)
    return {"seq": seq}


@handler("doc.awareness", DocData)
async def doc_awareness(ctx: HandlerContext, msg: DocData) -> dict[str, Any]:
    rooms = doc_rooms(ctx.runtime)
    return await _guarded(ctx, rooms, lambda: _awareness(ctx, rooms, msg))


async def _awareness(ctx: HandlerContext, rooms: DocRooms, msg: DocData) -> dict[str, Any]:
    update, ids = rewrite_awareness(_framed(_decode(msg.data), AWARENESS, 1), _display_name(ctx))
    room = rooms.held(msg.doc_id)
    if room is None or room.meeting_id != ctx.meeting_id:
        raise AppError("doc_not_open", status=409)
    mine = room.awareness_clients.setdefault(ctx.sid, set())
    if len(mine | set(ids)) > MAX_AWARENESS_CLIENTS:
        raise DocUpdateMalformed()
    mine.update(ids)
    try:
        # A null state (a removed client) deletes that client's state here too.
        room.get_awareness().apply_awareness_update(update, ctx.sid)
    except (IndexError, RuntimeError, ValueError, TypeError, KeyError):
        raise DocUpdateMalformed() from None
    data = b64(bytes([AWARENESS]) + write_message(update))
    target = doc_room(ctx.meeting_id, msg.doc_id)
    await ctx.room.broadcaster.emit("doc.awareness", {"doc_id": msg.doc_id, "data": data}, target, ctx.sid)
    return {}


@handler("doc.close", DocRef)
async def doc_close(ctx: HandlerContext, msg: DocRef) -> dict[str, Any]:
    await ctx.room.sio.leave_room(ctx.sid, doc_room(ctx.meeting_id, msg.doc_id))
    room = doc_rooms(ctx.runtime).held(msg.doc_id)
    if room is not None and room.meeting_id == ctx.meeting_id:
        ids = room.awareness_clients.pop(ctx.sid, set())
        if ids:
            await announce_removal(ctx.room, room, sorted(ids), ctx.sid)
    return {}


async def announce_removal(service: RoomService, room: DocRoom, ids: list[int], skip_sid: str | None) -> None:
    """Tell the document's room that these awareness states are gone (a tab closed)."""
    encoder = Encoder()
    encoder.write_var_uint(len(ids))
    for cid in ids:
        clock = 0
        if room.awareness is not None:
            clock = int(room.awareness.meta.get(cid, {}).get("clock", 0)) + 1
            room.awareness.remove_awareness_states([cid], "closed")
        encoder.write_var_uint(cid)
        encoder.write_var_uint(clock)
        encoder.write_var_string("null")
    data = {"doc_id": room.document_id, "data": b64(bytes([AWARENESS]) + write_message(encoder.to_bytes()))}
    await service.broadcaster.emit(
        "doc.awareness", data, doc_room(room.meeting_id, room.document_id), skip_sid
    )


@handler("doc.create", DocCreate, moderator=True)
async def doc_create(ctx: HandlerContext, msg: DocCreate) -> dict[str, Any]:
    async with ctx.runtime.db.transaction() as session:
        doc = await documents.create_document(session, ctx.meeting_id, msg.title, msg.agenda_item_id)
        info = documents.document_info(doc)
    await ctx.emit_to_room("doc.changed", info)
    return {"document": info}


@handler("doc.policy", DocPolicy, moderator=True)
async def doc_policy(ctx: HandlerContext, msg: DocPolicy) -> dict[str, Any]:
    async with ctx.runtime.db.transaction() as session:
        doc = await documents.set_edit_policy(
            session, ctx.meeting_id, msg.doc_id, msg.edit_policy, list(msg.editors)
        )
        info = documents.document_info(doc)
    await ctx.emit_to_room("doc.changed", info)
    return {"document": info}


@handler("doc.snapshot", Empty, moderator=True)
async def doc_snapshot(ctx: HandlerContext, msg: Empty) -> dict[str, Any]:
    meeting_id, actor = ctx.meeting_id, ctx.participant
    events = await ctx.commit_events(
        lambda session, state: documents.snapshot_documents(session, meeting_id, "manual", actor=actor)
    )
    return {"seqs": [e.seq for e in events]}
