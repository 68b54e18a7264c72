"""The matrix's cells replayed two at a time, each in a worker process of its own (tooling.livepath.workers)."""

from __future__ import annotations

import pytest

from tooling.livepath.replay import Cell
from tooling.livepath.stack import Stack
from tooling.livepath.workers import StackAddress, replay_in_workers

pytestmark = pytest.mark.slow


def test_given_two_cells_when_replayed_by_two_workers_then_each_comes_back_whole(live_stack: Stack) -> None:
    # Given two small worlds of different seeds and volumes
    cells = [
        Cell(seed=101, days=0.5, per_day=60, score_days=0.25),
        Cell(seed=102, days=0.5, per_day=120, score_days=0.25),
    ]
    said: list[str] = []
    # When two workers replay them on the one stack
    address = StackAddress(live_stack.server_url, live_stack.redis_url, live_stack.template)
    results = dict(replay_in_workers(address, cells, 2, said.append))
    # Then both came back, each its own cell's, every purchase decided with status 200
    assert sorted(results) == [0, 1]
    for n, cell in enumerate(cells):
        result = results[n]
        assert result["cell"]["seed"] == cell.seed and result["cell"]["per_day"] == cell.per_day
        assert result["counts"]["scored"] == result["counts"]["purchases"] > 0
        assert not result["outcome"]["errors"]
    # And each is its own world: twice the volume, more orders
    assert results[1]["counts"]["orders"] > results[0]["counts"]["orders"]
