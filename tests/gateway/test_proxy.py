"""Calls passed on to the owning service: routing, role rules, headers, streams, failures."""

from __future__ import annotations

import asyncio
import re

import httpx
import pytest

from bpm_common.errors import PROBLEM_JSON
from tests.gateway.standin import StandIn


def _headers(echo: dict) -> dict[str, list[str]]:
    seen: dict[str, list[str]] = {}
    for name, value in echo["headers"]:
        seen.setdefault(name, []).append(value)
    return seen


@pytest.mark.parametrize(
    ("path", "service"),
    [
        ("/api/v1/definitions/d1/versions", "designer"),
        ("/api/v1/org/departments", "designer"),
        ("/api/v1/templates", "designer"),
        ("/api/v1/dictionaries/x", "designer"),
        ("/api/v1/forms/f1", "designer"),
        ("/api/v1/suggestions", "designer"),
        ("/api/v1/approval-trees/t", "designer"),
        ("/api/v1/process-instances", "runtime"),
        ("/api/v1/tasks", "runtime"),
        ("/api/v1/messages", "runtime"),
        ("/api/v1/signals", "runtime"),
        ("/api/v1/jobs", "runtime"),
        ("/api/v1/external-tasks", "runtime"),
        ("/api/v1/calendars/c", "runtime"),
        ("/api/v1/notifications/unread", "notifier"),
        ("/api/v1/notification-preferences", "notifier"),
        ("/api/v1/copies", "runtime"),
    ],
)
async def test_each_prefix_reaches_its_service(
    client: httpx.AsyncClient, bearer, path: str, service: str
) -> None:
    response = await client.get(path, headers=bearer("alice", "employee"))

    assert response.status_code == 200, response.text
    assert response.json()["service"] == service
    assert response.json()["path"] == path


async def test_request_is_passed_on_faithfully(client: httpx.AsyncClient, bearer) -> None:
    auth = bearer("alice", "employee")
    traceparent = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"
    response = await client.post(
        "/api/v1/process-instances/p%2F1/variables?status=201&tag=a&tag=b",
        content=b'{"amount": 12.50}',
        headers={
            **auth,
            "Content-Type": "application/json",
            "Accept": "application/json",
            "Accept-Language": "zh-CN",
            "Idempotency-Key": "idem-1",
            "X-Request-ID": "req-123",
            "traceparent": traceparent,
            "Cookie": "session=secret",
            "X-Custom": "stays-here",
            "X-Forwarded-For": "6.6.6.6",
        },
    )

    assert response.status_code == 201
    echo = response.json()
    assert echo["method"] == "POST"
    assert echo["raw_path"] == "/api/v1/process-instances/p%2F1/variables"
    assert echo["query"] == "status=201&tag=a&tag=b"
    assert echo["body"] == '{"amount": 12.50}'
    sent = _headers(echo)
    assert sent["authorization"] == [auth["Authorization"]]
    assert sent["content-type"] == ["application/json"]
    assert sent["accept"] == ["application/json"]
    assert sent["accept-language"] == ["zh-CN"]
    assert sent["idempotency-key"] == ["idem-1"]
    assert sent["x-request-id"] == ["req-123"]
    assert sent["traceparent"] == [traceparent]
    # uvicorn trusts X-Forwarded-For from 127.0.0.1 only (its default `--forwarded-allow-ips`)
    assert sent["x-forwarded-for"] == ["6.6.6.6"]
    assert sent["x-forwarded-proto"] == ["http"]
    assert "cookie" not in sent and "x-custom" not in sent
    # the answer comes back with the backend's headers and one request id
    assert response.headers.get_list("x-request-id") == ["req-123"]
    assert response.headers["x-backend"] == "runtime"
    assert response.headers["etag"] == '"v1"'
    assert len(response.headers.get_list("date")) == 1


async def test_request_id_and_trace_context_are_created_when_missing(
    client: httpx.AsyncClient, bearer
) -> None:
    response = await client.delete("/api/v1/tasks/t-1/claim", headers=bearer("alice", "employee"))

    sent = _headers(response.json())
    assert sent["x-request-id"] == [response.headers["x-request-id"]]
    assert re.fullmatch(r"00-[0-9a-f]{32}-[0-9a-f]{16}-01", sent["traceparent"][0])


async def test_unknown_and_internal_paths_are_not_found(client: httpx.AsyncClient, bearer) -> None:
    auth = bearer("admin", "admin", "system")
    for method, path in [
        ("GET", "/api/v1/no-such-thing"),
        ("POST", "/api/v1/auth/other"),
        ("POST", "/internal/v1/auth/verify"),
        ("GET", "/internal/v1/anything"),
        ("POST", "/api/v1/tasks/%2e%2e/%2e%2e/%2e%2e/internal/v1/auth/verify"),
    ]:
        response = await client.request(
            method, path, headers=auth, json={"username": "alice", "password": "x"}
        )

        assert response.status_code == 404, (path, response.text)
        assert response.headers["content-type"] == PROBLEM_JSON


@pytest.mark.parametrize(
    ("method", "path", "roles", "status"),
    [
        ("GET", "/api/v1/definitions/d1/bpmn", ("employee",), 200),
        ("POST", "/api/v1/definitions", ("employee",), 403),
        ("POST", "/api/v1/definitions", ("process_designer",), 200),
        ("POST", "/api/v1/definitions", ("admin",), 200),
        ("POST", "/api/v1/definitions/lint", ("employee",), 403),
        ("POST", "/api/v1/definitions/lint", ("process_designer",), 200),
        ("PUT", "/api/v1/templates/t1", ("employee",), 403),
        ("PATCH", "/api/v1/forms/f1", ("analyst",), 403),
        ("DELETE", "/api/v1/dictionaries/d1", ("process_designer",), 200),
        ("POST", "/api/v1/approval-trees", ("employee",), 403),
        ("GET", "/api/v1/org/users", ("employee",), 200),
        ("POST", "/api/v1/org/users", ("process_designer",), 403),
        ("POST", "/api/v1/org/users", ("admin",), 200),
        ("PUT", "/api/v1/channels/email", ("process_designer",), 403),
        ("GET", "/api/v1/channels", ("employee",), 403),
        ("GET", "/api/v1/channels", ("admin",), 200),
        ("GET", "/api/v1/analytics/processes/p/summary", ("employee",), 403),
        ("GET", "/api/v1/analytics/processes/p/summary", ("analyst",), 200),
        ("GET", "/api/v1/reports/r", ("process_owner",), 200),
        ("POST", "/api/v1/exports", ("process_designer",), 200),
        ("GET", "/api/v1/exports/x", ("cashier",), 403),
        ("GET", "/api/v1/migrations", ("process_designer",), 403),
        ("POST", "/api/v1/migrations", ("admin",), 200),
        ("GET", "/api/v1/incidents", ("employee",), 403),
        ("POST", "/api/v1/admin/process-instances/i1/suspend", ("process_designer",), 403),
        ("POST", "/api/v1/admin/process-instances/i1/suspend", ("admin",), 200),
        ("PATCH", "/api/v1/admin/process-instances/i1/variables", ("admin",), 200),
        ("GET", "/api/v1/deliveries", ("analyst",), 403),
        ("GET", "/api/v1/deliveries", ("admin",), 200),
        ("POST", "/api/v1/tasks/t1/complete", ("employee",), 200),
    ],
)
async def test_role_rules(
    client: httpx.AsyncClient, bearer, method: str, path: str, roles: tuple[str, ...], status: int
) -> None:
    response = await client.request(method, path, headers=bearer("someone", *roles), json={})

    assert response.status_code == status, response.text
    if status == 403:
        assert response.headers["content-type"] == PROBLEM_JSON
        assert "requires one of the roles" in response.json()["detail"]


@pytest.mark.parametrize("accept", ["text/event-stream", None])
async def test_event_stream_passes_each_event_as_it_comes(
    client: httpx.AsyncClient, bearer, standins: dict[str, StandIn], accept: str | None
) -> None:
    notifier = standins["notifier"]
    notifier.release.clear()
    headers = bearer("alice", "employee")
    if accept:
        headers["Accept"] = accept
    async with client.stream("GET", "/api/v1/notifications/stream", headers=headers) as response:
        assert response.status_code == 200
        assert response.headers["content-type"].startswith("text/event-stream")
        lines = response.aiter_lines()
        first = [await anext(lines), await anext(lines)]
        # the backend holds the second event back until we have seen the first one
        assert first == ["event: hello", "data: first"]
        assert not notifier.release.is_set()
        notifier.release.set()
        rest = [line async for line in lines if line]
    assert rest == ["data: second"]


async def test_event_stream_outlives_the_read_timeout(start_gateway, standins: dict[str, StandIn], bearer) -> None:
    """An answer that turns out to be an event stream waits for its events without the
    calls' read timeout, even when the client did not ask for a stream."""
    notifier = standins["notifier"]
    notifier.release.clear()
    async with (
        start_gateway(upstream_read_timeout=0.2) as url,
        httpx.AsyncClient(base_url=url) as http,
        http.stream("GET", "/api/v1/notifications/stream", headers=bearer("alice", "employee")) as response,
    ):
        lines = response.aiter_lines()
        assert [await anext(lines), await anext(lines)] == ["event: hello", "data: first"]
        await asyncio.sleep(0.6)  # three read timeouts of quiet
        notifier.release.set()
        rest = [line async for line in lines if line]
    assert rest == ["data: second"]


async def test_large_answers_are_streamed_intact(client: httpx.AsyncClient, bearer) -> None:
    response = await client.get("/api/v1/exports/big", headers=bearer("olga", "analyst"))

    assert response.status_code == 200
    assert response.content == b"".join((f"{i:04d}" * 4096).encode() for i in range(64))


async def test_unreachable_service_is_a_bad_gateway(start_gateway, dead_url: str, bearer) -> None:
    async with start_gateway(metrics_url=dead_url) as url, httpx.AsyncClient(base_url=url) as http:
        response = await http.get(
            "/api/v1/analytics/processes/p/summary", headers=bearer("ann", "admin")
        )

    assert response.status_code == 502
    assert response.headers["content-type"] == PROBLEM_JSON
    assert response.json()["service"] == "metrics"
    assert "metrics" in response.json()["detail"]


async def test_slow_service_is_a_gateway_timeout(start_gateway, bearer) -> None:
    async with (
        start_gateway(upstream_read_timeout=0.2) as url,
        httpx.AsyncClient(base_url=url) as http,
    ):
        response = await http.get("/api/v1/tasks/slow", headers=bearer("alice", "employee"))

    assert response.status_code == 504
    assert response.headers["content-type"] == PROBLEM_JSON
    assert response.json()["service"] == "runtime"


async def test_oversized_body_is_refused(start_gateway, bearer) -> None:
    async with start_gateway(max_body_bytes=2048) as url, httpx.AsyncClient(base_url=url) as http:
        response = await http.post(
            "/api/v1/definitions", content=b"<x/>" * 1024, headers=bearer("dee", "process_designer")
        )

    assert response.status_code == 413
    assert response.headers["content-type"] == PROBLEM_JSON


async def test_backend_connections_are_kept_alive(client: httpx.AsyncClient, bearer) -> None:
    auth = bearer("alice", "employee")
    ports = {
        (await client.get("/api/v1/jobs", headers=auth)).json()["client_port"] for _ in range(5)
    }
    assert len(ports) == 1

    # a backend that ends the connection after its answer: the next call gets a new one
    closing = await client.post("/api/v1/jobs/last-word", headers=auth)
    after = await client.get("/api/v1/jobs", headers=auth)
    assert closing.status_code == after.status_code == 200
    assert "connection" not in closing.headers or closing.headers["connection"] != "close"


async def test_httpx_default_transport_works_too(start_gateway, dead_url: str, bearer) -> None:
    auth = bearer("alice", "employee")
    async with start_gateway(upstream_transport="httpcore", designer_url=dead_url) as url:
        async with httpx.AsyncClient(base_url=url) as http:
            echo = await http.post("/api/v1/tasks/t1/complete", headers=auth, json={"a": 1})
            down = await http.get("/api/v1/templates", headers=auth)
            big = await http.get("/api/v1/exports/big", headers=bearer("olga", "analyst"))

    assert echo.status_code == 200 and echo.json()["body"] == '{"a":1}'
    assert down.status_code == 502
    assert len(big.content) == 64 * 4 * 4096


async def test_several_replicas_of_a_backend_share_the_requests(start_gateway, standin_urls, bearer) -> None:
    """`BPM_GATEWAY_RUNTIME_URL` may list replicas; requests one after the other go to each in turn."""
    # the second "runtime replica" is the notifier stand-in, which echoes its own name
    replicas = f"{standin_urls['runtime']}, {standin_urls['notifier']}"
    async with start_gateway(runtime_url=replicas) as url, httpx.AsyncClient(base_url=url) as http:
        served = [
            (await http.get("/api/v1/tasks", headers=bearer("alice"))).json()["service"] for _ in range(4)
        ]
        assert sorted(served) == ["notifier", "notifier", "runtime", "runtime"]
        assert (await http.get("/readyz")).status_code == 200


async def test_a_replica_busy_with_a_call_gets_no_more_until_the_other_is_as_busy(
    start_gateway, standin_urls, bearer
) -> None:
    """Calls go to the replica with the fewest calls in flight: while one replica holds a slow
    call, the next calls all go to the other."""
    replicas = f"{standin_urls['runtime']}, {standin_urls['notifier']}"
    async with (
        start_gateway(runtime_url=replicas, upstream_read_timeout=1.0) as url,
        httpx.AsyncClient(base_url=url, timeout=10) as http,
    ):
        slow = asyncio.create_task(http.get("/api/v1/tasks/slow", headers=bearer("alice")))
        await asyncio.sleep(0.3)  # the slow call has reached its replica
        served = [
            (await http.get("/api/v1/tasks", headers=bearer("alice"))).json()["service"] for _ in range(4)
        ]
        assert (await slow).status_code == 504
    assert len(set(served)) == 1, served


async def test_approval_links_pass_without_a_bearer_token_and_nothing_else_does(client) -> None:
    """A chat message's approve/reject link carries its own signed token; the notifier checks it."""
    link = await client.post("/api/v1/notifications/actions/signed.token.here")
    assert link.status_code == 200 and link.json()["service"] == "notifier"
    assert "authorization" not in {k.lower() for k, _ in link.json()["headers"]}
    assert (await client.get("/api/v1/notifications")).status_code == 401
    assert (await client.post("/api/v1/notifications/read")).status_code == 401


async def test_employees_may_upload_attachments_but_not_change_forms(client, bearer) -> None:
    assert (await client.post("/api/v1/forms/attachments", headers=bearer("alice"))).status_code == 200
    assert (await client.post("/api/v1/forms/validate", headers=bearer("alice"))).status_code == 200
    assert (await client.put("/api/v1/forms/x", headers=bearer("alice"))).status_code == 403
    assert (await client.get("/api/v1/channels", headers=bearer("alice"))).status_code == 403


async def test_repeated_request_headers_reach_the_backend_joined(client: httpx.AsyncClient, bearer) -> None:
    headers = [*bearer("alice").items(), ("Accept-Language", "de"), ("Accept-Language", "fr;q=0.5")]

    response = await client.get("/api/v1/tasks", headers=headers)

    assert _headers(response.json())["accept-language"] == ["de, fr;q=0.5"]


async def test_head_requests_get_the_headers_only(client: httpx.AsyncClient, bearer) -> None:
    response = await client.head("/api/v1/tasks", headers=bearer("alice"))

    assert response.status_code == 200
    assert response.content == b""
    assert response.headers["etag"] == '"v1"'


async def test_cookies_a_backend_sets_are_not_sent_on_for_other_callers(
    start_gateway, standin_urls: dict[str, str], bearer
) -> None:
    # by host name: an HTTP client's cookie jar ignores cookies from IP addresses
    by_name = standin_urls["runtime"].replace("127.0.0.1", "localhost")
    async with start_gateway(runtime_url=by_name) as url, httpx.AsyncClient(base_url=url) as http:
        setting = await http.post("/api/v1/jobs/cookie", headers=bearer("alice"))
        http.cookies.clear()  # the browser of another user
        later = await http.get("/api/v1/jobs", headers=bearer("bob"))

    assert setting.headers["set-cookie"].startswith("session=")  # the caller gets it
    assert "cookie" not in _headers(later.json())


async def test_paths_with_encoded_line_breaks_reach_no_backend(client: httpx.AsyncClient, bearer) -> None:
    for roles in [("employee",), ("process_designer",)]:
        response = await client.post("/api/v1/definitions/a%0Ab", headers=bearer("dee", *roles), json={})

        assert response.status_code == 404, roles


async def test_an_unexpected_failure_is_a_problem_naming_the_request(bearer) -> None:
    from gateway.main import create_app
    from tests.gateway.conftest import gateway_settings

    app = create_app(gateway_settings({}))  # its lifespan not started: no backend pools
    transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
    async with httpx.AsyncClient(transport=transport, base_url="http://gateway") as http:
        response = await http.get("/api/v1/tasks", headers={**bearer("alice"), "X-Request-ID": "req-500"})

    assert response.status_code == 500
    assert response.headers["content-type"] == PROBLEM_JSON
    assert response.json()["request_id"] == "req-500"
