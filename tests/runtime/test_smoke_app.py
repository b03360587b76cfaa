from bpm_common.events.memory import MemoryBroker
from bpm_common.testing.plugin import common_settings, service_client, service_database
from services.runtime.app import definition
from services.runtime.main import create_app
from services.runtime.settings import RuntimeSettings


async def test_operational_endpoints(pg_url, run_prefix, token_for):
    sdb = await service_database(definition(), pg_url, run_prefix)
    async with sdb.rolled_back() as db:
        app = create_app(RuntimeSettings(common=common_settings(pg_url)), db=db, broker=MemoryBroker())
        async with service_client(app, token_for) as client:
            assert (await client.get("/healthz")).json()["status"] == "ok"
            ready = await client.get("/readyz")
            assert ready.status_code == 200, ready.text
            metrics = await client.get("/metrics")
            assert "bpm_http_request_duration_seconds" in metrics.text
            missing = await client.get("/nope")
            assert missing.status_code == 404
            assert missing.headers["content-type"] == "application/problem+json"
