"""The frozen result of a poll: a pure function of the counts, with no database and no clock.

Rules (clause 5 of the regulation; the poll chooses its decision rule, the association its
quorum rule):

- quorum, over the association's members present at the close: ``more_than_half`` needs
  more than half of the members, ``two_thirds`` at least two thirds, ``none`` is always met;
- outcome of a decision poll (option 0 «за», 1 «против», 2 «воздержались»):
  ``majority_cast``: «за» > half of the ballots cast; ``majority_present``: «за» > half of the
  eligible voters present; ``two_thirds``: «за» >= two thirds of the ballots cast. A tie is not a
  majority. Without a quorum the decision is not taken («не принято»), whatever the counts;
- unanimous: at least one «за», no «против», no «воздержались».

Single- and multiple-choice polls have counts only (no outcome).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Literal

from server.domain.meeting.events import DecisionRule, PollKind, PollResult

DECISION_OPTIONS = ["за", "против", "воздержались"]
QuorumRuleName = str  # "more_than_half" | "two_thirds" | "none"


def has_quorum(quorum_rule: QuorumRuleName, members: int, members_present: int) -> bool:
    if quorum_rule == "none":
        return True
    if quorum_rule == "two_thirds":
        return members > 0 and members_present * 3 >= members * 2
    return members_present * 2 > members  # more_than_half (the default)


def decision_outcome(
    rule: DecisionRule, counts: Sequence[int], cast: int, present: int, quorum: bool
) -> bool:
    """True when the decision is taken (принято)."""
    yes = counts[0]
    if not quorum or yes == 0:
        return False
    if rule == "majority_present":
        return yes * 2 > present
    if rule == "two_thirds":
        return yes * 3 >= cast * 2
    return yes * 2 > cast  # majority_cast


def tally(
    *,
    kind: PollKind,
    rule: DecisionRule,
    counts: Sequence[int],
    cast: int,
    eligible: int,
    present: int,
    members: int,
    members_present: int,
    quorum_rule: QuorumRuleName,
) -> PollResult:
    """Freeze a poll's result.

    ``counts`` per option (a multiple-choice ballot adds to several), ``cast`` ballots,
    ``eligible``/``present`` voters (members, plus guests when the poll lets them vote),
    ``members``/``members_present`` for the quorum.
    """
    quorum = has_quorum(quorum_rule, members, members_present)
    outcome: Literal["accepted", "rejected"] | None = None
    unanimous = False
    if kind == "decision":
        accepted = decision_outcome(rule, counts, cast, present, quorum)
        outcome = "accepted" if accepted else "rejected"
        unanimous = counts[0] >= 1 and counts[1] == 0 and counts[2] == 0
    return PollResult(
        eligible=eligible,
        present=present,
        cast=cast,
        counts=list(counts),
        quorum=quorum,
        outcome=outcome,
        unanimous=unanimous,
    )
