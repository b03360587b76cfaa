"""Fixtures of the security tests: the runtime's, the designer's and the gateway's (all but
the gateway's `client`, which would clash with the designer's)."""

from tests.designer.conftest import client, db, settings_overrides  # noqa: F401
from tests.gateway.conftest import (  # noqa: F401
    bearer,
    local_issuer,
    standin_urls,
    standins,
    start_gateway,
)
from tests.runtime.conftest import runtime  # noqa: F401
