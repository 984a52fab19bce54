"""Polls in the protocol: a poll's report for the attachment, a decision poll's outcome.

A poll the meeting's end closed (``Poll.interrupted``) keeps its ballots so far and gets no
outcome: the vote was never completed.
"""

from __future__ import annotations

from typing import Literal

from server.domain.protocol.fold import Poll, as_int, number_list
from server.domain.protocol.model import Ballot, Decision, PollReport
from server.names import order_key


def poll_report(poll: Poll, names: dict[str, str], full: dict[str, str]) -> PollReport:
    result = poll.result
    counts: tuple[int, ...] | None = None
    eligible = 0
    cast = poll.cast
    if result is not None:
        counts = tuple(number_list(result.get("counts")))
        cast = as_int(result.get("cast"))
        eligible = as_int(result.get("eligible"))
    ballots: tuple[Ballot, ...] = ()
    if not poll.secret:
        rows = []
        for voter, choices in poll.ballots.items():
            labels = tuple(poll.options[c] for c in choices if 0 <= c < len(poll.options))
            rows.append((order_key(full.get(voter, voter)), voter, Ballot(names.get(voter, voter), labels)))
        ballots = tuple(b for _, _, b in sorted(rows, key=lambda r: (r[0], r[1])))
    return PollReport(
        poll.poll_id,
        poll.question,
        poll.kind,
        poll.secret,
        tuple(poll.options),
        counts,
        cast,
        eligible,
        ballots,
        interrupted=poll.interrupted,
    )


def decision(poll: Poll, number: str) -> Decision:
    text = poll.decision_text or poll.question
    result = poll.result
    if result is None:
        return Decision(f"decision.{poll.poll_id}", poll.poll_id, number, text)
    raw = [*number_list(result.get("counts")), 0, 0, 0]
    za, against, abstained = raw[0], raw[1], raw[2]
    if poll.interrupted:  # the ballots so far; no outcome: the vote was never completed
        return Decision(
            f"decision.{poll.poll_id}",
            poll.poll_id,
            number,
            text,
            "",
            "",
            "interrupted",
            (za, against, abstained),
        )
    cast = as_int(result.get("cast"))
    quorum = bool(result.get("quorum", True))
    outcome: Literal["accepted", "rejected"]
    if result.get("outcome") in ("accepted", "rejected"):
        outcome = result["outcome"]
    else:
        outcome = "accepted" if quorum and za * 2 > cast else "rejected"
    unanimous = outcome == "accepted" and za > 0 and against == 0 and abstained == 0
    return Decision(
        f"decision.{poll.poll_id}",
        poll.poll_id,
        number,
        text,
        status=outcome,
        counts=(za, against, abstained),
        unanimous=unanimous,
        quorum=quorum,
    )
