"""Password hashing with scrypt (standard library only).

A stored hash names its algorithm and parameters, so the cost can be raised later
without breaking existing passwords: `scrypt$n=32768,r=8,p=1$<salt b64>$<hash b64>`.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import os

ALGORITHM = "scrypt"
SALT_BYTES = 16
KEY_BYTES = 32
BLOCK_SIZE = 8
PARALLELISM = 1
MAX_MEMORY = 256 * 1024 * 1024


def hash_password(password: str, *, n: int) -> str:
    """A new salted hash of `password` with cost `n`."""
    salt = os.urandom(SALT_BYTES)
    digest = _scrypt(password, salt, n=n, r=BLOCK_SIZE, p=PARALLELISM)
    return f"{ALGORITHM}$n={n},r={BLOCK_SIZE},p={PARALLELISM}${_b64(salt)}${_b64(digest)}"


def verify_password(password: str, stored: str | None, *, n: int) -> bool:
    """True when `password` matches `stored`.

    Without a stored hash (unknown user, no password set) a hash of the same cost
    is computed anyway and compared, so the answer takes as long either way.
    """
    parsed = _parse(stored) if stored else None
    if parsed is None:
        _scrypt(password, b"\x00" * SALT_BYTES, n=n, r=BLOCK_SIZE, p=PARALLELISM)
        hmac.compare_digest(b"\x00" * KEY_BYTES, b"\x01" * KEY_BYTES)
        return False
    params, salt, expected = parsed
    candidate = _scrypt(
        password, salt, n=params["n"], r=params["r"], p=params["p"], dklen=len(expected)
    )
    return hmac.compare_digest(candidate, expected)


def _scrypt(password: str, salt: bytes, *, n: int, r: int, p: int, dklen: int = KEY_BYTES) -> bytes:
    return hashlib.scrypt(
        password.encode("utf-8"), salt=salt, n=n, r=r, p=p, dklen=dklen, maxmem=MAX_MEMORY
    )


def _parse(stored: str) -> tuple[dict[str, int], bytes, bytes] | None:
    try:
        algorithm, params_text, salt_text, hash_text = stored.split("$")
        if algorithm != ALGORITHM:
            return None
        params = {k: int(v) for k, v in (item.split("=", 1) for item in params_text.split(","))}
        if set(params) != {"n", "r", "p"} or not _sane(**params):
            return None
        return params, _unb64(salt_text), _unb64(hash_text)
    except ValueError:
        return None


def _b64(raw: bytes) -> str:
    return base64.b64encode(raw).decode("ascii")


def _unb64(text: str) -> bytes:
    return base64.b64decode(text.encode("ascii"), validate=True)


def _sane(*, n: int, r: int, p: int) -> bool:
    """Parameters that hashlib accepts within its memory bound."""
    if not (2 <= n <= 2**20 and n & (n - 1) == 0 and 1 <= r <= 32 and 1 <= p <= 16):
        return False
    return 128 * r * (n + p + 2) < MAX_MEMORY
