"""What the connector does with odd answers: bytes PostgreSQL cannot store, non-JSON and
invalid UTF-8 bodies, missing or mistyped response paths."""

from __future__ import annotations

from aiohttp import web

from tests.http_connector.conftest import instance, item, start

HTTP = """<bpm:http method="POST" url="${url}" timeout="PT2S" retries="2" retryBackoff="PT10S"
  resultVariable="res"><bpm:response variable="picked" path="data.items.1.id"/></bpm:http>"""


async def test_a_nul_character_in_a_text_answer_is_stored_without_it(runtime, server, connector):
    async def nul(request: web.Request) -> web.Response:
        return web.Response(body=b"ok\x00done", content_type="text/plain")

    server.routes["nul-text"] = nul
    instance_id = await start(runtime, "http-nul-text", HTTP, url=server.url("nul-text"))
    assert await connector.run_due() == ["completed"]
    view = await instance(runtime, instance_id)
    assert view["active_nodes"] == ["after"]
    assert "\x00" not in view["variables"]["res"]["body"]


async def test_a_nul_escape_in_a_json_answer_is_stored_without_it(runtime, server, connector):
    async def nul(request: web.Request) -> web.Response:
        return web.Response(body=b'{"data": {"items": [{"id": "a"}, {"id": "b\\u0000c"}]}}',
                            content_type="application/json")

    server.routes["nul-json"] = nul
    instance_id = await start(runtime, "http-nul-json", HTTP, url=server.url("nul-json"))
    assert await connector.run_due() == ["completed"]
    view = await instance(runtime, instance_id)
    assert view["active_nodes"] == ["after"]
    assert "\x00" not in view["variables"]["picked"]


async def test_nan_in_a_json_answer_does_not_wedge_the_work(runtime, server, connector):
    async def nan(request: web.Request) -> web.Response:
        return web.Response(body=b'{"data": {"items": [NaN, {"id": Infinity}]}}', content_type="application/json")

    server.routes["nan"] = nan
    instance_id = await start(runtime, "http-nan", HTTP, url=server.url("nan"))
    outcome = await connector.run_due()
    assert outcome == ["completed"], (await item(runtime))["last_error"]
    view = await instance(runtime, instance_id)
    assert view["active_nodes"] == ["after"]


async def test_invalid_utf8_and_non_json_answers_are_kept_as_text(runtime, server, connector):
    async def latin(request: web.Request) -> web.Response:
        return web.Response(body=b"caf\xe9 {", content_type="application/json")

    server.routes["latin"] = latin
    instance_id = await start(runtime, "http-latin", HTTP, url=server.url("latin"))
    assert await connector.run_due() == ["completed"]
    view = await instance(runtime, instance_id)
    assert view["variables"]["res"]["body"] == "caf\ufffd {"
    assert view["variables"]["picked"] is None
    assert (await item(runtime))["state"] == "completed"


async def test_a_json_answer_nested_deeper_than_python_parses_is_kept_as_text(runtime, server, connector):
    async def deep(request: web.Request) -> web.Response:
        return web.Response(body=b"[" * 100_000 + b"]" * 100_000, content_type="application/json")

    server.routes["deep"] = deep
    instance_id = await start(runtime, "http-deep", HTTP, url=server.url("deep"))
    outcome = await connector.run_due()
    assert outcome == ["completed"], (await item(runtime))["last_error"]
    view = await instance(runtime, instance_id)
    assert isinstance(view["variables"]["res"]["body"], str)


async def test_a_compressed_answer_is_bounded_while_it_is_inflated(runtime, server, connector):
    import gzip
    import tracemalloc

    bomb = gzip.compress(b"\0" * (200 * 1024 * 1024), 9)
    assert len(bomb) < 512 * 1024, "within the response limit on the wire"

    async def inflate(request: web.Request) -> web.Response:
        return web.Response(body=bomb, headers={"Content-Encoding": "gzip", "Content-Type": "text/plain"})

    server.routes["bomb"] = inflate
    await start(runtime, "http-bomb", HTTP, url=server.url("bomb"))
    tracemalloc.start()
    try:
        assert await connector.run_due() == ["incident"]
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert "more than" in (await item(runtime))["last_error"]
    assert peak < 32 * 1024 * 1024, f"{peak / 1e6:.0f} MB held for an answer limited to 512 KiB"


async def test_a_compressed_json_answer_is_decoded(runtime, server, connector):
    import gzip
    import zlib

    payload = b'{"data": {"items": [{"id": "a"}, {"id": "b"}]}}'

    async def packed(request: web.Request) -> web.Response:
        coding = request.query["c"]
        body = {"gzip": gzip.compress(payload), "deflate": zlib.compress(payload),
                "raw": zlib.compress(payload)[2:-4]}[coding]
        header = "deflate" if coding == "raw" else coding
        return web.Response(body=body, headers={"Content-Encoding": header, "Content-Type": "application/json"})

    server.routes["packed"] = packed
    for coding in ("gzip", "deflate", "raw"):
        instance_id = await start(runtime, f"http-packed-{coding}", HTTP, url=server.url("packed") + f"?c={coding}")
        assert await connector.run_due() == ["completed"], coding
        assert (await instance(runtime, instance_id))["variables"]["picked"] == "b"


async def test_an_endless_answer_is_cut_at_the_limit(runtime, server, connector):
    async def endless(request: web.Request) -> web.StreamResponse:
        response = web.StreamResponse(headers={"Content-Type": "text/plain"})
        await response.prepare(request)
        while True:
            await response.write(b"x" * 65536)

    server.routes["endless"] = endless
    await start(runtime, "http-endless", HTTP, url=server.url("endless"))
    assert await connector.run_due() == ["incident"]
    assert "more than" in (await item(runtime))["last_error"]


async def test_an_answer_that_trickles_in_is_cut_at_the_timeout(runtime, server, connector):
    import asyncio

    async def trickle(request: web.Request) -> web.StreamResponse:
        response = web.StreamResponse(headers={"Content-Type": "text/plain"})
        await response.prepare(request)
        for _ in range(200):
            await response.write(b"x")
            await asyncio.sleep(0.05)
        return response

    server.routes["trickle"] = trickle
    http = HTTP.replace('timeout="PT2S"', 'timeout="PT0.3S"')
    await start(runtime, "http-trickle", http, url=server.url("trickle"))
    assert await connector.run_due() == ["retrying"]
    assert "timed out after 0.3 s" in (await item(runtime))["last_error"]


async def test_an_answer_too_large_for_a_variable_opens_an_incident_naming_it(runtime, server, connector):
    async def large(request: web.Request) -> web.Response:
        return web.json_response({"data": {"items": [{"id": "a"}, {"id": "b"}]}, "pad": "x" * 300_000})

    server.routes["large"] = large
    await start(runtime, "http-large", HTTP, url=server.url("large"))
    assert await connector.run_due() == ["incident"]
    error = (await item(runtime))["last_error"]
    assert "could not be stored" in error and "res" in error, error


async def test_an_error_answer_says_why_in_the_incident(runtime, server, connector):
    async def refuse(request: web.Request) -> web.Response:
        return web.json_response({"error": "currency XYZ is not supported"}, status=422)

    server.routes["refuse"] = refuse
    await start(runtime, "http-refuse", HTTP.replace('retries="2"', 'retries="1"'), url=server.url("refuse"))
    assert await connector.run_due() == ["incident"]
    error = (await item(runtime))["last_error"]
    assert "HTTP 422" in error and "currency XYZ is not supported" in error, error


async def test_a_session_cookie_in_an_answer_is_not_stored_with_it(runtime, server, connector):
    async def login(request: web.Request) -> web.Response:
        response = web.json_response({"data": {"items": [{"id": "a"}, {"id": "b"}]}}, headers={"X-Request-Id": "r-1"})
        response.set_cookie("session", "s3cret-session")
        return response

    server.routes["cookie"] = login
    instance_id = await start(runtime, "http-cookie", HTTP, url=server.url("cookie"))
    assert await connector.run_due() == ["completed"]
    headers = (await instance(runtime, instance_id))["variables"]["res"]["headers"]
    assert headers["x-request-id"] == "r-1", "other headers are kept"
    assert "set-cookie" not in headers and "s3cret-session" not in str(headers)
