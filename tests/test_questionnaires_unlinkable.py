"""Anonymous questionnaire responses against whoever reads the database files (issue 15,
item 1): replay the SQLite WAL commit by commit, match PostgreSQL ``xmin``; no respondent may
be linked to an answer, the questionnaire's key must be gone after the close, and results stay
live while it is open."""

from __future__ import annotations

import asyncio
import secrets
import shutil
from datetime import timedelta
from pathlib import Path

from sqlalchemy import func, select, text

from server.db import sealing
from server.db.models import OutboxMessage, Questionnaire, QuestionnaireResponse
from server.db.models.questionnaires import QuestionnaireStatus
from server.db.types import utcnow
from server.domain.year.anonymous import UNSEAL_JOB, sealed_count, unseal_after_deadline
from tests.support import sqlite_wal
from tests.support.live import LiveServer
from tests.test_polls_unlinkable import checkpoint_truncate, pg_files_hold, sqlite_path
from tests.test_questionnaires_answers import _answer, _counts, _survey
from tests.test_questionnaires_support import make_world

RESPONDENTS = ["member", "mo_head", "teacher1", "teacher2", "teacher3"]


def wal_links(
    baseline: Path, wal_file: Path, qid: int, marks: dict[str, str], work: Path
) -> tuple[list[str], int]:
    """Replay the WAL; a commit that adds a participant links them if its frames carry any
    respondent's answer text, or if an answer text appears in the tables with it."""
    wal = wal_file.read_bytes()
    _size, commits = sqlite_wal.read_commits(wal)
    links: list[str] = []
    seen: set[str] = set()
    texts_before: set[str] = set()
    for i in range(len(commits) + 1):
        snap = sqlite_wal.materialise(baseline, wal, i, work / f"snap-{i}.db")
        people = {
            str(u)
            for (u,) in sqlite_wal.query(
                snap, "SELECT user_id FROM questionnaire_participants WHERE questionnaire_id = ?", qid
            )
        }
        texts = {
            str(t)
            for (t,) in sqlite_wal.query(
                snap,
                "SELECT a.text FROM questionnaire_answers a JOIN questionnaire_responses r"
                " ON r.id = a.response_id WHERE r.questionnaire_id = ? AND a.text != ''",
                qid,
            )
        }
        snap.unlink()
        new = people - seen
        if new and i > 0:
            frames = b"".join(commits[i - 1].pages.values())
            in_frames = [m for m in marks.values() if m.encode() in frames]
            if in_frames or texts - texts_before:
                links += sorted(new)
        seen |= people
        texts_before = texts
    return links, len(commits)


async def test_no_file_links_a_respondent_to_an_anonymous_answer(
    own_server: LiveServer, tmp_path: Path
) -> None:
    server = own_server
    w = await make_world(server, teachers=3)
    sqlite = server.settings.is_sqlite
    try:
        async with server.runtime.db.read() as s:
            started = await s.scalar(text("SELECT now()")) if not sqlite else None
        qid, ids = await _survey(w, anonymous=True)
        baseline = tmp_path / "baseline.db"
        if sqlite:
            db_file = sqlite_path(server)
            await checkpoint_truncate(db_file)
            shutil.copyfile(db_file, baseline)
        tag = secrets.token_hex(3)
        marks = {label: f"мнение-{label}-{tag}" for label in RESPONDENTS}
        for n, label in enumerate(RESPONDENTS):
            data = _answer(ids, str(n % 3), [str(n % 3)], str(1 + n % 5), marks[label])
            r = await (await w.as_(label)).submit(f"/questionnaires/{qid}/answer", data)
            assert r.status_code == 303, (label, r.status_code)
        assert await _counts(server, qid) == (5, 5)

        # Live results while open: the sealed responses are opened in memory for the page.
        m = await w.as_("methodist")
        html = (await m.get(f"/questionnaires/{qid}/results")).text
        assert all(mark in html for mark in marks.values())
        assert "Ответили: 5 из" in html
        key_file = Path(server.settings.resolved_sealing_key_dir) / f"questionnaire-{qid}.key"
        key = key_file.read_bytes() if key_file.exists() else None

        r = await m.submit(f"/questionnaires/{qid}/close")
        assert r.status_code == 303, r.status_code
        assert await _counts(server, qid) == (5, 5)
        html = (await m.get(f"/questionnaires/{qid}/results")).text
        assert all(mark in html for mark in marks.values())

        if sqlite:
            links, commits = await asyncio.to_thread(
                wal_links, baseline, Path(f"{db_file}-wal"), qid, marks, tmp_path
            )
            assert commits >= len(RESPONDENTS) + 1
            assert links == [], (
                f"the WAL links {len(links)} of {len(RESPONDENTS)} respondents to their answers"
            )
        else:
            async with server.runtime.db.read() as s:
                people = [
                    int(x)
                    for (x,) in await s.execute(
                        text("SELECT xmin::text FROM questionnaire_participants WHERE questionnaire_id = :q"),
                        {"q": qid},
                    )
                ]
                responses = {
                    str(rid): int(x)
                    for rid, x in await s.execute(
                        text(
                            "SELECT id, xmin::text FROM questionnaire_responses WHERE questionnaire_id = :q"
                        ),
                        {"q": qid},
                    )
                }
                answers = [
                    int(x)
                    for (x,) in await s.execute(
                        text(
                            "SELECT a.xmin::text FROM questionnaire_answers a JOIN questionnaire_responses r"
                            " ON r.id = a.response_id WHERE r.questionnaire_id = :q"
                        ),
                        {"q": qid},
                    )
                ]
            assert len(people) == len(RESPONDENTS) == len(responses)
            # The attacker's guess for a participant: the responses whose xmin is nearest to
            # theirs (a SAVEPOINT's subtransaction id is adjacent to its transaction's).
            links = 0
            for p in people:
                nearest = min(abs(x - p) for x in responses.values())
                if len([r for r, x in responses.items() if abs(x - p) == nearest]) < len(responses):
                    links += 1
            assert links == 0, f"xmin links {links} of {len(RESPONDENTS)} respondents to their answers"
            assert len({*responses.values(), *answers}) == 1  # all written by the one close
            assert not set(people) & set(responses.values())

        assert key is not None and len(key) == sealing.KEY_BYTES
        assert not key_file.exists()
        if sqlite:
            for path in (db_file, Path(f"{db_file}-wal")):
                assert key not in path.read_bytes(), path
        else:
            tables = ("questionnaire_participants", "questionnaire_sealed", "questionnaire_responses")
            assert await pg_files_hold(server, key, started, (*tables, "questionnaire_answers")) == []
    finally:
        await w.close()


async def test_the_deadline_job_opens_the_sealed_responses(server: LiveServer) -> None:
    """A questionnaire that only reaches its ``closes_at`` (nobody presses «Закрыть»): the first
    sealed response queues the outbox job for that moment; the job closes the questionnaire,
    opens the responses and the key goes."""
    w = await make_world(server)
    try:
        qid, ids = await _survey(w, anonymous=True)
        deadline = utcnow() + timedelta(hours=1)
        async with server.runtime.db.transaction() as s:
            q = await s.get(Questionnaire, qid)
            assert q is not None
            q.closes_at = deadline
        for n, label in enumerate(("member", "mo_head")):
            r = await (await w.as_(label)).submit(
                f"/questionnaires/{qid}/answer", _answer(ids, "1", ["0"], str(n + 2))
            )
            assert r.status_code == 303
        async with server.runtime.db.read() as s:
            jobs = list(await s.scalars(select(OutboxMessage).where(OutboxMessage.kind == UNSEAL_JOB)))
        assert [(j.payload, j.next_attempt_at) for j in jobs] == [({"questionnaire_id": qid}, deadline)]
        key_file = Path(server.settings.resolved_sealing_key_dir) / f"questionnaire-{qid}.key"
        assert key_file.exists()

        async with server.runtime.db.transaction() as s:  # before the deadline: nothing happens
            await unseal_after_deadline(s, qid, now=deadline - timedelta(seconds=1))
        assert await _counts(server, qid) == (2, 2) and key_file.exists()
        async with server.runtime.db.transaction() as s:
            await unseal_after_deadline(s, qid, now=deadline)
        async with server.runtime.db.read() as s:
            q = await s.get(Questionnaire, qid)
            assert q is not None and q.status == QuestionnaireStatus.closed and q.closed_at == deadline
            stored = await s.scalar(
                select(func.count(QuestionnaireResponse.id)).where(
                    QuestionnaireResponse.questionnaire_id == qid
                )
            )
            assert stored == 2 and await sealed_count(s, [qid]) == 0
        assert not key_file.exists()
    finally:
        await w.close()
