"""One Redis round trip shared by several readers and writers.

The scoring request asks Redis two things at its start (the lookup cache, the feature read) and
up to three more after its PostgreSQL lookup (the cache fill, a feature miss's write-back, the rate
limits). Each asker queues its
commands on one `RoundTrip` with a typed reply handler and gets a `Reply` back; `execute()` sends
them all in one pipeline (no MULTI) and hands each reply to its reader:

    trip = RoundTrip(client)
    cached = trip.queue(lambda pipe: pipe.mget(keys), parse=decode_all)   # Reply[list[str | None]]
    features = trip.eval(READ_SCRIPT, keys, args, parse=parse_read)       # Reply[RedisRead]
    trip.write(lambda pipe: pipe.setex(key, ttl, value))                  # no reader
    trip.execute()
    cached.result()  # the parsed value, or the command's exception reply raised here

Rules:
- An exception reply goes to its reader, raised by `result()`: one failed command does not take the
  others' answers away (the reader decides: fall back, read again, or give up). A command queued
  with `write` has no reader: its exception reply is raised by `execute()`, after the readers' replies
  are set.
- Parsing is lazy (at the first `result()`), so an answer nobody reads costs no parsing, and a parse
  error reaches the reader like an exception reply.
- Scripts go by EVALSHA; a server that answers NOSCRIPT (restart, failover) gets the script loaded and
  those calls sent again, in a second round trip, once per script and server.
- A connection error (Redis down) raises from `execute()`, for the caller's circuit breaker.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any, Generic, TypeVar

import redis

from shared.cache.scripts import LuaScript

T = TypeVar("T")

_PENDING: Any = object()


def raw(value: Any) -> Any:
    """The identity handler: the reply as redis-py gives it."""
    return value


class Reply(Generic[T]):
    """The answer to one queued command, available once its round trip has been executed."""

    __slots__ = ("_parse", "_raw", "_value")

    def __init__(self, parse: Callable[[Any], T]) -> None:
        self._parse = parse
        self._raw: Any = _PENDING
        self._value: Any = _PENDING

    @property
    def ready(self) -> bool:
        return self._raw is not _PENDING

    @property
    def error(self) -> Exception | None:
        """The command's exception reply, if it got one."""
        return self._raw if isinstance(self._raw, Exception) else None

    def result(self) -> T:
        """The parsed reply; raises the command's exception reply (or the handler's error)."""
        if self._raw is _PENDING:
            raise RuntimeError("the round trip of this reply has not been executed")
        if isinstance(self._raw, Exception):
            raise self._raw
        if self._value is _PENDING:
            self._value = self._parse(self._raw)
        return self._value

    def _set(self, value: Any) -> None:
        self._raw = value


class RoundTrip:
    """Commands queued by several callers, sent together by `execute()` (once)."""

    def __init__(self, client: redis.Redis) -> None:
        self.client = client
        self._pipe = client.pipeline(transaction=False)
        self._replies: list[Reply[Any] | None] = []  # None: a write, no reader
        self._evals: dict[int, tuple[LuaScript, Sequence[str], Sequence[Any]]] = {}
        self._executed = False

    def __len__(self) -> int:
        return len(self._replies)

    @property
    def executed(self) -> bool:
        return self._executed

    def queue(self, command: Callable[[Any], object], parse: Callable[[Any], T]) -> Reply[T]:
        """Queue one command (`command(pipeline)`, e.g. `lambda p: p.mget(keys)`) and its reader."""
        self._check_open()
        command(self._pipe)
        reply: Reply[T] = Reply(parse)
        self._replies.append(reply)
        return reply

    def write(self, command: Callable[[Any], object]) -> None:
        """Queue one command nobody reads; its exception reply is raised by `execute()`."""
        self._check_open()
        command(self._pipe)
        self._replies.append(None)

    def eval(
        self, script: LuaScript, keys: Sequence[str], args: Sequence[Any], parse: Callable[[Any], T]
    ) -> Reply[T]:
        """Queue a script call (EVALSHA) and its reader."""
        self._check_open()
        self._evals[len(self._replies)] = (script, keys, args)
        return self.queue(lambda pipe: pipe.evalsha(script.sha, len(keys), *keys, *args), parse)

    def write_eval(self, script: LuaScript, keys: Sequence[str], args: Sequence[Any]) -> None:
        """Queue a script call (EVALSHA) nobody reads; its exception reply is raised by `execute()`."""
        self._check_open()
        self._evals[len(self._replies)] = (script, keys, args)
        self.write(lambda pipe: pipe.evalsha(script.sha, len(keys), *keys, *args))

    def execute(self) -> None:
        """Send everything queued, in one round trip, and hand each reply to its reader."""
        self._check_open()
        self._executed = True
        if not self._replies:
            return
        answers = list(self._pipe.execute(raise_on_error=False))
        self._load_missing_scripts(answers)
        unread: Exception | None = None
        for reply, answer in zip(self._replies, answers, strict=True):
            if reply is not None:
                reply._set(answer)
            elif isinstance(answer, Exception) and unread is None:
                unread = answer
        if unread is not None:
            raise unread

    def _load_missing_scripts(self, answers: list[Any]) -> None:
        missing = [
            index
            for index, answer in enumerate(answers)
            if index in self._evals and isinstance(answer, redis.exceptions.NoScriptError)
        ]
        if not missing:
            return
        scripts = {self._evals[index][0].sha: self._evals[index][0] for index in missing}
        again = self.client.pipeline(transaction=False)
        for script in scripts.values():
            again.script_load(script.text)
        for index in missing:
            script, keys, args = self._evals[index]
            again.evalsha(script.sha, len(keys), *keys, *args)
        retried = again.execute(raise_on_error=False)[len(scripts) :]
        for index, answer in zip(missing, retried, strict=True):
            answers[index] = answer

    def _check_open(self) -> None:
        if self._executed:
            raise RuntimeError("this round trip was already executed")
