"""Full-text search in Russian over ``search_entries``, the same API on both databases.

PostgreSQL: ``to_tsvector('russian', title || ' ' || body)`` with a GIN expression index and
``websearch_to_tsquery('russian', …)``; ranking by ``ts_rank``.
SQLite: an FTS5 table ``search_fts`` (rowid = search_entries.id) holding the text already
stemmed with the Snowball Russian (and English) stemmer, queried with stemmed terms; ranking
by bm25. Either way «урок» finds «уроки» and «уроков».

Owners keep their kind's rows current inside their own transactions:

    await index_entry(session, kind="resource", object_id=r.id, association_id=r.association_id,
                      title=r.title, body=r.description, url=f"/resources/{r.id}")
    await remove_entry(session, "resource", r.id)          # rejected / deleted / hidden

and query with the set of associations the reader may see (``None`` only for administrators):

    hits = await search(session, "уроки", association_ids={1, 2}, kinds={"resource"})
    ids_q = matching_ids("resource", "уроки")                # a Select of (object_id, rank)
"""

from __future__ import annotations

import re
from collections.abc import Collection
from dataclasses import dataclass
from functools import cache
from typing import Any

import snowballstemmer
from sqlalchemy import Select, delete, func, literal_column, or_, select, text
from sqlalchemy.ext.asyncio import AsyncSession

from server.db.models.search import SearchEntry

MAX_QUERY_CHARS = 200
_WORD = re.compile(r"[0-9a-zа-яё]+", re.IGNORECASE)


@cache
def _stemmers() -> tuple[Any, Any]:
    return snowballstemmer.stemmer("russian"), snowballstemmer.stemmer("english")


def stem_words(text_: str) -> list[str]:
    ru, en = _stemmers()
    out: list[str] = []
    for word in _WORD.findall(text_.lower().replace("ё", "е")):
        out.append(ru.stemWord(word) if re.search("[а-я]", word) else en.stemWord(word))
    return out


def _is_sqlite(session: AsyncSession) -> bool:
    return session.bind is not None and session.bind.dialect.name == "sqlite"


async def create_sqlite_index(conn: Any) -> None:
    """The FTS5 table (created by the migration; also used by tests that build tables directly)."""
    await conn.execute(text("CREATE VIRTUAL TABLE IF NOT EXISTS search_fts USING fts5(words)"))


async def index_entry(
    session: AsyncSession,
    *,
    kind: str,
    object_id: int,
    association_id: int | None,
    title: str,
    body: str = "",
    url: str,
) -> None:
    """Insert or update the entry of one object (call inside the transaction that changes it)."""
    entry = await session.scalar(
        select(SearchEntry).where(SearchEntry.kind == kind, SearchEntry.object_id == object_id)
    )
    if entry is None:
        entry = SearchEntry(kind=kind, object_id=object_id)
        session.add(entry)
    entry.association_id = association_id
    entry.title = title[:500]
    entry.body = body
    entry.url = url
    await session.flush()
    if _is_sqlite(session):
        words = " ".join(stem_words(f"{title} {body}"))
        await session.execute(text("DELETE FROM search_fts WHERE rowid = :id"), {"id": entry.id})
        await session.execute(
            text("INSERT INTO search_fts(rowid, words) VALUES (:id, :words)"),
            {"id": entry.id, "words": words},
        )


async def remove_entry(session: AsyncSession, kind: str, object_id: int) -> None:
    entry_id = await session.scalar(
        select(SearchEntry.id).where(SearchEntry.kind == kind, SearchEntry.object_id == object_id)
    )
    if entry_id is None:
        return
    if _is_sqlite(session):
        await session.execute(text("DELETE FROM search_fts WHERE rowid = :id"), {"id": entry_id})
    await session.execute(delete(SearchEntry).where(SearchEntry.id == entry_id))


def _fts_query(query: str) -> str:
    """An FTS5 MATCH expression: every stemmed word must occur (prefix match), quoted."""
    terms = stem_words(query[:MAX_QUERY_CHARS])[:16]
    return " AND ".join(f'"{t}"*' for t in terms)


_PG_DOC = "to_tsvector('russian', search_entries.title || ' ' || search_entries.body)"


def _matching(dialect: str, query: str) -> Select[Any]:
    """A Select of (SearchEntry.id, rank) for entries matching ``query``; better rank = larger."""
    if dialect == "sqlite":
        expr = _fts_query(query) or '""'
        rowid: Any = literal_column("search_fts.rowid")
        bm25: Any = literal_column("bm25(search_fts)")
        return (
            select(rowid.label("id"), (-bm25).label("rank"))
            .select_from(text("search_fts"))
            .where(text("search_fts MATCH :q").bindparams(q=expr))
        )
    tsq = func.websearch_to_tsquery(text("'russian'"), query[:MAX_QUERY_CHARS])
    doc: Any = literal_column(_PG_DOC)
    return select(SearchEntry.id.label("id"), func.ts_rank(doc, tsq).label("rank")).where(doc.op("@@")(tsq))


@dataclass(frozen=True, slots=True)
class Hit:
    kind: str
    object_id: int
    association_id: int | None
    title: str
    url: str
    snippet: str
    rank: float


def _snippet(body: str, query: str, width: int = 200) -> str:
    stems = stem_words(query)
    low = body.lower().replace("ё", "е")
    pos = -1
    for st in stems:
        pos = low.find(st)
        if pos >= 0:
            break
    start = max(0, pos - width // 3) if pos >= 0 else 0
    piece = body[start : start + width].strip()
    return ("…" if start > 0 else "") + piece + ("…" if start + width < len(body) else "")


def _dialect(session: AsyncSession) -> str:
    return "sqlite" if _is_sqlite(session) else "postgresql"


def matching_ids(session: AsyncSession, kind: str, query: str) -> Select[Any]:
    """(object_id, rank) of one kind's entries matching ``query``: join it to your own table."""
    m = _matching(_dialect(session), query).subquery()
    return (
        select(SearchEntry.object_id.label("object_id"), m.c.rank.label("rank"))
        .join(m, m.c.id == SearchEntry.id)
        .where(SearchEntry.kind == kind)
    )


async def search(
    session: AsyncSession,
    query: str,
    *,
    association_ids: Collection[int] | None,
    kinds: Collection[str] | None = None,
    limit: int = 50,
    offset: int = 0,
) -> list[Hit]:
    """Entries matching ``query`` that the reader may see, best first.

    ``association_ids``: the associations whose members-only entries the reader may see
    (``None`` = all, for administrators); entries without an association are seen by all.
    """
    if not stem_words(query):
        return []
    m = _matching(_dialect(session), query).subquery()
    stmt = select(SearchEntry, m.c.rank).join(m, m.c.id == SearchEntry.id)
    if association_ids is not None:
        stmt = stmt.where(
            or_(SearchEntry.association_id.is_(None), SearchEntry.association_id.in_(list(association_ids)))
        )
    if kinds is not None:
        stmt = stmt.where(SearchEntry.kind.in_(list(kinds)))
    stmt = stmt.order_by(m.c.rank.desc(), SearchEntry.id.desc()).limit(limit).offset(offset)
    rows = (await session.execute(stmt)).all()
    return [
        Hit(e.kind, e.object_id, e.association_id, e.title, e.url, _snippet(e.body, query), float(rank or 0))
        for e, rank in rows
    ]
