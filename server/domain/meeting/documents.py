"""Shared documents of a meeting: defaults, edit rights, the durable update history.

A document's content is a Yjs (CRDT) document whose rich text lives in the XmlFragment named
``prosemirror`` (the y-prosemirror binding). The server stores every accepted update as a row
(``doc_updates``) with a per-document gap-free ``seq``: :func:`lock_document` takes the next
number under the document row's lock, so concurrent writers (several processes) queue and the
commit order is the seq order. Compaction merges the history into ``doc_snapshots``.

Like every domain module: plain functions over a session, they never commit.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from pycrdt import Doc
from sqlalchemy import delete, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from server.db.models import AgendaItem, Meeting, MeetingStatus
from server.db.models.documents import DocSnapshot, DocumentKind, DocUpdate, EditPolicy, MeetingDocument
from server.domain.meeting import board
from server.domain.meeting.doc_text import document_markdown
from server.domain.meeting.meeting_log import LoggedEvent, append_events
from server.errors import AppError

# Setting-like limits (bytes): one update as sent by a client, and a whole document.
MAX_UPDATE_BYTES = 64 * 1024
MAX_DOCUMENT_BYTES = 1024 * 1024
# A board (pictures travel inside its updates) has its own, larger limits: board.py.
MAX_ANY_UPDATE_BYTES = max(MAX_UPDATE_BYTES, board.MAX_UPDATE_BYTES)
# Updates kept as separate rows before they are merged into the snapshot.
COMPACT_EVERY = 100

NOTES_TITLE = "Заметки заседания"
DECISION_TITLE = "Проект решения"
FRAGMENT = "prosemirror"


class DocumentNotFound(AppError):
    code, status = "doc_not_found", 404


class DocumentReadOnly(AppError):
    code, status = "doc_read_only", 403


class DocUpdateMalformed(AppError):
    code, status = "doc_update_malformed", 400


class DocUpdateTooLarge(AppError):
    code, status = "doc_update_too_large", 413


class DocumentTooLarge(AppError):
    code, status = "doc_too_large", 413


class DocOutOfSync(AppError):
    """The update builds on changes the server does not have (e.g. a rejected earlier one):
    the client must open the document afresh."""

    code, status = "doc_out_of_sync", 409


def limits(kind: DocumentKind | str) -> tuple[int, int]:
    """(largest update, largest document) in bytes for a document of this kind."""
    if kind == DocumentKind.board:
        return board.MAX_UPDATE_BYTES, board.MAX_BOARD_BYTES
    return MAX_UPDATE_BYTES, MAX_DOCUMENT_BYTES


def _varuints(data: bytes, count: int) -> list[int]:
    out: list[int] = []
    value, shift, i = 0, 0, 0
    while len(out) < count:
        if i >= len(data):
            raise ValueError("truncated")
        byte = data[i]
        i += 1
        value |= (byte & 0x7F) << shift
        shift += 7
        if byte < 0x80:
            out.append(value)
            value, shift = 0, 0
    return out


def state_vector(encoded: bytes) -> dict[int, int]:
    """Decode a Yjs state vector (``doc.get_state()``): client id -> next clock."""
    (count,) = _varuints(encoded, 1)
    numbers = _varuints(encoded, 1 + 2 * count)[1:]
    return dict(zip(numbers[::2], numbers[1::2], strict=True))


def require_in_sync(update: bytes, known: dict[int, int]) -> None:
    """Refuse an update whose first block starts past what the document has of its client
    (its predecessors are missing: it would wait, invisible, for ever). Clients send their
    own changes one client per update, so the first block is the one that matters."""
    try:
        clients, structs, client, clock = _varuints(update, 4)
    except ValueError:
        return  # a delete-only update, or too short to tell: integration decides
    if clients and structs and clock > known.get(client, 0):
        raise DocOutOfSync()


# --- the documents of a meeting ------------------------------------------------------------
async def list_documents(session: AsyncSession, meeting_id: int) -> list[MeetingDocument]:
    rows = await session.scalars(
        select(MeetingDocument).where(MeetingDocument.meeting_id == meeting_id).order_by(MeetingDocument.id)
    )
    return list(rows)


async def meeting_closed(session: AsyncSession, meeting_id: int) -> bool:
    """Whether the meeting is over (ended or cancelled): its documents are then only read."""
    status = await session.scalar(select(Meeting.status).where(Meeting.id == meeting_id))
    if status is None:
        raise DocumentNotFound()
    return status in (MeetingStatus.ended, MeetingStatus.cancelled)


async def ensure_default_documents(session: AsyncSession, meeting_id: int) -> list[MeetingDocument]:
    """The notes and one draft decision per agenda item exist (idempotent).

    Takes the meeting row's lock first (SQLite: the transaction already holds the write lock),
    so two processes opening the documents at once create them once. An ended or cancelled
    meeting gets nothing new: its documents are only read (``readable_documents``).
    """
    meeting = await session.scalar(select(Meeting).where(Meeting.id == meeting_id).with_for_update())
    if meeting is None:
        raise DocumentNotFound()
    docs = await list_documents(session, meeting_id)
    if meeting.status in (MeetingStatus.ended, MeetingStatus.cancelled):
        return docs
    items = list(
        await session.scalars(
            select(AgendaItem).where(AgendaItem.meeting_id == meeting_id).order_by(AgendaItem.position)
        )
    )
    added: list[MeetingDocument] = []
    if not any(d.kind == DocumentKind.notes for d in docs):
        added.append(MeetingDocument(meeting_id=meeting_id, title=NOTES_TITLE, kind=DocumentKind.notes))
    covered = {d.agenda_item_id for d in docs if d.kind == DocumentKind.decision}
    for item in items:
        if item.id not in covered:
            added.append(
                MeetingDocument(
                    meeting_id=meeting_id,
                    title=f"{DECISION_TITLE}: {item.position}. {item.title}"[:300],
                    kind=DocumentKind.decision,
                    agenda_item_id=item.id,
                )
            )
    if added:
        for d in added:
            d.edit_policy, d.editors, d.seq = EditPolicy.everyone, [], 0
        session.add_all(added)
        await session.flush()
        docs = await list_documents(session, meeting_id)
    return docs


async def ensure_board(session: AsyncSession, meeting_id: int) -> MeetingDocument:
    """The meeting's board («Доска»), created on first use under the meeting row's lock (so two
    processes create it once); an ended meeting gets none it did not have."""
    meeting = await session.scalar(select(Meeting).where(Meeting.id == meeting_id).with_for_update())
    if meeting is None:
        raise DocumentNotFound()
    found = await session.scalar(
        select(MeetingDocument)
        .where(MeetingDocument.meeting_id == meeting_id, MeetingDocument.kind == DocumentKind.board)
        .order_by(MeetingDocument.id)
        .limit(1)
    )
    if found is not None:
        return found
    if meeting.status in (MeetingStatus.ended, MeetingStatus.cancelled):
        raise DocumentNotFound()
    doc = MeetingDocument(
        meeting_id=meeting_id,
        title=board.BOARD_TITLE,
        kind=DocumentKind.board,
        edit_policy=EditPolicy.everyone,
        editors=[],
        seq=0,
    )
    session.add(doc)
    await session.flush()
    return doc


async def get_document(session: AsyncSession, meeting_id: int, document_id: int) -> MeetingDocument:
    doc = await session.get(MeetingDocument, document_id)
    if doc is None or doc.meeting_id != meeting_id:
        raise DocumentNotFound()
    return doc


async def create_document(
    session: AsyncSession, meeting_id: int, title: str, agenda_item_id: int | None = None
) -> MeetingDocument:
    """A further document added by a moderator."""
    if agenda_item_id is not None:
        item = await session.get(AgendaItem, agenda_item_id)
        if item is None or item.meeting_id != meeting_id:
            raise AppError("agenda_item_unknown", status=404)
    doc = MeetingDocument(
        meeting_id=meeting_id,
        title=title.strip()[:300],
        kind=DocumentKind.other,
        agenda_item_id=agenda_item_id,
        edit_policy=EditPolicy.everyone,
        editors=[],
        seq=0,
    )
    session.add(doc)
    await session.flush()
    return doc


def can_edit(doc: MeetingDocument, participant: str, *, moderator: bool) -> bool:
    """Moderators always; guests only when named; members as the document's policy says."""
    if moderator:
        return True
    if participant in (doc.editors or []):
        return True
    return doc.edit_policy == EditPolicy.everyone and participant.startswith("u:")


async def set_edit_policy(
    session: AsyncSession, meeting_id: int, document_id: int, policy: str, editors: list[str]
) -> MeetingDocument:
    doc = await get_document(session, meeting_id, document_id)
    doc.edit_policy = EditPolicy(policy)
    doc.editors = sorted(set(editors))
    await session.flush()
    return doc


def document_info(doc: MeetingDocument) -> dict[str, Any]:
    """The wire form of a document's metadata."""
    return {
        "id": doc.id,
        "title": doc.title,
        "kind": str(doc.kind),
        "agenda_item_id": doc.agenda_item_id,
        "edit_policy": str(doc.edit_policy),
        "editors": list(doc.editors or []),
    }


# --- the durable history -------------------------------------------------------------------
async def lock_document(session: AsyncSession, meeting_id: int, document_id: int) -> MeetingDocument:
    """The document row, locked for this transaction (SQLite: BEGIN IMMEDIATE already is):
    writers of one document queue here, on any number of processes."""
    doc = await session.scalar(
        select(MeetingDocument).where(MeetingDocument.id == document_id).with_for_update()
    )
    if doc is None or doc.meeting_id != meeting_id:
        raise DocumentNotFound()
    return doc


@dataclass
class History:
    """What a process lacks of a document's stored history after the seq it has."""

    snapshot: bytes | None  # the compacted state, when it is newer than the caller's seq
    snapshot_seq: int
    updates: list[tuple[int, bytes]]  # (seq, update) after max(caller's seq, snapshot's seq)

    @property
    def last_seq(self) -> int:
        return self.updates[-1][0] if self.updates else self.snapshot_seq

    @property
    def empty(self) -> bool:
        return self.snapshot is None and not self.updates


async def history_after(session: AsyncSession, document_id: int, seq: int) -> History:
    snap_seq = (
        await session.scalar(select(DocSnapshot.seq).where(DocSnapshot.document_id == document_id)) or 0
    )
    snapshot = None
    if snap_seq > seq:
        snapshot = await session.scalar(
            select(DocSnapshot.state).where(DocSnapshot.document_id == document_id)
        )
    rows = (
        await session.execute(
            select(DocUpdate.seq, DocUpdate.update)
            .where(DocUpdate.document_id == document_id, DocUpdate.seq > max(seq, snap_seq))
            .order_by(DocUpdate.seq)
        )
    ).all()
    return History(snapshot, snap_seq, [(s, u) for s, u in rows])


async def stored_size(session: AsyncSession, document_id: int) -> tuple[int, int]:
    """(bytes of the stored history, number of updates not yet compacted)."""
    snap = await session.scalar(
        select(func.length(DocSnapshot.state)).where(DocSnapshot.document_id == document_id)
    )
    count, total = (
        await session.execute(
            select(func.count(), func.coalesce(func.sum(func.length(DocUpdate.update)), 0)).where(
                DocUpdate.document_id == document_id
            )
        )
    ).one()
    return int(snap or 0) + int(total), int(count)


async def store_update(session: AsyncSession, document: MeetingDocument, update: bytes) -> int:
    """Append an update under the next seq of the (locked) document; return the seq."""
    document.seq += 1
    session.add(DocUpdate(document_id=document.id, seq=document.seq, update=update))
    return document.seq


async def compact(session: AsyncSession, document_id: int, seq: int, state: bytes) -> None:
    """Replace the history up to ``seq`` by ``state`` (the merge of all of it)."""
    snap = await session.get(DocSnapshot, document_id)
    if snap is None:
        session.add(DocSnapshot(document_id=document_id, seq=seq, state=state))
    else:
        snap.seq, snap.state = seq, state
    await session.execute(delete(DocUpdate).where(DocUpdate.document_id == document_id, DocUpdate.seq <= seq))
    await session.flush()


async def load_doc(session: AsyncSession, document_id: int) -> tuple[Doc, History]:
    """The document as stored: the snapshot plus every later update."""
    history = await history_after(session, document_id, -1)
    doc: Doc = Doc()
    if history.snapshot is not None:
        doc.apply_update(history.snapshot)
    for _, update in history.updates:
        doc.apply_update(update)
    return doc, history


async def document_text(session: AsyncSession, document_id: int) -> str:
    doc, _ = await load_doc(session, document_id)
    return document_markdown(doc)


# --- the meeting record ----------------------------------------------------------------------
async def snapshot_documents(
    session: AsyncSession,
    meeting_id: int,
    reason: str,
    agenda_item_id: int | None = None,
    actor: str = "system",
) -> list[LoggedEvent]:
    """Append ``doc.snapshot`` events with the documents' current text (from storage, so any
    process gives the same text). At an agenda item's end: the item's documents, the notes and
    the board; otherwise every document. Empty documents are skipped. A board's event holds the
    JSON description of its pages (``board``, server/domain/meeting/board.py) and a short text."""
    docs = await list_documents(session, meeting_id)
    if reason == "agenda_item_ended":
        shared = (DocumentKind.notes, DocumentKind.board)
        docs = [d for d in docs if d.agenda_item_id == agenda_item_id or d.kind in shared]
    items: list[tuple[str, str, dict[str, Any]]] = []
    for d in docs:
        payload: dict[str, Any]
        if d.kind == DocumentKind.board:
            ydoc, _ = await load_doc(session, d.id)
            description = board.describe(ydoc)
            if board.is_empty(description):
                continue
            payload = {"text": board.summary(description), "kind": "board", "board": description}
        else:
            text = await document_text(session, d.id)
            if not text.strip():
                continue
            payload = {"text": text}
        payload |= {"doc_id": d.id, "title": d.title, "agenda_item_id": d.agenda_item_id, "reason": reason}
        items.append(("doc.snapshot", actor, payload))
    return await append_events(session, meeting_id, items)


async def snapshots_after(
    session: AsyncSession, meeting_id: int, events: list[LoggedEvent]
) -> list[LoggedEvent]:
    """The ``doc.snapshot`` events due after ``events`` were appended (an agenda item or the
    meeting ended): call in the same transaction, right after the action that appended them."""
    out: list[LoggedEvent] = []
    for event in events:
        if event.type == "agenda.item.ended":
            out += await snapshot_documents(
                session, meeting_id, "agenda_item_ended", event.payload["item_id"]
            )
        elif event.type == "meeting.ended":
            out += await snapshot_documents(session, meeting_id, "meeting_ended")
    return out
