"""Reading raw request bodies (BPMN XML, CSV) with a media type check and a size limit."""

from __future__ import annotations

from collections.abc import Collection

from fastapi import Request

from bpm_common.errors import BadRequest, PayloadTooLarge, UnsupportedMediaType, field_error


def media_type_of(request: Request) -> str:
    return request.headers.get("content-type", "").split(";", 1)[0].strip().lower()


async def read_body(
    request: Request, media_types: Collection[str], max_bytes: int, *, what: str = "document"
) -> bytes:
    """The raw request body, refused with 415 unless its media type is one of
    `media_types` and with 413 past `max_bytes`.

    The declared Content-Length is checked first, then the bytes actually received,
    so a missing or lying Content-Length cannot get a bigger body through.
    """
    media_type = media_type_of(request)
    if media_type not in media_types:
        expected = " or ".join(sorted(media_types))
        raise UnsupportedMediaType(
            f"send the {what} as {expected}",
            errors=[field_error("Content-Type", f"{media_type or 'missing'}; expected {expected}")],
        )
    declared = request.headers.get("content-length")
    if declared is not None:
        if not declared.isdigit():
            raise BadRequest(
                "invalid Content-Length", errors=[field_error("Content-Length", "not a number")]
            )
        if int(declared) > max_bytes:
            raise too_large(what, max_bytes)
    chunks: list[bytes] = []
    received = 0
    async for chunk in request.stream():
        received += len(chunk)
        if received > max_bytes:
            raise too_large(what, max_bytes)
        chunks.append(chunk)
    return b"".join(chunks)


def too_large(what: str, max_bytes: int) -> PayloadTooLarge:
    return PayloadTooLarge(
        f"the {what} is larger than {max_bytes} bytes",
        errors=[field_error("body", f"at most {max_bytes} bytes")],
    )
