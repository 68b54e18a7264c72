"""The cache room: Redis clients built in one place (the request path's behind its circuit breaker),
the catalogue of key prefixes and TTLs, Lua scripts by SHA, and the typed pipelined round trip that
scoring, features and rate limits share."""
