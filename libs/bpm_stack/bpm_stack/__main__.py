"""`python -m bpm_stack run`: the whole platform on this machine (what `make run` does)."""

from __future__ import annotations

import argparse
import os
import signal
import sys
import threading

from bpm_stack.infra import data_dir, jwt_secret, start_infrastructure
from bpm_stack.stack import SERVICES, Stack


def run(_: argparse.Namespace) -> int:
    root = data_dir()
    print(f"bpm: data folder {root}", flush=True)
    infra = start_infrastructure(root)
    for note in infra.notes:
        print(f"bpm: {note}", flush=True)
    ports = {name: int(os.environ.get(f"BPM_{name.upper()}_PORT", port)) for name, (_, port) in SERVICES.items()}
    stack = Stack(
        database_url=infra.database_url,
        nats_url=infra.nats_url,
        jwt_secret=jwt_secret(root),
        log_dir=root / "logs",
        ports=ports,
        seed_demo=True,
    )
    stopping = threading.Event()

    def _stop(signum: int, _frame: object) -> None:
        stopping.set()

    signal.signal(signal.SIGINT, _stop)
    signal.signal(signal.SIGTERM, _stop)
    try:
        print("bpm: starting designer, runtime, notifier, metrics and gateway ...", flush=True)
        stack.start(timeout=120)
        gw = stack.url("gateway")
        print("", flush=True)
        print(f"  gateway        {gw}   (API: {gw}/api/v1, OpenAPI: {gw}/openapi.json, docs: {gw}/docs)")
        for name in ("designer", "runtime", "notifier", "metrics"):
            url = stack.url(name)
            print(f"  {name:<14} {url}/docs   metrics: {url}/metrics")
        print(f"  gateway metrics {gw}/metrics")
        print(f"  logs           {root / 'logs'}")
        demo_password = "the value of BPM_DEMO_PASSWORD" if os.environ.get("BPM_DEMO_PASSWORD") else "demo"
        print(f"  demo users     alice bob carol dave erin admin designer (password: {demo_password})")
        print("\nbpm: running; press Ctrl-C to stop.", flush=True)
        while not stopping.wait(1.0):
            for key, sp in stack.processes.items():
                if sp.process.poll() is not None:
                    print(f"bpm: the {key} service exited (code {sp.process.returncode}); see {sp.log_path}")
                    stopping.set()
    except (RuntimeError, TimeoutError) as exc:
        print(f"bpm: failed to start: {exc}", file=sys.stderr)
        return 1
    finally:
        print("bpm: stopping ...", flush=True)
        stack.stop()
        infra.stop()
    print("bpm: stopped.", flush=True)
    return 0


def migration(args: argparse.Namespace) -> int:
    """Autogenerate a migration for one service against a scratch database."""
    import asyncio
    import importlib

    from sqlalchemy.engine import make_url
    from sqlalchemy.ext.asyncio import create_async_engine

    from bpm_common.db import drop_database, ensure_database
    from bpm_common.migrations import autogenerate, upgrade_to_head

    server = os.environ.get("BPM_DATABASE_URL")
    if not server:
        print("set BPM_DATABASE_URL to a PostgreSQL server for autogenerate", file=sys.stderr)
        return 2
    mod = importlib.import_module(f"services.{args.service}.app")
    definition = mod.definition()
    url = make_url(server).set(drivername="postgresql+asyncpg", database=f"migration_{args.service}")

    async def _go() -> None:
        await drop_database(url, url.database)
        await ensure_database(url)
        engine = create_async_engine(url)
        await upgrade_to_head(engine, definition.migrations, args.service)
        async with engine.connect() as conn:
            await conn.run_sync(lambda c: autogenerate(c, definition.migrations, args.message))
        await engine.dispose()
        await drop_database(url, url.database)

    asyncio.run(_go())
    return 0


def main() -> int:
    parser = argparse.ArgumentParser(prog="bpm_stack", description="Run the BPM platform")
    sub = parser.add_subparsers(dest="command", required=True)
    sub.add_parser("run", help="start embedded PostgreSQL and NATS (unless configured) and all services")
    mig = sub.add_parser("migration", help="autogenerate a migration for a service")
    mig.add_argument("service", choices=["designer", "runtime", "notifier", "metrics"])
    mig.add_argument("message")
    args = parser.parse_args()
    return {"run": run, "migration": migration}[args.command](args)


if __name__ == "__main__":
    sys.exit(main())
