"""Sliding-window rate limits in Redis (spec threat 2): per client IP, per user, per purchase route."""

from shared.ratelimit.limiter import LimitDecision, RateLimiter, Rule, default_rules

__all__ = ["LimitDecision", "RateLimiter", "Rule", "default_rules"]
