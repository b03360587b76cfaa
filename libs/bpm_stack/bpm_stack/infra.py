"""Where PostgreSQL and NATS come from: the user's servers if configured, embedded ones otherwise."""

from __future__ import annotations

import json
import os
import secrets
from dataclasses import dataclass, field
from pathlib import Path

from bpm_stack.embedded import (
    EmbeddedNats,
    EmbeddedPostgres,
    ensure_writable_by_postgres,
    port_is_free,
)

REPO_ROOT = Path(__file__).resolve().parents[3]
DEFAULT_EMBEDDED_NATS_PORT = 14222


def data_dir() -> Path:
    return Path(os.environ.get("BPM_DATA_DIR") or REPO_ROOT / ".data").resolve()


@dataclass
class Infrastructure:
    database_url: str
    nats_url: str
    embedded_pg: EmbeddedPostgres | None = None
    embedded_nats: EmbeddedNats | None = None
    notes: list[str] = field(default_factory=list)

    def stop(self) -> None:
        if self.embedded_nats:
            self.embedded_nats.stop()
        if self.embedded_pg:
            self.embedded_pg.stop()


def start_infrastructure(root: Path, *, nats_port: int | None = None) -> Infrastructure:
    """Use BPM_DATABASE_URL / BPM_NATS_URL when set; otherwise start embedded servers under `root`."""
    root.mkdir(parents=True, exist_ok=True)
    pg: EmbeddedPostgres | None = None
    nats: EmbeddedNats | None = None
    notes: list[str] = []
    database_url = os.environ.get("BPM_DATABASE_URL")
    if not database_url:
        ensure_writable_by_postgres(root)
        pg = EmbeddedPostgres(root / "pg")
        database_url = pg.start()
        notes.append(f"PostgreSQL (embedded): data in {root / 'pg'}")
    else:
        notes.append("PostgreSQL: BPM_DATABASE_URL")
    nats_url = os.environ.get("BPM_NATS_URL")
    if not nats_url:
        port = nats_port or int(os.environ.get("BPM_EMBEDDED_NATS_PORT", DEFAULT_EMBEDDED_NATS_PORT))
        if not port_is_free(port):
            port = 0  # taken: pick a free one
        nats = EmbeddedNats(root / "nats", port=port)
        nats_url = nats.start(log_file=root / "nats.log")
        notes.append(f"NATS JetStream (embedded): {nats_url}, data in {root / 'nats'}")
    else:
        notes.append("NATS: BPM_NATS_URL")
    return Infrastructure(database_url, nats_url, pg, nats, notes)


def jwt_secret(root: Path) -> str:
    """BPM_JWT_SECRET if set; otherwise a random key made once and kept in the data folder."""
    if os.environ.get("BPM_JWT_SECRET"):
        return os.environ["BPM_JWT_SECRET"]
    path = root / "secrets.json"
    if path.exists():
        return json.loads(path.read_text())["jwt_secret"]
    secret = secrets.token_urlsafe(48)
    path.write_text(json.dumps({"jwt_secret": secret}))
    path.chmod(0o600)
    return secret
