"""The pure tally: every decision rule, ties, quorum rules, unanimity (no server needed)."""

from __future__ import annotations

from typing import Any

import pytest

from server.domain.meeting.poll_results import has_quorum, tally


def decide(
    rule: str, counts: list[int], *, present: int = 10, members: int = 10, quorum_rule: str = "none"
) -> Any:
    return tally(
        kind="decision",
        rule=rule,  # type: ignore[arg-type]
        counts=counts,
        cast=sum(counts),
        eligible=members,
        present=present,
        members=members,
        members_present=present,
        quorum_rule=quorum_rule,
    )


@pytest.mark.parametrize(
    ("counts", "accepted"),
    [
        ([6, 4, 0], True),
        ([5, 5, 0], False),  # a tie is not a majority
        ([5, 4, 1], False),  # abstentions count among the votes cast
        ([1, 0, 0], True),
        ([0, 0, 0], False),  # nobody voted
        ([0, 3, 0], False),
    ],
)
def test_majority_of_votes_cast(counts: list[int], accepted: bool) -> None:
    result = decide("majority_cast", counts)
    assert result.outcome == ("accepted" if accepted else "rejected")
    assert result.cast == sum(counts) and result.counts == counts


@pytest.mark.parametrize(
    ("counts", "present", "accepted"),
    [
        ([6, 0, 0], 10, True),
        ([5, 0, 0], 10, False),  # exactly half of those present: a tie
        ([5, 0, 0], 9, True),
        ([4, 0, 0], 10, False),  # a majority of the votes cast, not of those present
    ],
)
def test_majority_of_those_present(counts: list[int], present: int, accepted: bool) -> None:
    result = decide("majority_present", counts, present=present)
    assert result.outcome == ("accepted" if accepted else "rejected")
    assert result.present == present


@pytest.mark.parametrize(
    ("counts", "accepted"),
    [
        ([6, 3, 0], True),  # exactly two thirds
        ([5, 3, 0], False),
        ([2, 0, 1], True),
        ([1, 1, 0], False),
        ([0, 0, 0], False),
    ],
)
def test_two_thirds_of_votes_cast(counts: list[int], accepted: bool) -> None:
    assert decide("two_thirds", counts).outcome == ("accepted" if accepted else "rejected")


@pytest.mark.parametrize(
    ("rule", "members", "present", "quorum"),
    [
        ("more_than_half", 10, 6, True),
        ("more_than_half", 10, 5, False),  # exactly half is not more than half
        ("more_than_half", 9, 5, True),
        ("two_thirds", 9, 6, True),
        ("two_thirds", 9, 5, False),
        ("two_thirds", 10, 7, True),
        ("two_thirds", 10, 6, False),
        ("none", 10, 0, True),
        ("more_than_half", 0, 0, False),
    ],
)
def test_quorum_rules(rule: str, members: int, present: int, quorum: bool) -> None:
    assert has_quorum(rule, members, present) is quorum


def test_no_quorum_means_not_accepted() -> None:
    result = decide("majority_cast", [5, 0, 0], present=5, members=10, quorum_rule="more_than_half")
    assert result.quorum is False
    assert result.outcome == "rejected"
    assert result.unanimous is True  # unanimity describes the ballots, not the validity


def test_quorum_counts_members_only_not_guests() -> None:
    result = tally(
        kind="decision",
        rule="majority_cast",
        counts=[7, 0, 0],
        cast=7,
        eligible=12,  # 10 members + 2 guests
        present=7,  # 5 members + 2 guests
        members=10,
        members_present=5,
        quorum_rule="more_than_half",
    )
    assert result.quorum is False and result.outcome == "rejected"


@pytest.mark.parametrize(
    ("counts", "unanimous"),
    [([3, 0, 0], True), ([3, 0, 1], False), ([3, 1, 0], False), ([0, 0, 0], False), ([0, 0, 2], False)],
)
def test_unanimous(counts: list[int], unanimous: bool) -> None:
    assert decide("majority_cast", counts).unanimous is unanimous


def test_choice_polls_have_counts_but_no_outcome() -> None:
    for kind in ("single", "multiple"):
        result = tally(
            kind=kind,
            rule="majority_cast",
            counts=[3, 5, 2],
            cast=7,
            eligible=9,
            present=8,
            members=9,
            members_present=8,
            quorum_rule="two_thirds",
        )
        assert result.outcome is None and result.unanimous is False
        assert result.counts == [3, 5, 2] and result.cast == 7 and result.quorum is True
