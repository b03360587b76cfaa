"""The notifier's own keys: one for channel secrets at rest, one for signed action links.

Each is taken from its own setting or, when that is unset, derived from the platform's
`BPM_JWT_SECRET` with HKDF-SHA256 under a purpose label, so the derived keys are
independent of each other and of the token key itself.
"""

from __future__ import annotations

import base64

from bpm_common.keys import derive, key_material
from services.notifier.settings import NotifierSettings

CHANNEL_SECRETS = b"bpm-notifier/channel-secrets/v1"
ACTION_LINKS = b"bpm-notifier/action-links/v1"


def channel_secrets_key(settings: NotifierSettings) -> bytes | None:
    """The Fernet key (urlsafe base64) for channel secrets; None when no secret is configured."""
    material = key_material(settings.secrets_key, settings.common)
    if material is None:
        return None
    return base64.urlsafe_b64encode(derive(material, CHANNEL_SECRETS))


def action_link_key(settings: NotifierSettings) -> bytes | None:
    """The HMAC key of action links; None when no secret is configured."""
    material = key_material(settings.action_key, settings.common)
    return None if material is None else derive(material, ACTION_LINKS)
