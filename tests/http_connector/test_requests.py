"""What the connector sends: header values and URLs from templates with hostile or odd
variable values, methods from expressions, and body templates."""

from __future__ import annotations

import pytest

from bpm_common import jsonutil
from tests.http_connector.conftest import item, start, trail_text

SECRET = "s3cret-token-XYZ"
WITH_HEADER = """<bpm:http method="POST" url="${url}" timeout="PT2S" retries="2" retryBackoff="PT10S">
  <bpm:header name="Authorization" value="Bearer ${token}"/></bpm:http>"""


async def test_a_header_value_with_cr_lf_is_never_sent_and_its_secret_never_written(runtime, server, connector):
    url = server.url("crlf")
    await start(runtime, "http-crlf", WITH_HEADER, url=url, token=f"{SECRET}\r\nX-Injected: yes")
    assert await connector.run_due() == ["incident"], "retrying cannot mend the model's value"
    assert all("X-Injected" not in r["headers"] for r in server.hits("crlf"))
    assert "Authorization" in (await item(runtime))["last_error"], "the message names the header at fault"
    assert SECRET not in await trail_text(runtime)


async def test_a_header_value_outside_ascii_is_sent_as_utf8(runtime, server, connector):
    await start(runtime, "http-utf8-header", WITH_HEADER, url=server.url("utf8-header"), token="Zoë 中")
    assert await connector.run_due() == ["completed"], "it used to raise UnicodeEncodeError and loop unseen"
    [hit] = server.hits("utf8-header")
    assert (b"Authorization", "Bearer Zoë 中".encode()) in hit["raw_headers"]


async def test_a_header_value_from_an_empty_variable_is_trimmed_not_refused(runtime, server, connector):
    await start(runtime, "http-empty-header", WITH_HEADER, url=server.url("empty-header"), token="")
    assert await connector.run_due() == ["completed"]
    [hit] = server.hits("empty-header")
    assert hit["headers"]["Authorization"] == "Bearer"


@pytest.mark.parametrize("url", ["http://127.0.0.1:99999/x", "http://xn--a.com\u00ff/x", "http://[::1/x"])
async def test_a_url_that_cannot_be_called_ends_in_an_incident(runtime, connector, url):
    await start(runtime, "http-bad-url", WITH_HEADER, url=url, token=SECRET)
    assert await connector.run_due() == ["incident"]
    assert (await item(runtime))["last_error"]


async def test_a_url_with_credentials_in_userinfo_and_query_is_never_written(runtime, server, connector):
    async def fail(request):
        from aiohttp import web
        return web.Response(status=500, text="no")

    server.routes["creds"] = fail
    url = server.url("creds").replace("http://", f"http://user:{SECRET}@") + f"?api_key={SECRET}"
    await start(runtime, "http-creds", WITH_HEADER, url=url, token="x")
    assert await connector.run_due() == ["retrying"]
    assert SECRET not in await trail_text(runtime)


async def test_a_webhook_token_in_the_url_path_is_never_written(runtime, server, connector):
    """Slack- and Teams-style webhooks carry their secret in the path; errors name the URL
    with such segments masked and ordinary ones (`/r/hook`) readable. (The server has no
    such route: it answers 404.)"""
    token = "Xk3jd93JdkLs93kdLs9dk3Ls"
    await start(runtime, "http-hook", WITH_HEADER, url=f"{server.url('hook')}/{token}", token="x")
    assert await connector.run_due() == ["retrying"]
    written = await trail_text(runtime)
    assert token not in written and "/r/hook/***" in written


@pytest.mark.parametrize("method", ["GE T", "TRACE\r\nX: y"])
async def test_a_method_from_an_expression_that_is_no_method_ends_in_an_incident(runtime, server, connector, method):
    http = WITH_HEADER.replace('method="POST"', 'method="${verb}"')
    await start(runtime, "http-method", http, url=server.url("method"), token="x", verb=method)
    outcome = await connector.run_due()
    assert outcome == ["incident"], (await item(runtime))["last_error"]
    assert not server.hits("method")


async def test_a_json_body_template_keeps_a_quote_in_a_value_inside_its_string(runtime, server, connector):
    http = """<bpm:http method="POST" url="${url}" timeout="PT2S" retries="1">
      <bpm:body>{"name": "${name}", "amount": ${amount}}</bpm:body></bpm:http>"""
    name = 'x", "admin": true, "y": "z'
    await start(runtime, "http-json-body", http, url=server.url("json-body"), name=name, amount=5)
    assert await connector.run_due() == ["completed"]
    [hit] = server.hits("json-body")
    assert hit["headers"]["Content-Type"] == "application/json"
    assert jsonutil.loads(hit["body"]) == {"name": name, "amount": 5}


async def test_a_redirect_to_another_host_drops_the_authorization_header(runtime, server, connector):
    from aiohttp import web

    async def away(request):
        raise web.HTTPTemporaryRedirect(server.url("landing").replace("127.0.0.1", "localhost"))

    server.routes["away"] = away
    await start(runtime, "http-away", WITH_HEADER, url=server.url("away"), token=SECRET)
    assert await connector.run_due() == ["completed"]
    [landed] = server.hits("landing")
    assert landed["method"] == "POST"
    assert "Authorization" not in landed["headers"]


async def test_an_error_answer_that_echoes_the_credentials_does_not_write_them(runtime, server, connector):
    from aiohttp import web

    async def echo(request: web.Request) -> web.Response:
        return web.Response(status=401, text=f"invalid credentials: {request.headers['Authorization']}")

    server.routes["echo-auth"] = echo
    await start(runtime, "http-echo-auth", WITH_HEADER, url=server.url("echo-auth"), token=SECRET)
    assert await connector.run_due() == ["retrying"]
    written = await trail_text(runtime)
    assert SECRET not in written and "invalid credentials: ***" in written
