"""Real servers on loopback for the email channels: a self-signed certificate, an HTTPS Microsoft
identity stand-in (OpenID discovery + token endpoint) that real msal talks to, and aiosmtpd."""

from __future__ import annotations

import datetime
import ipaddress
import json
import ssl
from dataclasses import dataclass, field
from pathlib import Path

import pytest
import requests
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, LoginPassword
from pytest_httpserver import HTTPServer
from werkzeug import Request, Response

from tests.conftest import free_port

TENANT = "tenant-0001"
CLIENT_ID = "11111111-2222-3333-4444-555555555555"
CLIENT_SECRET = "cl1ent-s3cret-0123456789abcdef"
ACCESS_TOKEN = "eyJ0eXAi.t0ken-0123456789abcdef.sig"
SMTP_USER = "alerts@example.com"
SMTP_PASSWORD = "smtp-p4ssw0rd-0123456789"


# --- TLS ---


@dataclass(frozen=True)
class TlsFiles:
    cert: Path
    key: Path

    def server_context(self) -> ssl.SSLContext:
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        ctx.load_cert_chain(self.cert, self.key)
        return ctx

    def client_context(self) -> ssl.SSLContext:
        return ssl.create_default_context(cafile=str(self.cert))


@pytest.fixture(scope="session")
def tls_files(tmp_path_factory) -> TlsFiles:
    """A self-signed certificate for localhost and 127.0.0.1."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "localhost")])
    now = datetime.datetime.now(datetime.timezone.utc)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name).issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(x509.SubjectAlternativeName([
            x509.DNSName("localhost"), x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]), critical=False)
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .add_extension(x509.KeyUsage(digital_signature=True, key_cert_sign=True, content_commitment=False,
                                     key_encipherment=False, data_encipherment=False, key_agreement=False,
                                     crl_sign=False, encipher_only=False, decipher_only=False), critical=True)
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
        .sign(key, hashes.SHA256())
    )
    d = tmp_path_factory.mktemp("tls")
    files = TlsFiles(d / "cert.pem", d / "key.pem")
    files.cert.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    files.key.write_bytes(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                            serialization.NoEncryption()))
    return files


@pytest.fixture
def tls_session(tls_files) -> requests.Session:
    """The channel session for tests: trusts the test certificate. `trust_env=False` because this
    machine sets REQUESTS_CA_BUNDLE/CURL_CA_BUNDLE, and requests lets those override `verify`."""
    s = requests.Session()
    s.trust_env = False
    s.verify = str(tls_files.cert)
    return s


# --- identity provider (HTTPS, for msal) ---


@dataclass
class Identity:
    """The Microsoft identity platform as msal sees it: OpenID discovery and a token endpoint."""

    server: HTTPServer
    tenant: str = TENANT
    token_forms: list[dict] = field(default_factory=list)  # form posted on each token request
    answer: tuple[int, dict] | None = None  # set to make the token endpoint fail

    @property
    def authority_host(self) -> str:
        return f"https://localhost:{self.server.port}"

    def _discovery(self, request: Request) -> Response:
        base = f"{self.authority_host}/{self.tenant}"
        return Response(json.dumps({
            "token_endpoint": f"{base}/oauth2/v2.0/token",
            "authorization_endpoint": f"{base}/oauth2/v2.0/authorize",
            "issuer": f"{base}/v2.0",
        }), content_type="application/json")

    def _token(self, request: Request) -> Response:
        self.token_forms.append(request.form.to_dict())
        status, body = self.answer or (200, {"token_type": "Bearer", "expires_in": 3599,
                                             "access_token": ACCESS_TOKEN})
        return Response(json.dumps(body), status=status, content_type="application/json")

    def install(self) -> "Identity":
        self.server.expect_request(f"/{self.tenant}/v2.0/.well-known/openid-configuration",
                                   method="GET").respond_with_handler(self._discovery)
        self.server.expect_request(f"/{self.tenant}/oauth2/v2.0/token",
                                   method="POST").respond_with_handler(self._token)
        return self

    def discoveries(self) -> int:
        return sum(1 for req, _ in self.server.log if req.path.endswith("/openid-configuration"))


@pytest.fixture(scope="session")
def https_httpserver(tls_files):
    """One HTTPS pytest-httpserver for the session (stopping one takes half a second)."""
    server = HTTPServer(host="localhost", port=0, ssl_context=tls_files.server_context())
    server.start()
    yield server
    server.clear()
    if server.is_running():
        server.stop()


@pytest.fixture
def identity(https_httpserver):
    https_httpserver.clear()
    yield Identity(https_httpserver).install()
    https_httpserver.clear()


# --- SMTP (aiosmtpd) ---


class Inbox:
    """An aiosmtpd handler keeping what it received; `rcpt_reply`/`data_reply` make it refuse."""

    def __init__(self):
        self.envelopes: list = []
        self.rcpt_reply: str | None = None
        self.data_reply: str | None = None
        self.tls_seen: list[bool] = []
        self.authenticated: list[bool] = []

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):
        if self.rcpt_reply:
            return self.rcpt_reply
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server, session, envelope):
        if self.data_reply:
            return self.data_reply
        self.tls_seen.append(session.ssl is not None)
        self.authenticated.append(session.authenticated)
        self.envelopes.append(envelope)
        return "250 2.0.0 Message accepted"


def _authenticator(server, session, envelope, mechanism, auth_data):
    ok = (isinstance(auth_data, LoginPassword) and auth_data.login == SMTP_USER.encode()
          and auth_data.password == SMTP_PASSWORD.encode())
    return AuthResult(success=ok, handled=False)  # handled=False: aiosmtpd answers 535 itself


@dataclass
class SmtpServer:
    inbox: Inbox
    port: int
    controller: Controller


@pytest.fixture
def smtp_server(tls_files):
    """Factory: `smtp_server(tls=False, auth=False)` starts aiosmtpd on a loopback port. With `tls`
    it offers (and requires) STARTTLS with the test certificate; with `auth` it wants LOGIN/PLAIN."""
    started: list[Controller] = []

    def start(tls: bool = False, auth: bool = False) -> SmtpServer:
        inbox = Inbox()
        port = free_port()
        kwargs: dict = {}
        if tls:
            kwargs.update(tls_context=tls_files.server_context(), require_starttls=True)
        if auth:
            kwargs.update(authenticator=_authenticator, auth_required=True, auth_require_tls=tls)
        controller = Controller(inbox, hostname="127.0.0.1", port=port, server_hostname="localhost", **kwargs)
        controller.start()
        started.append(controller)
        return SmtpServer(inbox, port, controller)

    yield start
    for c in started:
        c.stop()
