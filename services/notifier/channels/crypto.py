"""Channel secrets at rest: the whole channel URL is stored encrypted (Fernet: AES-128-CBC
with HMAC-SHA256), with a key from the settings (see `services.notifier.keys`)."""

from __future__ import annotations

from cryptography.fernet import Fernet, InvalidToken

from bpm_common.errors import ServiceUnavailable


class SecretBox:
    def __init__(self, key: bytes | None) -> None:
        self._fernet = Fernet(key) if key is not None else None

    def seal(self, secret: str) -> str:
        if self._fernet is None:
            raise ServiceUnavailable(
                "channel secrets cannot be stored: set BPM_NOTIFIER_SECRETS_KEY or BPM_JWT_SECRET"
            )
        return self._fernet.encrypt(secret.encode()).decode()

    def open(self, sealed: str) -> str:
        """The secret; raises `ValueError` when the key changed since it was sealed."""
        if self._fernet is None:
            raise ValueError("no key to open channel secrets with")
        try:
            return self._fernet.decrypt(sealed.encode()).decode()
        except InvalidToken as exc:
            raise ValueError("the channel secret was sealed with another key") from exc
