"""Section 3 of the monitoring page (spec 4.1): API rate limiting and traffic, from the counts the rate
limiter keeps per minute in Redis (shared.ratelimit.traffic): requests per minute over the last hour,
the top 5 IPs and the rate-limit violations (per rule). Without Redis the section says so."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import redis

from shared.ratelimit.limiter import RateLimitSettings
from shared.ratelimit.traffic import read_traffic

WINDOW_MINUTES = 60
TOP_IPS = 5


def traffic_section(client: redis.Redis | None, now: datetime) -> dict[str, Any]:
    settings = RateLimitSettings()
    limits = {
        "enabled": settings.enabled,
        "ip_per_minute": settings.ip_per_minute,
        "user_per_minute": settings.user_per_minute,
        "purchase_per_minute": settings.purchase_per_minute,
    }
    if client is None:
        return {"available": False, "detail": "Redis is not configured or unavailable", "limits": limits}
    report = read_traffic(client, now_s=now.timestamp(), minutes=WINDOW_MINUTES, top=TOP_IPS)
    minutes = [
        {
            "minute": datetime.fromtimestamp(row.minute * 60, UTC).isoformat(),
            "requests": row.requests,
            "refused": row.refused_total,
            "refused_by_rule": row.refused,
        }
        for row in report.minutes
    ]
    by_rule: dict[str, int] = {}
    for row in report.minutes:
        for rule, count in row.refused.items():
            by_rule[rule] = by_rule.get(rule, 0) + count
    return {
        "available": True,
        "window_minutes": WINDOW_MINUTES,
        "limits": limits,
        # the last whole minute (the current one is still counting)
        "requests_per_minute": report.minutes[-2].requests if len(report.minutes) > 1 else 0,
        "requests_last_hour": sum(row.requests for row in report.minutes),
        "violations_last_hour": sum(by_rule.values()),
        "violations_by_rule": by_rule,
        "minutes": minutes,
        "top_ips": [
            {"ip": subject, "requests": requests, "refused": refused}
            for subject, requests, refused in report.top_ips
        ],
    }
