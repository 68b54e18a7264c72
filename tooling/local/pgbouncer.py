"""PgBouncer in transaction mode in front of the embedded PostgreSQL: the local stand-in for RDS Proxy.

The request path (the connection pool of shared.db) reaches PostgreSQL through it, as deployed
functions reach it through RDS Proxy, so that what RDS Proxy refuses or pins fails here first: a
startup parameter such as `options=-c statement_timeout=...` is refused, and session state (SET,
prepared statements, advisory locks) does not survive from one transaction to the next. Jobs and
migrations connect to PostgreSQL directly (DATABASE_DIRECT_URL), as they do in AWS.

The request path's statement timeout is the pooler's business, as on RDS (the proxy's connections
get the server's default): PgBouncer runs `SET statement_timeout` on each server connection it opens.

PgBouncer refuses to run as root; as root it is started with `-u` as the user pgserver runs
PostgreSQL as, and its files are that user's.
"""

from __future__ import annotations

import os
import pwd
import shutil
import socket
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import parse_qs, urlsplit, urlunsplit

from shared.errors import ConfigurationError

POOLER_ENV = "TG_LOCAL_POOLER"  # "off": no PgBouncer, the request path goes straight to PostgreSQL
START_TIMEOUT_S = 15.0
QUERY_WAIT_TIMEOUT_S = 2


def pgbouncer_executable() -> str | None:
    return shutil.which("pgbouncer") or next(
        (path for path in ("/usr/sbin/pgbouncer", "/usr/bin/pgbouncer") if os.access(path, os.X_OK)), None
    )


def pooler_wanted() -> bool:
    return os.environ.get(POOLER_ENV, "on").lower() not in {"off", "0", "false", "no"}


@dataclass
class Upstream:
    """Where PostgreSQL listens, read from a libpq URL (pgserver's: a unix socket directory)."""

    host: str
    port: int
    user: str

    @classmethod
    def from_url(cls, url: str) -> Upstream:
        parts = urlsplit(url)
        query = parse_qs(parts.query)
        host = query.get("host", [parts.hostname or "127.0.0.1"])[0]
        return cls(host=host, port=parts.port or 5432, user=parts.username or "postgres")


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


class PgBouncer:
    def __init__(self, workdir: Path, upstream_url: str, *, statement_timeout_ms: int) -> None:
        executable = pgbouncer_executable()
        if executable is None:
            raise ConfigurationError(
                "pgbouncer is not installed: `apt-get install pgbouncer` (make install does it as root), "
                f"or {POOLER_ENV}=off to reach PostgreSQL without the pooler"
            )
        self.executable = executable
        self.dir = workdir
        self.upstream_url = upstream_url
        self.upstream = Upstream.from_url(upstream_url)
        self.statement_timeout_ms = statement_timeout_ms
        self.port = _free_port()
        self.pidfile = workdir / "pgbouncer.pid"
        self.config = workdir / "pgbouncer.ini"
        self.pid: int | None = None

    def url(self, database: str | None = None) -> str:
        """The upstream URL with the pooler's address instead: same user and database."""
        parts = urlsplit(self.upstream_url)
        dbname = database or parts.path.lstrip("/") or "postgres"
        return urlunsplit(("postgresql", f"{self.upstream.user}@127.0.0.1:{self.port}", f"/{dbname}", "", ""))

    def _write_files(self) -> None:
        self.dir.mkdir(parents=True, exist_ok=True)
        (self.dir / "userlist.txt").write_text(f'"{self.upstream.user}" ""\n')
        # `*`: every database of the server, each with its own pool (the tests make one per test).
        timeout = f"connect_query='SET statement_timeout = {int(self.statement_timeout_ms)}'"
        self.config.write_text(
            "[databases]\n"
            f"* = host={self.upstream.host} port={self.upstream.port} user={self.upstream.user} {timeout}\n"
            "\n[pgbouncer]\n"
            "listen_addr = 127.0.0.1\n"
            f"listen_port = {self.port}\n"
            "unix_socket_dir =\n"
            "auth_type = trust\n"
            f"auth_file = {self.dir / 'userlist.txt'}\n"
            "pool_mode = transaction\n"
            "max_client_conn = 2000\n"
            "default_pool_size = 20\n"
            "server_login_retry = 1\n"
            # A client waits this long for a server connection, then gets an error (RDS Proxy's
            # borrow timeout): a dead PostgreSQL must not hold a request past its budget.
            f"query_wait_timeout = {QUERY_WAIT_TIMEOUT_S}\n"
            "server_connect_timeout = 2\n"
            # The client library's own startup parameters that RDS Proxy passes too; `options` is not one.
            "ignore_startup_parameters = extra_float_digits\n"
            f"logfile = {self.dir / 'pgbouncer.log'}\n"
            f"pidfile = {self.pidfile}\n"
            "log_connections = 0\nlog_disconnections = 0\n"
        )
        if os.geteuid() == 0:
            owner = pwd.getpwnam(_run_as())
            for path in (self.dir, *self.dir.iterdir()):
                os.chown(path, owner.pw_uid, owner.pw_gid)

    def start(self) -> int:
        self._write_files()
        self.pidfile.unlink(missing_ok=True)
        command = [self.executable, "-d", "-q", str(self.config)]
        if os.geteuid() == 0:
            command[1:1] = ["-u", _run_as()]
        done = subprocess.run(command, capture_output=True, text=True, timeout=30, stdin=subprocess.DEVNULL)
        if done.returncode != 0:
            raise ConfigurationError(f"pgbouncer did not start: {(done.stderr or done.stdout).strip()[:300]}")
        deadline = time.monotonic() + START_TIMEOUT_S
        while time.monotonic() < deadline:
            if self.pidfile.exists() and self._listening():
                text = self.pidfile.read_text().strip()
                if text.isdigit():
                    self.pid = int(text)
                    return self.pid
            time.sleep(0.05)
        log = self.dir / "pgbouncer.log"
        tail = log.read_text()[-300:] if log.exists() else ""
        raise ConfigurationError(f"pgbouncer did not listen on 127.0.0.1:{self.port}: {tail}")

    def _listening(self) -> bool:
        with socket.socket() as probe:
            probe.settimeout(0.2)
            return probe.connect_ex(("127.0.0.1", self.port)) == 0


def _run_as() -> str:
    """The unprivileged user PgBouncer runs as when we are root: pgserver's, else nobody."""
    for name in ("pgserver", "nobody"):
        try:
            pwd.getpwnam(name)
        except KeyError:
            continue
        return name
    raise ConfigurationError(
        "running as root, and no unprivileged user (pgserver, nobody) to run pgbouncer as"
    )
