"""What the demo seeding's trim keeps of a world (tooling.simulator.trim), on a hand-made one: the accounts
the window touches, of their history the sessions that answer new_ip / new_device, the last hour's logins."""

from __future__ import annotations

from datetime import UTC, datetime

from tooling.simulator.config import SimulationConfig
from tooling.simulator.records import User
from tooling.simulator.trim import trim_to_window
from tooling.simulator.world import DAY, HOUR, World

END = datetime(2026, 11, 20, tzinfo=UTC)


def _world() -> World:
    world = World(SimulationConfig(seed=1, days=7, end=END), organizer="0x" + "0" * 40)
    for uid in (1, 2, 3):
        world.users.append(User(uid, f"u{uid}@example.com", "GB", world.start - 400 * DAY, "regular"))
    world.regulars = list(world.users)
    return world


def _session(world: World, sid: int, uid: int, ip: str, at: float, agent: str = "A") -> None:
    world.sessions.append((sid, uid, ip, agent, at, at + 600))


def _login(world: World, n: int, uid: int | None, at: float, ok: bool = False) -> None:
    world.logins.append((n, uid, "x@example.com", "10.0.0.1", ok, None if ok else "bad_password", False, at))


def test_given_a_touched_and_an_untouched_account_then_the_history_kept_answers_the_same() -> None:
    # Given account 1 with a session in the window and a history: IP a twice, IP b once, agent B once,
    # and a session 1 h before the window; account 2 active only before the window; account 3 only
    # failing a login in the window (credential stuffing's victim)
    world = _world()
    s = world.start
    _session(world, 1, 1, "10.0.0.1", s - 60 * DAY)
    _session(world, 2, 1, "10.0.0.1", s - 30 * DAY)
    _session(world, 3, 1, "10.0.0.2", s - 40 * DAY)
    _session(world, 4, 1, "10.0.0.1", s - 50 * DAY, agent="B")
    _session(world, 5, 1, "10.0.0.1", s - 1 * HOUR)
    _session(world, 6, 1, "10.0.0.3", s + 2 * DAY)
    _session(world, 7, 2, "10.0.0.9", s - 10 * DAY)
    _login(world, 1, 1, s - 3 * DAY)
    _login(world, 2, 1, s - 0.5 * HOUR)
    _login(world, 3, 2, s - 0.5 * HOUR)
    _login(world, 4, 3, s + DAY)
    _login(world, 5, None, s + DAY)
    # When the world is trimmed to its window
    trimmed = trim_to_window(world)
    # Then accounts 1 and 3 stay, 2 goes
    assert [u.user_id for u in world.users] == [1, 3]
    # And of account 1's history: the latest per IP (2 for a, 3 for b), the latest with agent B (4), the
    # session of the last 2 h before the window whole (5), and the window's own (6)
    assert [sid for sid, *_ in world.sessions] == [2, 3, 4, 5, 6]
    # And of the logins: the last hour's of kept accounts, and the window's (one without an account)
    assert [n for n, *_ in world.logins] == [2, 4, 5]
    assert trimmed.users == (2, 3) and trimmed.sessions == (5, 7) and trimmed.logins == (3, 5)
    assert "2 of 3 accounts" in trimmed.line()
