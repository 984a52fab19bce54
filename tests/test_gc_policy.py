"""server/gc_policy.py: what survives a full collection is frozen (later full collections
skip it), and a thaw, due once as many peers left as are still connected, reclaims the
reference cycles that waited frozen."""

from __future__ import annotations

import asyncio
import gc
import weakref
from collections.abc import Iterator

import pytest

from server.gc_policy import THAW_MIN, GcPolicy


class Node:
    def __init__(self) -> None:
        self.other: Node | None = None


def cycle() -> weakref.ref[Node]:
    a, b = Node(), Node()
    a.other, b.other = b, a
    return weakref.ref(a)


@pytest.fixture
def policy() -> Iterator[GcPolicy]:
    policy = GcPolicy()
    yield policy
    policy.uninstall()
    gc.unfreeze()  # leave the test process as it was


async def test_survivors_of_a_full_collection_are_frozen(policy: GcPolicy) -> None:
    policy.install(asyncio.get_running_loop())
    gc.unfreeze()
    kept = [Node() for _ in range(1000)]
    gc.collect()
    assert policy.full_collections == 1
    assert policy.freezes == 0  # scheduled on the loop, not done inside the collector
    await asyncio.sleep(0)
    assert policy.freezes == 1
    assert gc.get_freeze_count() >= len(kept)
    assert policy.status()["frozen"] == gc.get_freeze_count()
    assert policy.status()["longest_full_ms"] > 0


async def test_a_thaw_reclaims_cycles_that_waited_frozen(policy: GcPolicy) -> None:
    policy.install(asyncio.get_running_loop())
    gc.unfreeze()
    ref = cycle()
    gc.freeze()  # the cycle was alive at a full collection; then its last user let go
    gc.collect()
    assert ref() is not None  # frozen: full collections do not see it
    remaining = 5
    for _ in range(THAW_MIN - 1):
        assert not policy.departed(remaining)
    assert ref() is not None
    assert policy.departed(remaining)  # the 20th departure: more left than remain
    assert ref() is None
    assert policy.thaws == 1 and policy.departures == 0
    await asyncio.sleep(0)
    assert policy.freezes >= 1  # the thaw's collection froze the survivors again


async def test_no_thaw_while_more_peers_remain_than_left(policy: GcPolicy) -> None:
    policy.install(asyncio.get_running_loop())
    for _ in range(99):
        assert not policy.departed(remaining=100)
    assert policy.thaws == 0
    assert policy.departed(remaining=100)  # as many left as remain: the frozen garbage is due
    assert policy.thaws == 1


async def test_turned_off_it_only_observes(policy: GcPolicy) -> None:
    policy.install(asyncio.get_running_loop(), freeze=False)
    frozen = gc.get_freeze_count()
    gc.collect()
    await asyncio.sleep(0)
    assert policy.full_collections == 1 and policy.freezes == 0
    assert gc.get_freeze_count() == frozen
    assert not any(policy.departed(remaining=0) for _ in range(THAW_MIN * 2))
    assert policy.status()["freeze_survivors"] is False and policy.thaws == 0
