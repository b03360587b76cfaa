"""The notifier's own keys: one for channel secrets at rest, one for signed action links.

Each is taken from its own setting or, when that is unset, derived from the platform's
`BPM_JWT_SECRET` with HKDF-SHA256 under a purpose label, so the derived keys are
independent of each other and of the token key itself.
"""

from __future__ import annotations

import base64

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from pydantic import SecretStr

from services.notifier.settings import NotifierSettings

CHANNEL_SECRETS = b"bpm-notifier/channel-secrets/v1"
ACTION_LINKS = b"bpm-notifier/action-links/v1"


def derive(material: str, purpose: bytes) -> bytes:
    """32 bytes of key for `purpose` from any secret string."""
    return HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=purpose).derive(
        material.encode()
    )


def _material(own: SecretStr | None, settings: NotifierSettings) -> str | None:
    if own is not None and own.get_secret_value():
        return own.get_secret_value()
    shared = settings.common.jwt_secret
    if shared is not None and shared.get_secret_value():
        return shared.get_secret_value()
    return None


def channel_secrets_key(settings: NotifierSettings) -> bytes | None:
    """The Fernet key (urlsafe base64) for channel secrets; None when no secret is configured."""
    material = _material(settings.secrets_key, settings)
    if material is None:
        return None
    return base64.urlsafe_b64encode(derive(material, CHANNEL_SECRETS))


def action_link_key(settings: NotifierSettings) -> bytes | None:
    """The HMAC key of action links; None when no secret is configured."""
    material = _material(settings.action_key, settings)
    return None if material is None else derive(material, ACTION_LINKS)
