"""One in-memory pycrdt document per shared document, per process, kept exact from storage.

The database is the truth: every accepted update is committed (``doc_updates``, numbered by a
per-document gap-free ``seq`` under the document row's lock) before it is applied in memory,
acknowledged or fanned out. A process's copy is brought up to date from storage (snapshot plus
the updates after the seq it has) whenever it is used, under the same row lock when it takes
an update, so every process that holds a document applies the same update stream (see
docs/architecture-documents.md). Updates commute, so reading one twice is harmless.

Each room keeps a *shadow* copy: an update is applied to the shadow first, so an update that
fails to integrate never touches the document others read; a failed shadow is rebuilt from the
main copy.
"""

from __future__ import annotations

import asyncio
import logging
from collections import OrderedDict
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from pycrdt import Awareness, Doc, merge_updates

from server.db.models.documents import DocumentKind, MeetingDocument
from server.domain.meeting import board, documents
from server.domain.meeting.documents import DocumentTooLarge, DocUpdateMalformed
from server.errors import AppError

if TYPE_CHECKING:
    from server.runtime import Runtime

log = logging.getLogger("smo.docs")
SERVICE_KEY = "documents"
MAX_ROOMS = 500
EMPTY_UPDATE = b"\x00\x00"


def _apply(doc: Doc, update: bytes) -> None:
    """Apply an update; any failure (including a Rust panic surfacing as BaseException
    subclasses other than cancellation) becomes a typed malformed-update error."""
    try:
        doc.apply_update(update)
    except (KeyboardInterrupt, SystemExit, asyncio.CancelledError):
        raise
    except BaseException as exc:
        raise DocUpdateMalformed() from exc


@dataclass
class _Pending:
    update: bytes
    check: Callable[[MeetingDocument], None]
    sid: str | None
    future: asyncio.Future[int]
    seq: int = 0


@dataclass
class DocRoom:
    meeting_id: int
    document_id: int
    doc: Doc = field(default_factory=Doc)
    shadow: Doc | None = None
    seq: int = 0  # last stored update applied here
    stored_bytes: int = 0
    uncompacted: int = 0
    loaded: bool = False
    lock: asyncio.Lock = field(default_factory=asyncio.Lock)
    queue: list[_Pending] = field(default_factory=list)
    worker: asyncio.Task[None] | None = None
    awareness: Awareness | None = None
    # Awareness client ids announced through each connection (removed when it closes).
    awareness_clients: dict[str, set[int]] = field(default_factory=dict)

    def shadow_doc(self) -> Doc:
        if self.shadow is None:
            shadow: Doc = Doc()
            shadow.apply_update(self.doc.get_update())
            self.shadow = shadow
        return self.shadow

    def absorb(self, history: documents.History) -> None:
        """Apply stored history this copy lacks (to the main copy and the shadow)."""
        chunks = ([history.snapshot] if history.snapshot is not None else []) + [
            u for _, u in history.updates
        ]
        for chunk in chunks:
            self.doc.apply_update(chunk)
            if self.shadow is not None:
                self.shadow.apply_update(chunk)
        self.seq = max(self.seq, history.last_seq)

    def reset(self) -> None:
        """Forget everything: storage has less than this copy (the row was recreated)."""
        self.doc, self.shadow, self.awareness = Doc(), None, None
        self.seq, self.loaded = 0, False

    @property
    def busy(self) -> bool:
        return self.lock.locked() or bool(self.queue) or bool(self.awareness_clients)

    def get_awareness(self) -> Awareness:
        if self.awareness is None:
            self.awareness = Awareness(self.doc)
            self.awareness.set_local_state(None)  # the server itself is nobody
        return self.awareness


class DocRooms:
    """The documents held by this process (one service per runtime)."""

    max_batch = 200

    def __init__(self, runtime: Runtime) -> None:
        self.runtime = runtime
        # Sends a stored update to the document's Socket.IO room: (room, update, skip_sid).
        self.emit: Callable[[DocRoom, bytes, str | None], Awaitable[None]] | None = None
        self._rooms: OrderedDict[int, DocRoom] = OrderedDict()
        # Connection (sid) -> monotonic time until which its messages are refused (garbage).
        self.blocked: dict[str, float] = {}

    def _room(self, meeting_id: int, document_id: int) -> DocRoom:
        room = self._rooms.get(document_id)
        if room is None or room.meeting_id != meeting_id:
            room = DocRoom(meeting_id, document_id)
            self._rooms[document_id] = room
            self._evict()
        self._rooms.move_to_end(document_id)
        return room

    def _evict(self) -> None:
        while len(self._rooms) > MAX_ROOMS:
            oldest_id, oldest = next(iter(self._rooms.items()))
            if oldest.busy:
                self._rooms.move_to_end(oldest_id)
                if all(r.busy for r in self._rooms.values()):
                    return
                continue
            del self._rooms[oldest_id]

    def clear(self) -> None:
        """Forget every idle in-memory copy (they reload from storage when next used)."""
        for document_id, room in list(self._rooms.items()):
            if not room.busy:
                del self._rooms[document_id]

    def rooms(self) -> list[DocRoom]:
        return list(self._rooms.values())

    def held(self, document_id: int) -> DocRoom | None:
        return self._rooms.get(document_id)

    async def _refresh(self, room: DocRoom) -> None:
        """Bring the room up to date from storage (caller holds ``room.lock``)."""
        async with self.runtime.db.read() as session:
            row = await documents.get_document(session, room.meeting_id, room.document_id)
            if row.seq < room.seq:
                room.reset()
            history = await documents.history_after(
                session, room.document_id, room.seq if room.loaded else -1
            )
            if not history.empty or not room.loaded:
                room.absorb(history)
                room.stored_bytes, room.uncompacted = await documents.stored_size(session, room.document_id)
        room.loaded = True

    async def open(self, meeting_id: int, document_id: int) -> tuple[DocRoom, bytes, bytes]:
        """The room, up to date, with its state vector and full state (for sync step 1 and 2)."""
        room = self._room(meeting_id, document_id)
        async with room.lock:
            await self._refresh(room)
            return room, room.doc.get_state(), room.doc.get_update()

    async def diff_since(self, meeting_id: int, document_id: int, state_vector: bytes) -> bytes:
        """What a client with ``state_vector`` lacks (the answer to its sync step 1)."""
        room = self._room(meeting_id, document_id)
        async with room.lock:
            await self._refresh(room)
            try:
                return room.doc.get_update(state_vector)
            except (KeyboardInterrupt, SystemExit, asyncio.CancelledError):
                raise
            except BaseException as exc:
                raise DocUpdateMalformed() from exc

    async def apply(
        self,
        meeting_id: int,
        document_id: int,
        update: bytes,
        check: Callable[[MeetingDocument], None],
        sid: str | None = None,
    ) -> int:
        """Store ``update`` durably, apply it, fan it out; return its seq.

        ``check(document)`` runs under the document's row lock (the edit right). Updates that
        arrive while a transaction of the same document is running are stored together in
        the next one (group commit: one fsync) and fanned out as one merged update; each
        sender's acknowledgement still waits for the commit of its own update."""
        if len(update) > documents.MAX_ANY_UPDATE_BYTES:  # the kind's own limit: _commit
            raise documents.DocUpdateTooLarge(limit=documents.MAX_ANY_UPDATE_BYTES)
        room = self._room(meeting_id, document_id)
        future: asyncio.Future[int] = asyncio.get_running_loop().create_future()
        room.queue.append(_Pending(update, check, sid, future))
        if room.worker is None or room.worker.done():
            room.worker = asyncio.create_task(self._drain(room))
        return await future

    async def _drain(self, room: DocRoom) -> None:
        while room.queue:
            batch, room.queue = room.queue[: self.max_batch], room.queue[self.max_batch :]
            try:
                async with room.lock:
                    accepted = await self._commit(room, batch)
                await self._fan_out(room, accepted)
            except Exception as exc:
                log.exception("document update batch failed", extra={"document": room.document_id})
                for p in batch:
                    if not p.future.done():
                        p.future.set_exception(exc if isinstance(exc, AppError) else AppError())
            for p in batch:
                if not p.future.done():
                    p.future.set_result(p.seq)

    async def _commit(self, room: DocRoom, batch: list[_Pending]) -> list[_Pending]:
        """One transaction for the batch; returns the accepted updates (rejected ones have
        their future failed with a typed error and touch nothing)."""
        if not room.loaded:
            await self._refresh(room)
        accepted: list[_Pending] = []
        try:
            async with self.runtime.db.transaction() as session:
                row = await documents.lock_document(session, room.meeting_id, room.document_id)
                if row.seq < room.seq:
                    room.reset()
                history = await documents.history_after(session, room.document_id, room.seq)
                if not history.empty or not room.loaded:
                    room.absorb(history)
                    room.stored_bytes, room.uncompacted = await documents.stored_size(
                        session, room.document_id
                    )
                    room.loaded = True
                stored, uncompacted, compact_due = room.stored_bytes, room.uncompacted, False
                max_update, max_document = documents.limits(row.kind)
                for p in batch:
                    try:
                        p.check(row)
                        if len(p.update) > max_update:
                            raise documents.DocUpdateTooLarge(limit=max_update)
                        self._try_on_shadow(room, p.update, accepted, row.kind == DocumentKind.board)
                        if stored + len(p.update) > max_document:
                            if len(room.shadow_doc().get_update()) > max_document:
                                self._rebuild_shadow(room, accepted)
                                raise DocumentTooLarge(limit=max_document)
                            compact_due = True
                    except AppError as err:
                        p.future.set_exception(err)
                        continue
                    p.seq = await documents.store_update(session, row, p.update)
                    accepted.append(p)
                    stored, uncompacted = stored + len(p.update), uncompacted + 1
                if accepted and (compact_due or uncompacted >= documents.COMPACT_EVERY):
                    state = room.shadow_doc().get_update()
                    await documents.compact(session, room.document_id, row.seq, state)
                    stored, uncompacted = len(state), 0
                await session.flush()
        except BaseException:
            room.shadow = None  # rebuilt from the intact main copy when next needed
            raise
        for p in accepted:
            room.doc.apply_update(p.update)
        if accepted:
            room.seq, room.stored_bytes, room.uncompacted = accepted[-1].seq, stored, uncompacted
        return accepted

    def _try_on_shadow(self, room: DocRoom, update: bytes, accepted: list[_Pending], is_board: bool) -> None:
        shadow = room.shadow_doc()
        known = documents.state_vector(shadow.get_state())
        try:
            if is_board:  # what it writes must be board elements, pages and pictures
                board.checked_apply(shadow, update, _apply)
            else:
                _apply(shadow, update)
            documents.require_in_sync(update, known)
        except AppError:
            self._rebuild_shadow(room, accepted)
            raise

    def _rebuild_shadow(self, room: DocRoom, accepted: list[_Pending]) -> None:
        """The main copy plus this batch's accepted updates (not yet in the main copy)."""
        room.shadow = None
        shadow = room.shadow_doc()
        for p in accepted:
            shadow.apply_update(p.update)

    async def _fan_out(self, room: DocRoom, accepted: list[_Pending]) -> None:
        if not accepted or self.emit is None:
            return
        update = accepted[0].update if len(accepted) == 1 else merge_updates(*(p.update for p in accepted))
        senders = {p.sid for p in accepted}
        skip = senders.pop() if len(senders) == 1 else None
        try:
            await self.emit(room, update, skip)
        except Exception:
            log.exception("document fan-out failed", extra={"document": room.document_id})

    async def shutdown(self) -> None:
        """Let batches already taken finish (their senders are waiting for the commit)."""
        workers = [r.worker for r in self._rooms.values() if r.worker is not None and not r.worker.done()]
        if workers:
            await asyncio.wait(workers, timeout=10)


def doc_rooms(runtime: Runtime) -> DocRooms:
    service = runtime.services.get(SERVICE_KEY)
    if service is None:
        service = runtime.services[SERVICE_KEY] = DocRooms(runtime)
    assert isinstance(service, DocRooms)
    return service
