"""Real local servers standing in for chat platforms, webhooks and the gateway.

`Receiver` is an HTTP server on 127.0.0.1 that records every request and answers from a
script (status, body, delay) or with 200. It serves in one of three modes:

- plain HTTP (generic JSON webhooks, the gateway stand-in);
- HTTPS with a certificate of a throwaway test CA (Teams workflows, which Apprise only
  sends over https, to a host and port of the channel's URL);
- an HTTPS-intercepting forward proxy: for platforms whose Apprise plugin posts to a
  fixed public host (DingTalk, WeCom, Feishu, Lark, Slack), the notifier's outbound proxy
  (`HTTPS_PROXY`) points here; the proxy accepts `CONNECT host:443`, terminates TLS with a
  certificate for that host signed by the test CA (trusted via `REQUESTS_CA_BUNDLE`), and
  records the request the plugin made. Nothing leaves the machine.
"""

from __future__ import annotations

import datetime as dt
import http.server
import ipaddress
import json
import socket
import ssl
import threading
import time
from collections import deque
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

#: the fixed hosts of the Apprise plugins the proxy stands in for
PLATFORM_HOSTS = (
    "oapi.dingtalk.com",
    "qyapi.weixin.qq.com",
    "open.feishu.cn",
    "open.larksuite.com",
    "hooks.slack.com",
    "slack.com",
)
OK_BODY = b'{"ok": true, "errcode": 0, "errmsg": "ok", "code": 0, "msg": "success"}'


@dataclass(frozen=True)
class Recorded:
    method: str
    host: str
    path: str
    query: dict[str, list[str]]
    headers: dict[str, str]
    body: bytes

    @property
    def json(self) -> Any:
        return json.loads(self.body)


@dataclass
class Reply:
    status: int = 200
    body: bytes = OK_BODY
    delay: float = 0.0
    headers: dict[str, str] = field(default_factory=dict)


class TestCA:
    """A throwaway certificate authority and one server certificate for the test hosts."""

    def __init__(self, folder: Path) -> None:
        now = dt.datetime.now(dt.UTC)
        ca_key = ec.generate_private_key(ec.SECP256R1())
        ca_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "BPM test CA")])
        ca_cert = (
            x509.CertificateBuilder()
            .subject_name(ca_name)
            .issuer_name(ca_name)
            .public_key(ca_key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - dt.timedelta(hours=1))
            .not_valid_after(now + dt.timedelta(days=2))
            .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
            .add_extension(
                x509.KeyUsage(
                    digital_signature=True,
                    key_cert_sign=True,
                    crl_sign=True,
                    content_commitment=False,
                    key_encipherment=False,
                    data_encipherment=False,
                    key_agreement=False,
                    encipher_only=False,
                    decipher_only=False,
                ),
                critical=True,
            )
            .add_extension(
                x509.SubjectKeyIdentifier.from_public_key(ca_key.public_key()), critical=False
            )
            .sign(ca_key, hashes.SHA256())
        )
        key = ec.generate_private_key(ec.SECP256R1())
        names: list[x509.GeneralName] = [x509.DNSName(h) for h in (*PLATFORM_HOSTS, "localhost")]
        names.append(x509.IPAddress(ipaddress.ip_address("127.0.0.1")))
        cert = (
            x509.CertificateBuilder()
            .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "localhost")]))
            .issuer_name(ca_name)
            .public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - dt.timedelta(hours=1))
            .not_valid_after(now + dt.timedelta(days=2))
            .add_extension(x509.SubjectAlternativeName(names), critical=False)
            .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
            .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
            .add_extension(
                x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()),
                critical=False,
            )
            .sign(ca_key, hashes.SHA256())
        )
        self.ca_file = folder / "test-ca.pem"
        self.ca_file.write_bytes(ca_cert.public_bytes(serialization.Encoding.PEM))
        self.cert_file = folder / "server.pem"
        self.cert_file.write_bytes(
            cert.public_bytes(serialization.Encoding.PEM)
            + key.private_bytes(
                serialization.Encoding.PEM,
                serialization.PrivateFormat.PKCS8,
                serialization.NoEncryption(),
            )
        )

    def server_context(self) -> ssl.SSLContext:
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.load_cert_chain(self.cert_file)
        return context


class _Handler(http.server.BaseHTTPRequestHandler):
    server: _Server
    protocol_version = "HTTP/1.1"

    def log_message(self, *args: Any) -> None:
        """Keep the test output quiet: the receiver records requests instead of logging them."""

    def do_CONNECT(self) -> None:  # noqa: N802 - http.server's name
        receiver = self.server.receiver
        if receiver.ca is None:
            self.send_error(405)
            return
        self.send_response(200, "Connection established")
        self.end_headers()
        tunnel = receiver.ca.server_context().wrap_socket(self.connection, server_side=True)
        try:
            _Handler(tunnel, self.client_address, self.server)
        finally:
            self.close_connection = True

    def _handle(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else b""
        target = urlsplit(self.path)
        host = (target.hostname or self.headers.get("Host", "")).split(":")[0]
        receiver = self.server.receiver
        reply = receiver.record(
            Recorded(
                method=self.command,
                host=host,
                path=target.path,
                query=parse_qs(target.query),
                headers={k: v for k, v in self.headers.items()},
                body=body,
            )
        )
        if reply.delay:
            time.sleep(reply.delay)
        try:
            self.send_response(reply.status)
            self.send_header("Content-Type", "application/json")
            for name, value in reply.headers.items():
                self.send_header(name, value)
            self.send_header("Content-Length", str(len(reply.body)))
            self.end_headers()
            self.wfile.write(reply.body)
        except OSError:
            self.close_connection = True  # the client gave up (a timeout test)

    do_GET = do_POST = do_PUT = _handle  # noqa: N815


class _Server(http.server.ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True
    receiver: Receiver


class Receiver:
    """A recording HTTP(S) server on 127.0.0.1; `proxy=True` also tunnels CONNECT."""

    def __init__(self, *, ca: TestCA | None = None, tls: bool = False) -> None:
        self.ca = ca
        self.requests: list[Recorded] = []
        self.script: deque[Reply] = deque()
        self._lock = threading.Lock()
        self.arrived = threading.Condition(self._lock)
        self._server = _Server(("127.0.0.1", 0), _Handler)
        self._server.receiver = self
        if tls:
            assert ca is not None
            self._server.socket = ca.server_context().wrap_socket(
                self._server.socket, server_side=True
            )
        self.port = self._server.server_address[1]
        self._thread = threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        )

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def __enter__(self) -> Receiver:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._server.shutdown()
        self._server.server_close()

    def reply(self, *replies: Reply) -> None:
        """Answer the next requests with these, in order (then 200 again)."""
        with self._lock:
            self.script.extend(replies)

    def record(self, request: Recorded) -> Reply:
        with self._lock:
            self.requests.append(request)
            self.arrived.notify_all()
            if self.script:
                return self.script.popleft()
            # Slack's incoming webhooks answer a plain "ok"
            return Reply(body=b"ok") if request.host == "hooks.slack.com" else Reply()

    def wait_for(self, count: int, timeout: float = 30.0) -> list[Recorded]:
        with self._lock:
            self.arrived.wait_for(lambda: len(self.requests) >= count, timeout)
            return list(self.requests)


def closed_port() -> int:
    """A port on 127.0.0.1 where nothing listens (for 'server down')."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]
