"""Anonymous questionnaire responses, sealed until the questionnaire closes (issue 15).

The respondent's transaction writes the participation (who answered) and one
``questionnaire_sealed`` row: the answers encrypted under the questionnaire's key, which lives
outside the database (server/db/sealing.py), padded to one length for the whole
questionnaire. While it is open, results are computed by opening the sealed rows in memory;
nothing is written. The close opens them into ordinary ``questionnaire_responses`` /
``questionnaire_answers`` rows, all in one transaction that holds no participation, in a
shuffled order with fresh random ids, deletes the sealed rows, and destroys the key after the
commit. So no transaction id, commit, physical row order or WAL record ties a person to an
answer, and what the respondent's transaction left behind is ciphertext under a key that no
longer exists.
"""

from __future__ import annotations

import json
import random
import secrets
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Any

from sqlalchemy import delete, func, inspect, select
from sqlalchemy.ext.asyncio import AsyncSession

from server.db import sealing
from server.db.models import (
    Question,
    Questionnaire,
    QuestionnaireAnswer,
    QuestionnaireResponse,
    QuestionnaireSealed,
)
from server.db.models.questionnaires import QuestionKind, QuestionnaireStatus
from server.db.types import utcnow
from server.mail.outbox import enqueue
from server.workers import job_handler

if TYPE_CHECKING:
    from server.runtime import Runtime

TEXT_MAX = 5000  # server/domain/year/questionnaires.py TEXT_ANSWER_MAX
OTHER_MAX = 500  # server/domain/year/questionnaires.py OTHER_MAX
CHAR_BOUND = 6  # bytes a character can take in compact JSON (a control character: \u00XX)
UNSEAL_JOB = "questionnaire.unseal"


def key_name(questionnaire_id: int) -> str:
    return f"questionnaire-{questionnaire_id}"


def sealed_size(questions: Sequence[Question]) -> int:
    """The plaintext length of every sealed response of the questionnaire: the largest any
    valid set of answers can encode to, so the length says nothing about the answers."""
    size = 64
    for q in questions:
        size += 48 + len(str(q.id))
        if q.kind == QuestionKind.text:
            size += CHAR_BOUND * TEXT_MAX
        elif q.kind in (QuestionKind.single, QuestionKind.multiple):
            size += 4 * len(q.options) + CHAR_BOUND * OTHER_MAX
        else:
            size += 4
    return size


@dataclass(frozen=True, slots=True)
class OpenAnswer:
    """One answer of a sealed response, opened in memory (the shape of QuestionnaireAnswer)."""

    response_id: str
    question_id: int
    choices: list[int] = field(default_factory=list)
    other: str = ""
    value: int | None = None
    text: str = ""


def encode(answers: dict[int, Any]) -> bytes:
    """``answers``: question id -> AnswerValue (server/domain/year/questionnaires.py)."""
    data = {str(qid): [list(a.choices), a.other, a.value, a.text] for qid, a in answers.items()}
    return json.dumps(data, ensure_ascii=False, separators=(",", ":")).encode()


def decode(response_id: str, raw: bytes) -> list[OpenAnswer]:
    data = json.loads(raw)
    return [
        OpenAnswer(response_id, int(qid), list(choices), other, value, text)
        for qid, (choices, other, value, text) in data.items()
    ]


async def seal_response(
    session: AsyncSession, q: Questionnaire, questions: Sequence[Question], answers: dict[int, Any]
) -> None:
    key = sealing.ensure_key(session, key_name(q.id))
    box = sealing.seal(key, key_name(q.id), encode(answers), sealed_size(questions))
    session.add(QuestionnaireSealed(id=secrets.token_hex(16), questionnaire_id=q.id, box=box))
    if q.closes_at is not None:  # once per deadline (the dedupe key): open them when time is up
        payload = {"questionnaire_id": q.id}
        await enqueue(
            session, UNSEAL_JOB, f"{UNSEAL_JOB}:{q.id}:{q.closes_at.isoformat()}", payload, run_at=q.closes_at
        )


async def sealed_count(session: AsyncSession, questionnaire_ids: Sequence[int]) -> int:
    if not questionnaire_ids:
        return 0
    return (
        await session.scalar(
            select(func.count(QuestionnaireSealed.id)).where(
                QuestionnaireSealed.questionnaire_id.in_(questionnaire_ids)
            )
        )
        or 0
    )


async def sealed_answers(session: AsyncSession, questionnaire_ids: Sequence[int]) -> list[OpenAnswer]:
    """The answers of the still-sealed responses, opened in memory (nothing is written)."""
    if not questionnaire_ids:
        return []
    rows = (
        await session.execute(
            select(
                QuestionnaireSealed.id, QuestionnaireSealed.questionnaire_id, QuestionnaireSealed.box
            ).where(QuestionnaireSealed.questionnaire_id.in_(questionnaire_ids))
        )
    ).all()
    out: list[OpenAnswer] = []
    keys: dict[int, bytes] = {}
    for rid, qid, box in rows:
        if qid not in keys:
            key = sealing.load_key(session, key_name(qid))
            if key is None:
                raise RuntimeError(
                    f"the key of questionnaire {qid} is missing from {sealing.key_dir(session)}"
                )
            keys[qid] = key
        out += decode(rid, sealing.unseal(keys[qid], key_name(qid), box))
    return out


async def open_sealed_responses(session: AsyncSession, q: Questionnaire) -> int:
    """The close: every sealed response becomes ordinary rows, written in a shuffled order
    with fresh random ids in this transaction; the sealed rows go; the key is destroyed after
    the commit (if the questionnaire is then closed). Returns how many were opened."""
    opened = await sealed_answers(session, [q.id])
    by_response: dict[str, list[OpenAnswer]] = {}
    for a in opened:
        by_response.setdefault(a.response_id, []).append(a)
    responses = list(by_response.values())
    random.SystemRandom().shuffle(responses)
    ids = [secrets.token_hex(16) for _ in responses]
    session.add_all(QuestionnaireResponse(id=rid, questionnaire_id=q.id) for rid in ids)
    await session.flush()  # the responses first (no ORM relationship orders the two tables)
    session.add_all(
        QuestionnaireAnswer(
            response_id=rid,
            question_id=a.question_id,
            choices=a.choices,
            other=a.other,
            value=a.value,
            text=a.text,
        )
        for rid, answers in zip(ids, responses, strict=True)
        for a in answers
    )
    await session.flush()
    await session.execute(delete(QuestionnaireSealed).where(QuestionnaireSealed.questionnaire_id == q.id))

    def closed(row: Questionnaire = q) -> bool:
        return bool(inspect(row).dict.get("status") == QuestionnaireStatus.closed)

    sealing.destroy_after_commit(session, key_name(q.id), closed)
    return len(responses)


async def unseal_after_deadline(
    session: AsyncSession, questionnaire_id: int, now: datetime | None = None
) -> None:
    """The outbox job queued for ``closes_at``: a questionnaire whose time is up is closed and
    its responses opened (nothing if it was closed, moved or deleted meanwhile)."""
    q = await session.get(Questionnaire, questionnaire_id, with_for_update=True)
    now = now or utcnow()
    if q is None or q.status != QuestionnaireStatus.open or q.closes_at is None or q.closes_at > now:
        return
    q.status = QuestionnaireStatus.closed
    q.closed_at = q.closes_at
    if q.anonymous:
        await open_sealed_responses(session, q)


@job_handler(UNSEAL_JOB)
async def _unseal_job(runtime: Runtime, payload: dict[str, Any]) -> None:
    async with runtime.db.transaction() as s:
        await unseal_after_deadline(s, int(payload["questionnaire_id"]))


async def sweep_questionnaire_keys(session: AsyncSession) -> int:
    """Destroy the keys of questionnaires that are gone, or closed with nothing left sealed
    (a crash between a close's commit and the key's destruction). Returns how many."""
    directory = sealing.key_dir(session)
    names = dict(sealing.key_names(directory, "questionnaire"))
    if not names:
        return 0
    alive = set(
        await session.scalars(
            select(Questionnaire.id).where(
                Questionnaire.id.in_(names.values()), Questionnaire.status != QuestionnaireStatus.closed
            )
        )
    )
    alive |= set(
        await session.scalars(
            select(QuestionnaireSealed.questionnaire_id).where(
                QuestionnaireSealed.questionnaire_id.in_(names.values())
            )
        )
    )
    stale = [name for name, qid in names.items() if qid not in alive]
    for name in stale:
        sealing.destroy_key(directory, name)
    return len(stale)
