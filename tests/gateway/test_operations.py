"""Liveness, readiness of the backends, metrics, and the merged OpenAPI document."""

from __future__ import annotations

import copy

import httpx

from bpm_common.testing.plugin import common_settings
from bpm_stack.embedded import free_port
from gateway.openapi import merge_documents
from gateway.routes import BACKENDS
from services.designer.main import create_app as designer_app
from services.designer.settings import DesignerSettings
from services.metrics.main import create_app as metrics_app
from services.metrics.settings import MetricsSettings
from services.notifier.main import create_app as notifier_app
from services.notifier.settings import NotifierSettings
from services.runtime.main import create_app as runtime_app
from services.runtime.settings import RuntimeSettings
from tests.gateway.standin import StandIn, serve


async def test_healthz(client: httpx.AsyncClient) -> None:
    response = await client.get("/healthz")

    assert response.status_code == 200
    assert response.json()["status"] == "ok"


async def test_ready_only_when_every_backend_is(
    client: httpx.AsyncClient, standins: dict[str, StandIn]
) -> None:
    ready = await client.get("/readyz")
    assert ready.status_code == 200, ready.text
    assert ready.json()["checks"] == {
        name: "ok" for name in ("designer", "runtime", "notifier", "metrics")
    }

    standins["runtime"].ready = False
    try:
        not_ready = await client.get("/readyz")
    finally:
        standins["runtime"].ready = True

    assert not_ready.status_code == 503
    assert not_ready.json()["not_ready"] == ["runtime"]


async def test_not_ready_when_a_backend_is_unreachable(start_gateway, dead_url: str) -> None:
    async with start_gateway(designer_url=dead_url) as url, httpx.AsyncClient(base_url=url) as http:
        response = await http.get("/readyz")

    assert response.status_code == 503
    assert response.json()["not_ready"] == ["designer"]
    assert response.json()["checks"]["designer"].startswith("unreachable")


async def test_metrics_show_route_and_upstream_latency(client: httpx.AsyncClient, bearer) -> None:
    await client.get("/api/v1/tasks", headers=bearer("alice", "employee"))

    metrics = (await client.get("/metrics")).text

    assert (
        'bpm_http_request_duration_seconds_count{method="GET",route="/api/v1/tasks/**",service="gateway"'
        in metrics
    )
    assert 'bpm_gateway_upstream_duration_seconds_count{backend="runtime",status="200"}' in metrics


async def test_one_merged_openapi_document(client: httpx.AsyncClient) -> None:
    response = await client.get("/openapi.json")

    assert response.status_code == 200
    doc = response.json()
    paths = doc["paths"]
    for path in (
        "/api/v1/auth/token",
        "/api/v1/auth/me",
        "/api/v1/definitions/{definition_id}",
        "/api/v1/tasks/{task_id}",
        "/api/v1/notifications",
        "/api/v1/analytics/processes/{key}/summary",
    ):
        assert path in paths, path
    assert not [p for p in paths if p.startswith("/internal")]
    assert "/api/v1/{path}" not in paths
    assert "/api/v1/tasks/misplaced" not in paths  # served by the designer, routed to the runtime

    schemas = doc["components"]["schemas"]
    assert "Item" not in schemas
    assert set(schemas["designer_Item"]["properties"]) == {"id", "key"}
    assert set(schemas["runtime_Item"]["properties"]) == {"id", "assignee"}
    assert (
        schemas["ItemList"]["properties"]["items"]["items"]["$ref"]
        == "#/components/schemas/designer_Item"
    )
    task_schema = paths["/api/v1/tasks/{task_id}"]["get"]["responses"]["200"]["content"][
        "application/json"
    ]
    assert task_schema["schema"]["$ref"] == "#/components/schemas/runtime_Item"
    assert (
        "Shared" in schemas and "designer_Shared" not in schemas
    )  # the same everywhere: kept once

    assert doc["components"]["securitySchemes"]["bearerAuth"]["scheme"] == "bearer"
    assert paths["/api/v1/tasks/{task_id}"]["get"]["security"] == [{"bearerAuth": []}]
    assert paths["/api/v1/auth/me"]["get"]["security"] == [{"bearerAuth": []}]
    assert paths["/api/v1/auth/token"]["post"]["security"] == []
    assert "security" not in paths["/healthz"]["get"]

    docs = await client.get("/docs")
    assert docs.status_code == 200
    assert "swagger" in docs.text.lower() and "/openapi.json" in docs.text


async def test_openapi_picks_up_a_service_that_comes_up_later(start_gateway, standins) -> None:
    port = free_port()
    async with (
        start_gateway(metrics_url=f"http://127.0.0.1:{port}") as url,
        httpx.AsyncClient(base_url=url) as http,
    ):
        before = (await http.get("/openapi.json")).json()
        async with serve(standins["metrics"].app(), port=port):
            after = (await http.get("/openapi.json")).json()

    assert before["info"]["x-unavailable-services"] == ["metrics"]
    assert "/api/v1/analytics/processes/{key}/summary" not in before["paths"]
    assert "/api/v1/tasks/{task_id}" in before["paths"]
    assert "x-unavailable-services" not in after["info"]
    assert "/api/v1/analytics/processes/{key}/summary" in after["paths"]


def test_merge_renames_schemas_that_refer_to_renamed_ones() -> None:
    def service_doc(path: str, leaf: dict) -> dict:
        return {
            "openapi": "3.1.0",
            "paths": {
                path: {
                    "get": {
                        "operationId": "get_it",
                        "responses": {
                            "200": {
                                "content": {
                                    "application/json": {
                                        "schema": {"$ref": "#/components/schemas/Wrapper"}
                                    }
                                }
                            }
                        },
                    }
                }
            },
            "components": {
                "schemas": {
                    "Wrapper": {"properties": {"leaf": {"$ref": "#/components/schemas/Leaf"}}},
                    "Leaf": leaf,
                    "Unused": {"type": "string"},
                }
            },
        }

    own = {"openapi": "3.1.0", "info": {"title": "t", "version": "1"}, "paths": {}}
    designer = service_doc("/api/v1/forms", {"type": "string"})
    runtime = service_doc("/api/v1/jobs", {"type": "integer"})
    originals = copy.deepcopy((designer, runtime))

    merged = merge_documents(own, {"designer": designer, "runtime": runtime})

    schemas = merged["components"]["schemas"]
    assert set(schemas) == {"designer_Leaf", "runtime_Leaf", "designer_Wrapper", "runtime_Wrapper"}
    assert (
        schemas["runtime_Wrapper"]["properties"]["leaf"]["$ref"]
        == "#/components/schemas/runtime_Leaf"
    )
    jobs = merged["paths"]["/api/v1/jobs"]["get"]
    assert jobs["responses"]["200"]["content"]["application/json"]["schema"]["$ref"].endswith(
        "runtime_Wrapper"
    )
    assert jobs["operationId"] == "runtime_get_it"  # operation ids stay unique
    assert (designer, runtime) == originals  # the services' documents are not changed


def test_every_path_of_every_service_is_routed_to_it(pg_url) -> None:
    """Each `/api/v1/<segment>` a service serves is routed to that service; the
    administrators' `/api/v1/admin/...` was once served by the runtime but not routed."""
    common = common_settings(pg_url)
    apps = {
        "designer": designer_app(DesignerSettings(common=common)),
        "runtime": runtime_app(RuntimeSettings(common=common)),
        "notifier": notifier_app(NotifierSettings(common=common)),
        "metrics": metrics_app(MetricsSettings(common=common)),
    }
    unrouted = sorted(
        (service, path)
        for service, app in apps.items()
        for path in app.openapi()["paths"]
        if path.startswith("/api/v1/") and BACKENDS.get(path.split("/")[3]) != service
    )
    assert unrouted == []
