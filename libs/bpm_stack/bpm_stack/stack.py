"""The five services as operating-system processes (uvicorn), started and stopped together."""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

import httpx

from bpm_stack.embedded import free_port, port_is_free

#: service name -> (ASGI app factory, default port). The gateway is started last.
SERVICES: dict[str, tuple[str, int]] = {
    "designer": ("services.designer.main:create_app", 8001),
    "runtime": ("services.runtime.main:create_app", 8002),
    "notifier": ("services.notifier.main:create_app", 8003),
    "metrics": ("services.metrics.main:create_app", 8004),
    "gateway": ("gateway.main:create_app", 8000),
}
BACKENDS = ("designer", "runtime", "notifier", "metrics")


@dataclass
class ServiceProcess:
    name: str
    port: int
    process: subprocess.Popen[bytes]
    log_path: Path

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"


@dataclass
class Stack:
    """Starts the platform's processes with one consistent environment.

    `prefix`, when given, names this stack's databases (`<prefix>_runtime`, ...) and
    its event namespace, so several stacks (tests, benchmarks) can share one
    PostgreSQL and one NATS server without seeing each other's data.
    """

    database_url: str
    nats_url: str
    jwt_secret: str
    log_dir: Path
    ports: dict[str, int] = field(default_factory=lambda: {n: p for n, (_, p) in SERVICES.items()})
    prefix: str | None = None
    seed_demo: bool = False
    extra_env: dict[str, str] = field(default_factory=dict)
    #: how many processes of a service to run (default 1); the gateway spreads requests over them
    replicas: dict[str, int] = field(default_factory=dict)
    processes: dict[str, ServiceProcess] = field(default_factory=dict)
    _replica_ports: dict[str, list[int]] = field(default_factory=dict)

    def url(self, name: str) -> str:
        return f"http://127.0.0.1:{self.ports[name]}"

    def env(self, name: str) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items() if not k.startswith("BPM_")}
        env.update(
            {
                "BPM_DATABASE_URL": self.database_url,
                "BPM_NATS_URL": self.nats_url,
                "BPM_JWT_SECRET": self.jwt_secret,
                "BPM_LOG_JSON": "true",
                "PYTHONUNBUFFERED": "1",
            }
        )
        for key, value in os.environ.items():  # user's own settings pass through
            if key.startswith("BPM_") and key not in env:
                env[key] = value
        if self.prefix:
            env["BPM_EVENT_NAMESPACE"] = self.prefix
            for svc in BACKENDS:
                env[f"BPM_{svc.upper()}_DATABASE_NAME"] = f"{self.prefix}_{svc}"
        for svc in BACKENDS:
            env[f"BPM_GATEWAY_{svc.upper()}_URL"] = ",".join(
                f"http://127.0.0.1:{port}" for port in self.replica_ports(svc)
            )
            env[f"BPM_{svc.upper()}_PORT"] = str(self.ports[svc])
        env["BPM_GATEWAY_PORT"] = str(self.ports["gateway"])
        if self.seed_demo:
            env["BPM_DESIGNER_SEED_DEMO"] = "true"
            env.setdefault("BPM_DEMO_PASSWORD", os.environ.get("BPM_DEMO_PASSWORD", "demo"))
        env.update(self.extra_env)
        return env

    def start_service(self, name: str, *, port: int | None = None, key: str | None = None) -> ServiceProcess:
        factory, _ = SERVICES[name]
        port = port or self.ports[name]
        if not port_is_free(port):
            raise RuntimeError(f"port {port} for the {name} service is taken (set BPM_{name.upper()}_PORT)")
        key = key or name
        self.log_dir.mkdir(parents=True, exist_ok=True)
        log_path = self.log_dir / f"{key}.log"
        log = open(log_path, "ab")  # noqa: SIM115 - owned by the child process
        cmd = [
            sys.executable, "-m", "uvicorn", factory, "--factory",
            "--host", "127.0.0.1", "--port", str(port),
            "--loop", "uvloop", "--http", "httptools",
            "--no-access-log", "--timeout-graceful-shutdown", "5",
        ]
        env = self.env(name)
        env[f"BPM_{name.upper()}_PORT"] = str(port)
        proc = subprocess.Popen(cmd, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)  # noqa: S603
        sp = ServiceProcess(name, port, proc, log_path)
        self.processes[key] = sp
        return sp

    def replica_ports(self, name: str) -> list[int]:
        """Ports of every replica of a service: its own port, then one more per extra replica."""
        if name not in self._replica_ports:
            extra = [free_port() for _ in range(self.replicas.get(name, 1) - 1)]
            self._replica_ports[name] = [self.ports[name], *extra]
        return self._replica_ports[name]

    def start(self, *, timeout: float = 60.0) -> None:
        """Start every service (and its replicas) and wait until all are ready; on failure stop
        the ones started."""
        try:
            for name in SERVICES:
                for index, port in enumerate(self.replica_ports(name)):
                    self.start_service(name, port=port, key=name if index == 0 else f"{name}-{index + 1}")
            self.wait_ready(timeout=timeout)
        except BaseException:
            self.stop()
            raise

    def wait_ready(self, keys: list[str] | None = None, *, timeout: float = 60.0) -> None:
        deadline = time.monotonic() + timeout
        pending = list(keys or self.processes)
        with httpx.Client(timeout=2.0) as client:
            while pending:
                key = pending[0]
                sp = self.processes[key]
                if sp.process.poll() is not None:
                    raise RuntimeError(
                        f"the {key} service exited with code {sp.process.returncode}; "
                        f"its log is {sp.log_path}:\n{_tail(sp.log_path)}"
                    )
                with contextlib.suppress(httpx.HTTPError):  # not listening yet
                    if client.get(f"{sp.url}/readyz").status_code == 200:
                        pending.pop(0)
                        continue
                if time.monotonic() > deadline:
                    raise TimeoutError(f"the {key} service is not ready; its log:\n{_tail(sp.log_path)}")
                time.sleep(0.1)

    def kill(self, key: str, sig: int = signal.SIGKILL) -> None:
        sp = self.processes[key]
        if sp.process.poll() is None:
            os.killpg(sp.process.pid, sig)
            sp.process.wait(15)

    def stop(self, timeout: float = 15.0) -> None:
        for sp in reversed(list(self.processes.values())):
            if sp.process.poll() is None:
                with contextlib.suppress(ProcessLookupError):  # already gone
                    os.killpg(sp.process.pid, signal.SIGTERM)
        deadline = time.monotonic() + timeout
        for sp in self.processes.values():
            try:
                sp.process.wait(max(deadline - time.monotonic(), 0.1))
            except subprocess.TimeoutExpired:
                os.killpg(sp.process.pid, signal.SIGKILL)
                sp.process.wait()


def _tail(path: Path, lines: int = 40) -> str:
    try:
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])
    except OSError:
        return "(no log)"
