"""Input no endpoint can take, refused at the door with the field named.

* The NUL character: PostgreSQL stores no U+0000 in `text` or `jsonb`, so a value
  holding one failed in the database, deep inside a unit of work, as a server error.
  No field of the API has a use for it.
* A lone surrogate (`"\\ud800"` in JSON without its pair): not Unicode, so it cannot
  be encoded for the database either.
* A JSON number beyond `jsonutil.MAX_DIGITS` digits or exponent: `1e999999999` is a
  dozen bytes whose exact integer takes minutes to write out, which froze a service.

`InputGuardMiddleware` refuses them before any endpoint runs, in the path, in a query
parameter, or anywhere in a JSON body, with a 422 problem whose `errors` name the field
as FastAPI names fields (`variables.note`, `items.2`). A body is read only when it is
JSON, and parsed a second time only when a quick scan of its bytes finds the escape
`\\u0000` or a surrogate's escape, an exponent of four digits or a run of more than
`MAX_DIGITS` digits.
(`jsonutil.loads` refuses such numbers too, for input that comes another way.)
"""

from __future__ import annotations

import json
import re
from decimal import Decimal
from typing import Any
from urllib.parse import parse_qsl

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from bpm_common import jsonutil
from bpm_common.errors import Unprocessable, field_error, problem_response

NUL = "\x00"
NUL_MESSAGE = "must not contain the NUL character (U+0000)"
SURROGATE_MESSAGE = "must not contain a lone surrogate (\\ud800-\\udfff without its pair): not Unicode text"
NUMBER_MESSAGE = (
    f"numbers may have at most {jsonutil.MAX_DIGITS} digits and an exponent of at most ±{jsonutil.MAX_DIGITS}"
)
_JSON_TYPES = (b"application/json", b"application/problem+json")
_SUSPECT = re.compile(rb"\\u0000|\\u[dD][89a-fA-F]|[eE][-+]?0*[1-9][0-9]{3}|[0-9]{%d}" % (jsonutil.MAX_DIGITS + 1))


class InputGuardMiddleware:
    """Pure ASGI middleware: 422 for a NUL character in the path or the query, and for a
    NUL, a lone surrogate or a number out of range in a JSON body."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        fault = _in_path(scope) or _in_query(scope)
        if fault is None and _is_json(scope):
            body = await read_body(receive)
            if body is None:  # the client went away
                return
            if _SUSPECT.search(body):
                fault = _in_json(body)
            receive = replay(body, receive)
        if fault is None:
            await self.app(scope, receive, send)
            return
        field, message = fault
        response = problem_response(
            Unprocessable.status,
            Unprocessable.title,
            "the request holds a value no field accepts",
            errors=[field_error(field, message)],
        )
        await response(scope, receive, send)


async def read_body(receive: Receive) -> bytes | None:
    """The whole request body, or None when the client went away."""
    chunks: list[bytes] = []
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            return None
        chunks.append(message.get("body", b""))
        if not message.get("more_body", False):
            return b"".join(chunks)


def replay(body: bytes, receive: Receive) -> Receive:
    """`receive` for the app inside: the body already read, then whatever comes after it."""
    sent = False

    async def _receive() -> Message:
        nonlocal sent
        if not sent:
            sent = True
            return {"type": "http.request", "body": body, "more_body": False}
        return await receive()

    return _receive


Fault = tuple[str, str]
"""(the field, what is wrong with it)"""


def _in_path(scope: Scope) -> Fault | None:
    return ("path", NUL_MESSAGE) if NUL in scope["path"] else None


def _in_query(scope: Scope) -> Fault | None:
    raw: bytes = scope.get("query_string", b"")
    if b"%00" not in raw and b"\x00" not in raw:
        return None
    for name, value in parse_qsl(raw.decode("latin-1"), keep_blank_values=True):
        if NUL in name or NUL in value:
            return name.replace(NUL, "") or "query", NUL_MESSAGE
    return None


def _is_json(scope: Scope) -> bool:
    if scope["method"] in ("GET", "HEAD", "OPTIONS", "DELETE"):
        return False
    for name, value in scope["headers"]:
        if name == b"content-type":
            kind = value.split(b";", 1)[0].strip().lower()
            return kind in _JSON_TYPES or kind.endswith(b"+json")
    return False


_LONE_SURROGATE = re.compile("[\ud800-\udfff]")


def _text_fault(text: str) -> str | None:
    if NUL in text:
        return NUL_MESSAGE
    if _LONE_SURROGATE.search(text):  # a pair escaped in JSON is read as one character
        return SURROGATE_MESSAGE
    return None


class _OutOfRange:
    """Stands for a number beyond `jsonutil.MAX_DIGITS` while the body is searched."""


_OUT_OF_RANGE = _OutOfRange()


def _number(text: str) -> Any:
    value = Decimal(text)
    return _OUT_OF_RANGE if jsonutil.out_of_range(value) else value


def _in_json(body: bytes) -> Fault | None:
    try:
        document = json.loads(body, parse_float=_number, parse_int=_number)
    except (ValueError, RecursionError):
        return None  # not JSON: FastAPI refuses it as it would anyway
    return _find(document)


def _find(document: Any) -> Fault | None:
    """The dotted path of the first string or key that holds a NUL, or number out of range."""
    stack: list[tuple[Any, list[str]]] = [(document, [])]
    while stack:
        current, path = stack.pop()
        if current is _OUT_OF_RANGE:
            return ".".join(path) or "body", NUMBER_MESSAGE
        if isinstance(current, str):
            message = _text_fault(current)
            if message:
                return ".".join(path) or "body", message
        elif isinstance(current, dict):
            for key, item in reversed(list(current.items())):
                message = _text_fault(key)
                if message:
                    return ".".join(path) or "body", message
                stack.append((item, [*path, key]))
        elif isinstance(current, list):
            for index in range(len(current) - 1, -1, -1):
                stack.append((current[index], [*path, str(index)]))
    return None
