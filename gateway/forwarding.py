"""What crosses the gateway: request headers passed on, response headers passed back."""

from __future__ import annotations

import os
import re
from collections.abc import Iterable

from starlette.types import Scope

#: request headers passed to the backends (everything else stays at the gateway)
FORWARDED_REQUEST_HEADERS = frozenset(
    {
        b"authorization",
        b"content-type",
        b"accept",
        b"accept-language",
        b"accept-encoding",
        b"idempotency-key",
        b"x-request-id",
        b"traceparent",
        b"tracestate",
        b"if-match",
        b"if-none-match",
        b"last-event-id",  # an EventSource resuming its stream
    }
)

#: response headers not passed back: hop-by-hop ones (RFC 9110 §7.6.1) and the ones our own
#: server and middleware set (a second copy would duplicate them)
DROPPED_RESPONSE_HEADERS = frozenset(
    {
        b"connection",
        b"keep-alive",
        b"proxy-authenticate",
        b"proxy-authorization",
        b"proxy-connection",
        b"te",
        b"trailer",
        b"trailers",
        b"transfer-encoding",
        b"upgrade",
        b"date",
        b"server",
        b"x-request-id",
    }
)

USER_AGENT = (b"user-agent", b"bpm-gateway")
IDENTITY_ENCODING = (b"accept-encoding", b"identity")

_TRACEPARENT = re.compile(rb"^[0-9a-f]{2}-(?!0{32})[0-9a-f]{32}-(?!0{16})[0-9a-f]{16}-[0-9a-f]{2}$")


def new_traceparent() -> bytes:
    """A new W3C trace context (version 00, sampled)."""
    ids = os.urandom(24).hex().encode()  # one system call for the trace id and the span id
    return b"00-" + ids[:32] + b"-" + ids[32:] + b"-01"


def client_ip(scope: Scope) -> str:
    """The caller's address as the server established it.

    Behind a reverse proxy, uvicorn takes it from `X-Forwarded-For` when the proxy's
    address is trusted (`--forwarded-allow-ips`, `FORWARDED_ALLOW_IPS`; by default only
    127.0.0.1); a client's own claim is never believed.
    """
    peer = scope.get("client")
    return peer[0] if peer else "unknown"


def upstream_request_headers(scope: Scope) -> tuple[list[tuple[bytes, bytes]], bool]:
    """Headers for the backend request: the forwarded ones, a trace context, and the
    `X-Forwarded-*` headers naming the client as the gateway saw it; and whether the
    client asks for an event stream (`Accept: text/event-stream`)."""
    out: list[tuple[bytes, bytes]] = [USER_AGENT]
    host: bytes | None = None
    accept: bytes | None = None
    has_traceparent = has_encoding = False
    for name, value in scope["headers"]:
        if name in FORWARDED_REQUEST_HEADERS:
            if name == b"traceparent":
                if not _TRACEPARENT.match(value):
                    continue
                has_traceparent = True
            elif name == b"accept-encoding":
                has_encoding = True
            elif name == b"accept" and accept is None:
                accept = value
            out.append((name, value))
        elif name == b"host":
            host = value
    if not has_traceparent:
        out.append((b"traceparent", new_traceparent()))
    if not has_encoding:  # the body is passed on as it comes: ask for it as is
        out.append(IDENTITY_ENCODING)
    out.append((b"x-forwarded-for", client_ip(scope).encode("latin-1")))
    out.append((b"x-forwarded-proto", scope.get("scheme", "http").encode("latin-1")))
    if host is not None:
        out.append((b"x-forwarded-host", host))
    return out, accept is not None and b"text/event-stream" in accept


def response_head(
    raw: Iterable[tuple[bytes, bytes]],
) -> tuple[list[tuple[bytes, bytes]], bytes, bytes | None]:
    """In one pass over the backend's response headers: those the client gets (names
    lower-cased for ASGI), the content type (b"" when absent) and the content length.
    A repeated header's values are joined with ", " as `httpx.Headers.get` would."""
    out: list[tuple[bytes, bytes]] = []
    content_type: bytes | None = None
    length: bytes | None = None
    for name, value in raw:
        lowered = name.lower()
        if lowered not in DROPPED_RESPONSE_HEADERS:
            out.append((lowered, value))
            if lowered == b"content-type":
                content_type = value if content_type is None else content_type + b", " + value
            elif lowered == b"content-length":
                length = value if length is None else length + b", " + value
    return out, content_type or b"", length
