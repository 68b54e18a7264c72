"""Login traffic that is not shopping: admins signing in (and someone with an admin's password
hammering the second factor), and credential stuffing against customers' e-mail addresses. No
orders, so no scenario row: what the SIEM rules look for, not what the model scores."""

from __future__ import annotations

import math

from tooling.simulator.geo import HOSTING_COUNTRIES, RISKY_COUNTRIES, random_ip
from tooling.simulator.traffic import login
from tooling.simulator.vocabulary import EMAIL_DOMAINS, FIRST_NAMES
from tooling.simulator.world import DAY, World


def admin_activity(world: World) -> None:
    rng = world.rng
    admins = [u for u in world.users if u.kind == "admin"]
    office = [random_ip(rng, "GB", 1), random_ip(rng, "NL", 0)]
    days = max(1, math.ceil((world.end - world.start) / DAY))
    for _ in range(12 * days):
        admin = rng.choice(admins)
        t = world.time_in_window()
        if rng.random() < 0.1:
            login(
                world,
                admin,
                admin.email,
                rng.choice(office),
                t - 30,
                success=False,
                reason="bad_mfa",
                admin=True,
            )
        login(world, admin, admin.email, rng.choice(office), t, success=True, reason=None, admin=True)
    for _ in range(max(1, round(days / 2))):
        # Someone with an admin's password but not the second factor, hammering MFA.
        admin = rng.choice(admins)
        ip = random_ip(rng, rng.choice(RISKY_COUNTRIES))
        t = world.time_in_window(hi=world.end - 600)
        for _ in range(rng.randint(6, 15)):
            t += rng.uniform(3, 20)
            login(world, admin, admin.email, ip, t, success=False, reason="bad_mfa", admin=True)


def credential_stuffing(world: World, n_attempts: int) -> None:
    """Bursts of logins from one address: mostly e-mails that have no account, some real ones."""
    rng = world.rng
    while n_attempts > 0:
        ip = random_ip(rng, rng.choice(HOSTING_COUNTRIES + RISKY_COUNTRIES))
        t = world.time_in_window(hi=world.end - 900)
        burst = min(n_attempts, rng.randint(5, 30))
        n_attempts -= burst
        for _ in range(burst):
            t += rng.uniform(0.5, 8)
            if rng.random() < 0.8:
                email = f"{rng.choice(FIRST_NAMES)}{rng.randrange(10_000)}@{rng.choice(EMAIL_DOMAINS)}"
                login(world, None, email, ip, t, success=False, reason="unknown_user")
            else:
                victim = rng.choice(world.regulars)
                login(world, victim, victim.email, ip, t, success=False, reason="bad_password")
