"""A throwaway PostgreSQL server for tests: initdb in a temp dir, start on a free loopback port,
stop (by pg_ctl, i.e. by its own pid file) when done. Password auth (scram) as in production.

initdb refuses to run as root, so as root the data dir is handed to the `postgres` user and the
server binaries run through `runuser -u postgres`. Use as a context manager or through
`postgres_server()`; the dbt tests wrap it in a session-scoped fixture (marker `postgres`).
"""

from __future__ import annotations

import contextlib
import glob
import os
import secrets
import shutil
import socket
import subprocess
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

DATABASE = "posthog"


def find_bin_dir() -> Path | None:
    """The newest /usr/lib/postgresql/<version>/bin that has initdb and pg_ctl."""
    preferred = Path("/usr/lib/postgresql/15/bin")
    if (preferred / "initdb").exists():
        return preferred
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"), reverse=True)
    return Path(found[0]).parent if found else None


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass
class PostgresServer:
    """Connection facts of a running test server."""

    host: str
    port: int
    user: str
    password: str
    database: str
    data_dir: Path

    def env(self) -> dict[str, str]:
        """The PG* variables the project reads."""
        return {
            "PGHOST": self.host,
            "PGPORT": str(self.port),
            "PGUSER": self.user,
            "PGDATABASE": self.database,
            "PGPASSWORD": self.password,
        }


def _as_owner(cmd: list[str], as_postgres: bool) -> list[str]:
    return ["runuser", "-u", "postgres", "--", *cmd] if as_postgres else cmd


@contextlib.contextmanager
def postgres_server(database: str = DATABASE) -> Iterator[PostgresServer]:
    """Start a fresh server and create `database`; always stops it and removes its files."""
    bin_dir = find_bin_dir()
    if bin_dir is None:
        raise RuntimeError("PostgreSQL binaries not found under /usr/lib/postgresql/*/bin")
    as_postgres = os.geteuid() == 0
    if as_postgres and shutil.which("runuser") is None:
        raise RuntimeError("running as root needs `runuser` to start PostgreSQL as user postgres")
    root = Path(tempfile.mkdtemp(prefix="pc-pg-"))
    data_dir = root / "data"
    socket_dir = root / "sock"
    data_dir.mkdir()
    socket_dir.mkdir()
    password = secrets.token_hex(12)
    password_file = root / "pw"
    password_file.write_text(password + "\n")
    if as_postgres:
        shutil.chown(root, "postgres", "postgres")
        shutil.chown(data_dir, "postgres", "postgres")
        shutil.chown(socket_dir, "postgres", "postgres")
        shutil.chown(password_file, "postgres", "postgres")
    user = "postgres" if as_postgres else os.environ.get("USER", "postgres")
    port = _free_port()
    log_file = root / "server.log"
    started = False
    try:
        subprocess.run(
            _as_owner(
                [str(bin_dir / "initdb"), "-D", str(data_dir), "-U", user, "-A", "scram-sha-256",
                 f"--pwfile={password_file}",
                 "-E", "UTF8", "--locale=C", "--no-sync"],
                as_postgres,
            ),
            check=True, capture_output=True, text=True,
        )
        options = (
            f"-c listen_addresses=127.0.0.1 -p {port} -c unix_socket_directories={socket_dir} "
            "-c fsync=off -c synchronous_commit=off -c full_page_writes=off -c TimeZone=UTC "
            "-c max_connections=40"
        )
        if as_postgres:
            log_file.touch()
            shutil.chown(log_file, "postgres", "postgres")
        subprocess.run(
            _as_owner(
                [str(bin_dir / "pg_ctl"), "-D", str(data_dir), "-l", str(log_file), "-o", options,
                 "-w", "-t", "60", "start"],
                as_postgres,
            ),
            check=True, capture_output=True, text=True,
        )
        started = True
        password_file.unlink()
        _wait_ready(bin_dir, port, user)
        subprocess.run(
            [str(bin_dir / "psql"), "-h", "127.0.0.1", "-p", str(port), "-U", user, "-d", "postgres",
             "-v", "ON_ERROR_STOP=1", "-q", "-c", f'create database "{database}"'],
            check=True, capture_output=True, text=True, env={**os.environ, "PGPASSWORD": password},
        )
        yield PostgresServer("127.0.0.1", port, user, password, database, data_dir)
    except subprocess.CalledProcessError as exc:
        log = log_file.read_text() if log_file.exists() else ""
        raise RuntimeError(
            f"PostgreSQL test server failed: {' '.join(exc.cmd)}\n{exc.stdout}\n{exc.stderr}\n{log[-2000:]}"
        ) from None
    finally:
        if started:
            subprocess.run(
                _as_owner([str(bin_dir / "pg_ctl"), "-D", str(data_dir), "-m", "fast", "-w", "stop"],
                          as_postgres),
                capture_output=True, text=True,
            )
        shutil.rmtree(root, ignore_errors=True)


def _wait_ready(bin_dir: Path, port: int, user: str, timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while True:
        probe = subprocess.run(
            [str(bin_dir / "pg_isready"), "-h", "127.0.0.1", "-p", str(port), "-U", user],
            capture_output=True, text=True,
        )
        if probe.returncode == 0:
            return
        if time.monotonic() > deadline:
            raise RuntimeError(f"PostgreSQL on port {port} not ready after {timeout}s: {probe.stdout}")
        time.sleep(0.2)
