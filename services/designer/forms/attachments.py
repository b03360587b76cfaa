"""Files attached to form submissions: size-limited, typed by their first bytes
(the upload's Content-Type is not trusted), stored with their SHA-256."""

from __future__ import annotations

import hashlib
import uuid

from sqlalchemy.ext.asyncio import AsyncSession

from bpm_common.errors import NotFound, Unprocessable, UnsupportedMediaType, field_error
from bpm_common.ids import uuid7
from services.designer.forms.models import Attachment

_SIGNATURES: tuple[tuple[bytes, str], ...] = (
    (b"%PDF-", "application/pdf"),
    (b"\x89PNG\r\n\x1a\n", "image/png"),
    (b"\xff\xd8\xff", "image/jpeg"),
    (b"GIF87a", "image/gif"),
    (b"GIF89a", "image/gif"),
    (b"PK\x03\x04", "application/zip"),
)
OCTET_STREAM = "application/octet-stream"


def sniff(content: bytes) -> str:
    """The media type the content shows; `application/octet-stream` when unknown."""
    for signature, media_type in _SIGNATURES:
        if content.startswith(signature):
            return media_type
    head = content[:8192]
    if head and b"\x00" not in head:
        try:
            head.decode("utf-8")
        except UnicodeDecodeError as exc:
            if exc.start < len(head) - 4:  # not just a character cut at the end of the sample
                return OCTET_STREAM
        return "text/plain"
    return OCTET_STREAM


def safe_filename(name: str | None) -> str:
    base = (name or "attachment").replace("\\", "/").rsplit("/", 1)[-1]
    cleaned = (
        "".join(c if c.isalnum() or c in "._- " else "_" for c in base).strip() or "attachment"
    )
    return cleaned[:200]


async def store(
    session: AsyncSession,
    *,
    content: bytes,
    filename: str | None,
    allowed: list[str],
    actor: str,
) -> Attachment:
    if not content:
        raise Unprocessable("the file is empty", errors=[field_error("file", "empty")])
    media_type = sniff(content)
    if media_type not in allowed:
        raise UnsupportedMediaType(
            f"files of this kind are not accepted ({media_type})",
            errors=[field_error("file", f"accepted: {', '.join(allowed)}")],
        )
    row = Attachment(
        id=uuid7(),
        filename=safe_filename(filename),
        media_type=media_type,
        size=len(content),
        sha256=hashlib.sha256(content).hexdigest(),
        content=content,
        uploaded_by=actor,
    )
    session.add(row)
    await session.flush()
    await session.refresh(row, ["uploaded_at"])
    return row


async def get(session: AsyncSession, attachment_id: uuid.UUID) -> Attachment:
    row = await session.get(Attachment, attachment_id)
    if row is None:
        raise NotFound(f"no attachment {attachment_id}")
    return row
