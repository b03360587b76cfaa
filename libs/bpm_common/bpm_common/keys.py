"""Keys a service derives for its own purposes from a configured secret.

A service's key is taken from its own setting or, when that is unset, from the
platform's `BPM_JWT_SECRET`, and derived with HKDF-SHA256 under a purpose label, so
the keys of different purposes are independent of each other and of the token key.
"""

from __future__ import annotations

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from pydantic import SecretStr

from bpm_common.settings import CommonSettings


def derive(material: str, purpose: bytes) -> bytes:
    """32 bytes of key for `purpose` from any secret string."""
    return HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=purpose).derive(
        material.encode()
    )


def key_material(own: SecretStr | None, common: CommonSettings) -> str | None:
    """The service's own secret if set, else the platform's `BPM_JWT_SECRET`, else None."""
    for secret in (own, common.jwt_secret):
        if secret is not None and secret.get_secret_value():
            return secret.get_secret_value()
    return None
