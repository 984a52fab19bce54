"""A small reader of SQLite's write-ahead log, for tests that play the attacker who copies the
database files: the frames of each commit, and the database as it was after each commit.

Format (https://www.sqlite.org/fileformat.html#the_write_ahead_log): a 32-byte header (magic,
version, page size, checkpoint sequence, salt-1, salt-2, checksum), then frames of a 24-byte
header (page number, database size in pages after a commit or 0, salt-1, salt-2, checksum)
and one page. A frame is valid while its salts match the header's and the running checksum
agrees; a frame with a non-zero size field ends a transaction.
"""

from __future__ import annotations

import shutil
import sqlite3
import struct
from dataclasses import dataclass, field
from pathlib import Path

WAL_HEADER = 32
FRAME_HEADER = 24


@dataclass
class Commit:
    pages: dict[int, bytes] = field(default_factory=dict)  # page number -> image at the commit
    db_pages: int = 0


def _checksum(data: bytes, s0: int, s1: int, big_endian: bool) -> tuple[int, int]:
    fmt = ">" if big_endian else "<"
    words = struct.unpack(f"{fmt}{len(data) // 4}I", data)
    for i in range(0, len(words), 2):
        s0 = (s0 + words[i] + s1) & 0xFFFFFFFF
        s1 = (s1 + words[i + 1] + s0) & 0xFFFFFFFF
    return s0, s1


def read_commits(wal: bytes) -> tuple[int, list[Commit]]:
    """(page size, the valid commits in order)."""
    if len(wal) < WAL_HEADER:
        return 0, []
    magic, _version, page_size, _seq, salt1, salt2, c0, c1 = struct.unpack(">8I", wal[:WAL_HEADER])
    if magic not in (0x377F0682, 0x377F0683):
        raise ValueError("not a WAL file")
    big_endian = magic & 1 == 1
    s0, s1 = _checksum(wal[:24], 0, 0, big_endian)
    if (s0, s1) != (c0, c1):
        return page_size, []
    commits: list[Commit] = []
    current = Commit()
    offset = WAL_HEADER
    while offset + FRAME_HEADER + page_size <= len(wal):
        pgno, size, f1, f2, fc0, fc1 = struct.unpack(">6I", wal[offset : offset + FRAME_HEADER])
        page = wal[offset + FRAME_HEADER : offset + FRAME_HEADER + page_size]
        if (f1, f2) != (salt1, salt2):
            break
        s0, s1 = _checksum(wal[offset : offset + 8], s0, s1, big_endian)
        s0, s1 = _checksum(page, s0, s1, big_endian)
        if (s0, s1) != (fc0, fc1):
            break
        current.pages[pgno] = page
        if size:
            current.db_pages = size
            commits.append(current)
            current = Commit()
        offset += FRAME_HEADER + page_size
    return page_size, commits


def materialise(db_file: Path, wal: bytes, upto: int, out: Path) -> Path:
    """The database as it was after the first ``upto`` commits of ``wal`` (applied to a copy
    of ``db_file``), as a standalone file that sqlite3 opens without any WAL."""
    page_size, commits = read_commits(wal)
    shutil.copyfile(db_file, out)
    with out.open("r+b") as f:
        for commit in commits[:upto]:
            for pgno, page in commit.pages.items():
                f.seek((pgno - 1) * page_size)
                f.write(page)
            f.truncate(commit.db_pages * page_size)
        f.seek(18)
        f.write(b"\x01\x01")  # rollback-journal mode: open the file as it is, no -wal
    return out


def query(path: Path, sql: str, *args: object) -> list[tuple[object, ...]]:
    conn = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    try:
        return list(conn.execute(sql, args))
    finally:
        conn.close()
