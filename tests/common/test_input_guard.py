"""A NUL character, or a number out of range, is refused by every service before any
endpoint runs, naming the field.

PostgreSQL cannot store U+0000 in text or jsonb; before the guard, such a value reached
the database and came back as a 500 (found by sending it to every endpoint). The apps
here are the services' own, built as they are served; the guard answers before their
routes, so no database is needed to see it (`tests/runtime/test_nul_guard.py` checks that
nothing was written, and that text merely spelling the escape goes through).
"""

from __future__ import annotations

from decimal import Decimal

import httpx
import pytest

from bpm_common import jsonutil
from bpm_common.guard import NUL_MESSAGE, NUMBER_MESSAGE, SURROGATE_MESSAGE
from bpm_common.testing.plugin import common_settings
from services.designer.main import create_app as designer_app
from services.designer.settings import DesignerSettings
from services.metrics.main import create_app as metrics_app
from services.metrics.settings import MetricsSettings
from services.notifier.main import create_app as notifier_app
from services.notifier.settings import NotifierSettings
from services.runtime.main import create_app as runtime_app
from services.runtime.settings import RuntimeSettings

APPS = {
    "designer": lambda url: designer_app(DesignerSettings(common=common_settings(url))),
    "runtime": lambda url: runtime_app(RuntimeSettings(common=common_settings(url))),
    "notifier": lambda url: notifier_app(NotifierSettings(common=common_settings(url))),
    "metrics": lambda url: metrics_app(MetricsSettings(common=common_settings(url))),
}
CALLS = [  # (method, path, query, JSON body, the field named)
    ("GET", "/api/v1/definitions/a%00b", None, None, "path"),
    ("GET", "/api/v1/tasks", "node_id=ok&key=a%00b", None, "key"),
    ("POST", "/api/v1/messages", None, {"name": "pay\u0000", "variables": {}}, "name"),
    ("POST", "/api/v1/process-instances", None, {"definition_key": "k", "variables": {"notes": ["ok", "x\u0000"]}},
     "variables.notes.1"),
    ("PUT", "/api/v1/org/users/u", None, {"roles": {"\u0000": 1}}, "roles"),
    ("PATCH", "/api/v1/channels/c", None, {"name": "\u0000"}, "name"),
]
RAW = [  # a raw body (what `json=` would not send), the field named, the message
    (b'{"definition_key": "k", "variables": {"n": 1e999999999}}', "variables.n", NUMBER_MESSAGE),
    (b'{"name": "pay", "variables": {"rows": [1, 2.5, -3E-5000]}}', "variables.rows.2", NUMBER_MESSAGE),
    (b'{"amount": ' + b"7" * 1001 + b"}", "amount", NUMBER_MESSAGE),
    (b'{"name": "ok \\ud83d\\ude00", "note": "half \\udc00"}', "note", SURROGATE_MESSAGE),
]


@pytest.mark.parametrize("service", sorted(APPS))
@pytest.mark.parametrize(("method", "path", "query", "body", "field"), CALLS)
async def test_a_nul_character_is_refused_naming_the_field(pg_url, service, method, path, query, body, field):
    app = APPS[service](pg_url)
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://svc") as client:
        response = await client.request(
            method, path + (f"?{query}" if query else ""), json=body, headers={"Authorization": "Bearer x"}
        )
    assert response.status_code == 422, response.text
    assert response.headers["content-type"] == "application/problem+json"
    assert response.json()["errors"] == [{"field": field, "message": NUL_MESSAGE}]


@pytest.mark.parametrize("service", sorted(APPS))
@pytest.mark.parametrize(("body", "field", "message"), RAW)
async def test_numbers_out_of_range_and_lone_surrogates_are_refused_naming_the_field(
    pg_url, service, body, field, message
):
    """`1e999999999` froze the runtime: writing it out as an exact integer never ended.
    A lone surrogate cannot be encoded for the database (an emoji's escaped pair can)."""
    app = APPS[service](pg_url)
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://svc") as client:
        response = await client.post(
            "/api/v1/process-instances", content=body,
            headers={"Authorization": "Bearer x", "Content-Type": "application/json"},
        )
    assert response.status_code == 422, response.text
    assert response.json()["errors"] == [{"field": field, "message": message}]


def test_exact_json_refuses_numbers_out_of_range_and_writes_huge_results_as_text():
    with pytest.raises(jsonutil.NumberOutOfRange):
        jsonutil.loads('{"n": 1e999999999}')
    assert jsonutil.loads("[2.5, 1e1000]") == [Decimal("2.5"), Decimal("1e1000")]
    assert jsonutil.dumps(Decimal("2E+10")) == "20000000000"
    # an expression can still compute one (Decimal allows exponents to 999999): text, at once
    assert jsonutil.dumps(Decimal("1E+999999")) == '"1E+999999"'
