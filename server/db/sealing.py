"""Sealed records: secret data written to the database under a key that is never in it.

A secret ballot (and an anonymous questionnaire response) must be durable when the voter is
told it counted, yet nothing in the database files may link the person to the choice, not
even the transaction that wrote both. So the choice is written *sealed*: AES-256-GCM under a
per-poll key. The key lives in a file under the key directory (``<var>/sealing-keys`` by
default, ``SMO_SEALING_KEY_DIR``), outside the database and its WAL, its backups and its
dumps. It survives kill -9 (written and fsynced before the poll opens) and is destroyed
(overwritten, fsynced, unlinked) right after the commit that opened the sealed records and
froze the result. After that, every copy of a sealed record that remains (PostgreSQL dead
tuples and WAL segments, SQLite WAL frames and free pages, backups) is ciphertext under a key
that no longer exists.

Every sealed record has the same length (the plaintext is padded to a fixed size), so its
size carries nothing either. The key directory is shared by every process of an
installation, like ``var/files``.
"""

from __future__ import annotations

import contextlib
import logging
import os
import re
import secrets
import struct
from collections.abc import Callable
from pathlib import Path

from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from sqlalchemy import event
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import Session

log = logging.getLogger("smo.sealing")

KEY_DIR_INFO = "sealing_key_dir"
KEY_BYTES = 32
NONCE_BYTES = 12
_NAME = re.compile(r"^[a-z]+-[0-9]+$")
_PENDING = "sealing_destroy_after_commit"


class SealingError(Exception):
    """A sealed record cannot be opened (its key is missing or it was tampered with)."""


def key_dir(session: AsyncSession | Session) -> Path:
    configured = session.info.get(KEY_DIR_INFO)
    return Path(configured) if configured else Path("var") / "sealing-keys"


def _path(directory: Path, name: str) -> Path:
    if not _NAME.match(name):
        raise ValueError(f"bad key name {name!r}")
    return directory / f"{name}.key"


def _fsync_dir(directory: Path) -> None:
    fd = os.open(directory, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def ensure_key(session: AsyncSession, name: str) -> bytes:
    """The key ``name``, created (durably, exactly once across processes) if it is missing."""
    directory = key_dir(session)
    directory.mkdir(parents=True, exist_ok=True, mode=0o700)
    final = _path(directory, name)
    existing = load_key(session, name)
    if existing is not None:
        return existing
    tmp = directory / f".{name}.{secrets.token_hex(8)}.tmp"
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        os.write(fd, secrets.token_bytes(KEY_BYTES))
        os.fsync(fd)
    finally:
        os.close(fd)
    try:
        os.link(tmp, final)  # fails if another process created it first: theirs wins
    except FileExistsError:
        pass
    finally:
        tmp.unlink()
    _fsync_dir(directory)
    key = load_key(session, name)
    if key is None:
        raise SealingError(name)
    return key


def load_key(session: AsyncSession | Session, name: str) -> bytes | None:
    try:
        key = _path(key_dir(session), name).read_bytes()
    except FileNotFoundError:
        return None
    return key if len(key) == KEY_BYTES else None


def destroy_key(directory: Path, name: str) -> None:
    """Overwrite the key file with zeros, make that durable, unlink it."""
    path = _path(directory, name)
    try:
        fd = os.open(path, os.O_WRONLY)
    except FileNotFoundError:
        return
    try:
        os.write(fd, bytes(KEY_BYTES))
        os.fsync(fd)
    finally:
        os.close(fd)
    with contextlib.suppress(FileNotFoundError):
        path.unlink()
    _fsync_dir(directory)


def key_names(directory: Path, prefix: str) -> list[tuple[str, int]]:
    """(name, number) of the keys ``<prefix>-<number>`` present in the directory."""
    if not directory.is_dir():
        return []
    out = []
    for path in directory.glob(f"{prefix}-*.key"):
        name = path.name[: -len(".key")]
        number = name.removeprefix(f"{prefix}-")
        if _NAME.match(name) and number.isdigit():
            out.append((name, int(number)))
    return out


def destroy_after_commit(session: AsyncSession, name: str, still_wanted: Callable[[], bool]) -> None:
    """Destroy the key once the session's transaction commits, if ``still_wanted()`` then
    (e.g. the poll is closed in the committed state: a rolled-back SAVEPOINT expires it)."""
    sync = session.sync_session
    pending: list[tuple[str, Callable[[], bool]]] | None = sync.info.get(_PENDING)
    if pending is None:
        pending = []
        sync.info[_PENDING] = pending

        @event.listens_for(sync, "after_commit")
        def _after_commit(s: Session) -> None:
            if s.in_nested_transaction():  # a SAVEPOINT released: not durable yet
                return
            todo = list(pending)
            pending.clear()
            directory = key_dir(s)
            for key_name, wanted in todo:
                try:
                    if wanted():
                        destroy_key(directory, key_name)
                except Exception:  # the next sweep destroys it
                    log.exception("could not destroy a sealing key")

    pending.append((name, still_wanted))


def seal(key: bytes, name: str, plaintext: bytes, size: int) -> bytes:
    """Encrypt ``plaintext`` padded to exactly ``size`` bytes (+ nonce and tag)."""
    if len(plaintext) + 4 > size:
        raise ValueError("plaintext too long for its sealed size")
    padded = struct.pack("<I", len(plaintext)) + plaintext + bytes(size - 4 - len(plaintext))
    nonce = secrets.token_bytes(NONCE_BYTES)
    return nonce + AESGCM(key).encrypt(nonce, padded, name.encode())


def unseal(key: bytes, name: str, box: bytes) -> bytes:
    try:
        padded = AESGCM(key).decrypt(box[:NONCE_BYTES], box[NONCE_BYTES:], name.encode())
    except Exception as exc:
        raise SealingError(name) from exc
    (length,) = struct.unpack("<I", padded[:4])
    return padded[4 : 4 + length]
