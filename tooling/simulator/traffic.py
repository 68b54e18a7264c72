"""Sessions and login attempts: the traffic around the orders, honest and hostile alike."""

from __future__ import annotations

from tooling.simulator.records import User
from tooling.simulator.world import World


def login(
    world: World,
    user: User | None,
    email: str,
    ip: str,
    at: float,
    *,
    success: bool,
    reason: str | None,
    admin: bool = False,
) -> None:
    world.logins.append(
        (
            world.next_attempt_id,
            user.user_id if user else None,
            email,
            ip,
            success,
            reason,
            admin,
            round(at, 3),
        )
    )
    world.next_attempt_id += 1


def session(
    world: World,
    user: User,
    ip: str,
    started: float,
    ended: float,
    *,
    with_login: bool = True,
    agent: str | None = None,
) -> None:
    """A browsing session, opened by a login (now and then after a mistyped password) unless the
    account was still signed in; a session still open at the end of the window has no end."""
    if with_login:
        if world.rng.random() < 0.08:
            login(
                world,
                user,
                user.email,
                ip,
                started - 40 - world.rng.random() * 60,
                success=False,
                reason="bad_password",
            )
        login(world, user, user.email, ip, started - 5 - world.rng.random() * 20, success=True, reason=None)
    world.sessions.append(
        (
            world.next_session_id,
            user.user_id,
            ip,
            agent or user.agent,
            round(started, 3),
            round(ended, 3) if ended <= world.end else None,
        )
    )
    world.next_session_id += 1
