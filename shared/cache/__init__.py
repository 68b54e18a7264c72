"""The cache room: the Redis client of the request path behind its circuit breaker."""
