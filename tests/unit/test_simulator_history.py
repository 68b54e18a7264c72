"""The simulator's months before the window (tooling/simulator/history.py): honest accounts' sessions
and logins, dated before the window, in their own browser, from their home IPs or their country; the
window itself unchanged (its digests: tests/integration/test_simulator_fingerprint.py)."""

from __future__ import annotations

import random
from datetime import UTC, datetime

from tooling.simulator.config import SimulationConfig
from tooling.simulator.generate import generate
from tooling.simulator.history import HISTORY_DAYS, _sessions
from tooling.simulator.people import REGULAR_KINDS
from tooling.simulator.world import DAY


def test_honest_accounts_arrive_with_their_recent_sessions() -> None:
    # Given a two-day marketplace
    config = SimulationConfig(seed=11, days=2, transactions_per_day=300, end=datetime(2026, 5, 1, tzinfo=UTC))
    world = generate(config, organizer="0x" + "0a" * 20)
    users = {u.user_id: u for u in world.users}
    # When its sessions before the window are looked at
    before = [s for s in world.sessions if s[4] < world.start]
    # Then there are some, each of an honest account opened before it, within the 90 days before it,
    # in the account's own browser, ended before the window
    assert len(before) > len(users) // 2
    for _, user_id, _ip, agent, started, ended in before:
        user = users[user_id]
        assert user.kind in REGULAR_KINDS and user.created_at <= started
        assert world.start - HISTORY_DAYS * DAY <= started and ended is not None and ended < world.start
        assert started <= ended
        assert agent == user.agent
    # And each login before the window is its account's, successful or a mistyped password
    logins = [row for row in world.logins if row[7] < world.start]
    assert logins and all(row[5] in (None, "bad_password") for row in logins)
    # And a fraudster's account has none
    assert not [s for s in before if users[s[1]].kind not in REGULAR_KINDS]


def test_the_window_is_the_one_the_seed_gave_without_history() -> None:
    # Given the same config twice, history added or not
    config = SimulationConfig(seed=3, days=1, transactions_per_day=200, end=datetime(2026, 5, 1, tzinfo=UTC))
    world = generate(config, organizer="0x" + "0a" * 20)
    # Then the window's sessions are exactly the ones before the history's (their ids and rows first)
    window = [s for s in world.sessions if s[4] >= world.start]
    assert window == world.sessions[: len(window)]


class _Scripted(random.Random):
    """random() answers from a script (uniform() and choice() draw through it too: a subclass that
    overrides random() alone has choice() use it)."""

    def __init__(self, script: list[float]) -> None:
        super().__init__(0)
        self.script = script

    def random(self) -> float:
        return self.script.pop(0)


def test_a_session_drawn_in_the_last_second_before_the_window_does_not_end_before_it_starts() -> None:
    # Given an honest account of a two-day marketplace, and draws that start its one history session
    # half a second before the window (ingest refuses a session that ends before it starts)
    config = SimulationConfig(seed=11, days=2, transactions_per_day=300, end=datetime(2026, 5, 1, tzinfo=UTC))
    world = generate(config, organizer="0x" + "0a" * 20)
    user = next(
        u for u in world.users if u.kind in REGULAR_KINDS and u.created_at < world.start - HISTORY_DAYS * DAY
    )
    span = HISTORY_DAYS * DAY
    world.sessions.clear()
    # (one session: 0.999 then 0.0 for the count; its start; not on mobile data; a home IP; no login;
    # its length)
    rng = _Scripted([0.999, 0.0, (span - 0.5) / span, 0.5, 0.5, 0.9, 0.5])
    # When its history is drawn
    _sessions(world, rng, user)
    # Then the session ends where it began, before the window
    [(_, _, _, _, started, ended)] = world.sessions
    assert started == round(world.start - 0.5, 3) and ended == started
