"""Shared settings of the Hypothesis tests that draw in a worker thread beside a live server."""

from __future__ import annotations

from collections.abc import Callable
from typing import TypeVar

import pytest

F = TypeVar("F", bound=Callable[..., object])


def draws_beside_the_server(test: F) -> F:
    """Hypothesis draws in a worker thread while the server's event loop runs in the test's
    thread; the websockets, aiortc and ballot-shuffling code there use the global ``random``
    module, and Hypothesis reports any change of that state during a draw as a strategy's
    misuse (a false alarm here, likelier the busier the machine). Building that report also
    renders the strategy, whose repr is over Hypothesis's size warning for our large JSON
    strategies. Both warnings are ignored; every other warning stays an error."""
    test = pytest.mark.filterwarnings("ignore:Do not use the `random` module inside strategies")(test)
    return pytest.mark.filterwarnings("ignore:Generating overly large repr")(test)
