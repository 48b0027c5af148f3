"""Who may post: function key, Entra ID bearer tokens (against a real JWKS endpoint on loopback,
with keys generated here), Event Grid source allow-lists, and the combination the endpoints use."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import logging
import socket
import time
import uuid

import jwt
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from jwt.algorithms import RSAAlgorithm

from alertrouter.http.auth import (
    ACTION_GROUP_APP_ID,
    AuthResult,
    Authenticator,
    EntraValidator,
    KeyCheck,
    SourceFilter,
)
from alertrouter.http.api import Request
from alertrouter.settings import EntraAuth, EventGridAccess, Settings

TENANT = "72f988bf-86f1-41af-91ab-2d7cd011db47"
AUDIENCE = "6e74172b-be56-4843-9ff4-e66a39bb12e3"
ROLE = "ActionGroupsSecureWebhook"
KEYS_PATH = f"/{TENANT}/discovery/v2.0/keys"
SECRET_KEY = "s3cr3t-Function-Key-value-0123456789"


# --- helpers ---------------------------------------------------------------------------------------


def new_rsa():
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


def jwk_of(private_key, kid: str) -> dict:
    jwk = RSAAlgorithm.to_jwk(private_key.public_key(), as_dict=True)
    return {**jwk, "kid": kid, "use": "sig", "alg": "RS256"}


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def raw_token(header: dict, claims: dict, sign) -> str:
    signing_input = f"{b64url(json.dumps(header).encode())}.{b64url(json.dumps(claims).encode())}"
    return f"{signing_input}.{b64url(sign(signing_input.encode()))}"


def post(headers: dict | None = None, query: dict | None = None, path: str = "/api/alerts") -> Request:
    return Request("POST", path, {k.lower(): v for k, v in (headers or {}).items()}, query or {}, b"[]")


def bearer(token: str) -> Request:
    return post({"Authorization": f"Bearer {token}"})


@pytest.fixture(scope="module")
def signing_key():
    return new_rsa()


@pytest.fixture(scope="module")
def other_key():
    return new_rsa()


class Issuer:
    """Signs tokens the way Entra ID does for an Action Group secure webhook (v2.0 access token)."""

    def __init__(self, key, authority: str, kid: str = "test-kid-1"):
        self.key, self.authority, self.kid = key, authority, kid
        self.issuer = f"{authority}/{TENANT}/v2.0"

    def claims(self, **overrides) -> dict:
        now = int(time.time())
        claims = {
            "aud": AUDIENCE, "iss": self.issuer, "iat": now - 10, "nbf": now - 10, "exp": now + 3600,
            "azp": ACTION_GROUP_APP_ID, "azpacr": "2", "oid": str(uuid.uuid4()), "sub": str(uuid.uuid4()),
            "tid": TENANT, "roles": [ROLE], "ver": "2.0",
        }
        claims.update(overrides)
        return {k: v for k, v in claims.items() if v is not None}

    def token(self, key=None, kid: str | None = None, **overrides) -> str:
        return jwt.encode(self.claims(**overrides), key or self.key, algorithm="RS256",
                          headers={"kid": kid or self.kid, "typ": "JWT"})


@pytest.fixture
def jwks_server(httpserver, signing_key):
    httpserver.expect_request(KEYS_PATH, method="GET").respond_with_json(
        {"keys": [jwk_of(signing_key, "test-kid-1")]})
    return httpserver


@pytest.fixture
def authority(jwks_server) -> str:
    return jwks_server.url_for("").rstrip("/")


@pytest.fixture
def issuer(signing_key, authority) -> Issuer:
    return Issuer(signing_key, authority)


@pytest.fixture
def validator(authority) -> EntraValidator:
    return EntraValidator(TENANT, AUDIENCE, ROLE, authority_host=authority, http_timeout=2)


def key_fetches(server) -> int:
    return sum(1 for req, _ in server.log if req.path == KEYS_PATH)


def assert_401(result: AuthResult, reason: str, *, exact: bool = True):
    assert not result.ok
    assert result.status == 401
    if exact:
        assert result.reason == reason
    else:
        assert result.reason.startswith(reason), result.reason


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


# --- Entra ID tokens ------------------------------------------------------------------------------


def test_valid_token_accepted(validator, issuer):
    result = validator.check(bearer(issuer.token()))
    assert result.ok and result.status == 200 and result.method == "entra"


def test_bearer_scheme_is_case_insensitive(validator, issuer):
    assert validator.check(post({"Authorization": f"bearer {issuer.token()}"})).ok


def test_wrong_audience(validator, issuer):
    assert_401(validator.check(bearer(issuer.token(aud="api://someone-else"))),
               f"wrong audience: expected {AUDIENCE}")


def test_wrong_audience_hints_at_client_id_when_an_identifier_uri_is_configured(authority, issuer):
    v = EntraValidator(TENANT, "api://alertrouter", "", authority_host=authority)
    result = v.check(bearer(issuer.token()))
    assert_401(result, "wrong audience: expected api://alertrouter; v2.0 tokens carry the app "
                       "registration's client id (a GUID), not its identifier URI")


def test_wrong_issuer(validator, issuer):
    result = validator.check(bearer(issuer.token(iss=f"{issuer.authority}/{uuid.uuid4()}/v2.0")))
    assert_401(result, f"wrong issuer: expected {issuer.issuer}")


def test_v1_token_is_rejected_with_the_manifest_setting_to_change(validator, issuer):
    result = validator.check(bearer(issuer.token(iss=f"https://sts.windows.net/{TENANT}/", ver="1.0")))
    assert_401(result, "wrong issuer: this is a v1.0 token; set accessTokenAcceptedVersion to 2 in the app "
                       f"registration's manifest (expected issuer {issuer.issuer})")


def test_expired(validator, issuer):
    now = int(time.time())
    result = validator.check(bearer(issuer.token(iat=now - 7200, nbf=now - 7200, exp=now - 3600)))
    assert_401(result, "token expired")


def test_expiry_has_a_small_leeway(validator, issuer):
    assert validator.check(bearer(issuer.token(exp=int(time.time()) - 20))).ok


def test_not_yet_valid(validator, issuer):
    now = int(time.time())
    result = validator.check(bearer(issuer.token(nbf=now + 600, iat=now, exp=now + 3600)))
    assert_401(result, "token not yet valid")


def test_missing_exp_is_malformed(validator, issuer):
    assert_401(validator.check(bearer(issuer.token(exp=None))), "malformed token: missing claim exp")


def test_missing_role(validator, issuer):
    result = validator.check(bearer(issuer.token(roles=["SomethingElse"])))
    assert_401(result, f"missing role: the token does not hold the app role '{ROLE}'")
    assert_401(validator.check(bearer(issuer.token(roles=None))),
               f"missing role: the token does not hold the app role '{ROLE}'")


def test_no_role_configured_accepts_a_token_without_roles(authority, issuer):
    v = EntraValidator(TENANT, AUDIENCE, "", authority_host=authority)
    assert v.check(bearer(issuer.token(roles=None))).ok


def test_allowed_clients(authority, issuer):
    v = EntraValidator(TENANT, AUDIENCE, ROLE, authority_host=authority, allowed_clients=[ACTION_GROUP_APP_ID])
    assert v.check(bearer(issuer.token())).ok
    assert_401(v.check(bearer(issuer.token(azp=str(uuid.uuid4())))),
               "token was issued to a client app that is not allowed")


def test_signed_by_another_key_with_the_same_kid(validator, issuer, other_key):
    assert_401(validator.check(bearer(issuer.token(key=other_key))), "bad signature")


def test_signed_by_another_key_with_an_unknown_kid(validator, issuer, other_key):
    result = validator.check(bearer(issuer.token(key=other_key, kid="attacker-kid")))
    assert_401(result, "unknown key id: the token was not signed by a key of the tenant")


def test_tampered_payload_is_a_bad_signature(validator, issuer):
    header, _, sig = issuer.token().split(".")
    forged = b64url(json.dumps(issuer.claims(roles=[ROLE, "Admin"])).encode())
    assert_401(validator.check(bearer(f"{header}.{forged}.{sig}")), "bad signature")


def test_alg_none_rejected(validator, issuer):
    token = raw_token({"alg": "none", "typ": "JWT", "kid": "test-kid-1"}, issuer.claims(), lambda _: b"")
    assert_401(validator.check(bearer(token)), "token algorithm not allowed: only RS256")
    token = raw_token({"alg": "None", "typ": "JWT", "kid": "test-kid-1"}, issuer.claims(), lambda _: b"")
    assert_401(validator.check(bearer(token)), "token algorithm not allowed: only RS256")


def test_hs256_with_the_public_key_as_secret_rejected(validator, issuer, signing_key):
    pem = signing_key.public_key().public_bytes(serialization.Encoding.PEM,
                                                serialization.PublicFormat.SubjectPublicKeyInfo)
    token = raw_token({"alg": "HS256", "typ": "JWT", "kid": "test-kid-1"}, issuer.claims(),
                      lambda data: hmac.new(pem, data, hashlib.sha256).digest())
    assert_401(validator.check(bearer(token)), "token algorithm not allowed: only RS256")


def test_other_asymmetric_algorithms_rejected(validator, issuer, signing_key):
    token = jwt.encode(issuer.claims(), signing_key, algorithm="PS256", headers={"kid": "test-kid-1"})
    assert_401(validator.check(bearer(token)), "token algorithm not allowed: only RS256")


def test_missing_kid(validator, issuer, signing_key):
    token = jwt.encode(issuer.claims(), signing_key, algorithm="RS256")
    assert_401(validator.check(bearer(token)), "malformed token: no key id (kid) in its header")


@pytest.mark.parametrize("value, reason", [
    ("Bearer not-a-jwt", "malformed token"),
    ("Bearer a.b.c", "malformed token"),
    ("Bearer ", "malformed Authorization header: expected 'Bearer <token>'"),
    ("Basic dXNlcjpwYXNz", "malformed Authorization header: expected 'Bearer <token>'"),
    ("Bearer", "malformed Authorization header: expected 'Bearer <token>'"),
])
def test_malformed_header(validator, value, reason):
    result = validator.check(post({"Authorization": value}))
    assert_401(result, reason)
    assert result.headers.get("WWW-Authenticate", "").startswith("Bearer")


def test_garbage_payload_with_valid_header(validator, signing_key):
    token = raw_token({"alg": "RS256", "kid": "test-kid-1"}, {}, lambda _: b"x")
    token = token.split(".")[0] + ".!!!notbase64!!!." + token.split(".")[2]
    assert_401(validator.check(bearer(token)), "malformed token")


def test_missing_header(validator):
    result = validator.check(post())
    assert_401(result, "missing bearer token: send Authorization: Bearer <token>")
    assert result.headers == {"WWW-Authenticate": "Bearer"}


def test_keys_are_cached(validator, issuer, jwks_server):
    assert validator.check(bearer(issuer.token())).ok
    assert validator.check(bearer(issuer.token())).ok
    assert validator.check(bearer(issuer.token(aud="nope"))).status == 401
    assert key_fetches(jwks_server) == 1


def test_unknown_kids_do_not_hammer_the_keys_endpoint(validator, issuer, other_key, jwks_server):
    assert validator.check(bearer(issuer.token())).ok
    for i in range(5):
        assert validator.check(bearer(issuer.token(key=other_key, kid=f"random-{i}"))).status == 401
    assert key_fetches(jwks_server) == 1  # within the cooldown after the first fetch: no refetch


def test_rotated_key_is_picked_up_by_a_refetch(httpserver, signing_key, other_key):
    httpserver.expect_ordered_request(KEYS_PATH).respond_with_json({"keys": [jwk_of(signing_key, "k1")]})
    httpserver.expect_ordered_request(KEYS_PATH).respond_with_json(
        {"keys": [jwk_of(signing_key, "k1"), jwk_of(other_key, "k2")]})
    authority = httpserver.url_for("").rstrip("/")
    v = EntraValidator(TENANT, AUDIENCE, ROLE, authority_host=authority, jwks_cooldown=0)
    assert v.check(bearer(Issuer(signing_key, authority, "k1").token())).ok
    assert v.check(bearer(Issuer(other_key, authority, "k2").token())).ok
    assert v.check(bearer(Issuer(other_key, authority, "k2").token())).ok
    assert key_fetches(httpserver) == 2


def test_jwks_endpoint_refusing_connections_is_retryable(signing_key, caplog):
    authority = f"http://127.0.0.1:{free_port()}"
    v = EntraValidator(TENANT, AUDIENCE, ROLE, authority_host=authority, http_timeout=2)
    token = Issuer(signing_key, authority).token()
    with caplog.at_level(logging.DEBUG):
        result = v.check(bearer(token))
    assert not result.ok and result.status == 503 and result.retryable
    assert result.reason == "cannot fetch signing keys; try again later"
    assert result.headers.get("Retry-After") == "30"
    assert any("cannot fetch signing keys" in r.getMessage() for r in caplog.records)
    assert all(token not in r.getMessage() for r in caplog.records)


@pytest.mark.parametrize("respond", [
    lambda h: h.respond_with_data("down", status=500),
    lambda h: h.respond_with_data("<html>not json</html>", content_type="text/html"),
    lambda h: h.respond_with_json({"keys": []}),
    lambda h: h.respond_with_json(["not", "an", "object"]),
])
def test_jwks_endpoint_failing_is_retryable(httpserver, signing_key, respond):
    respond(httpserver.expect_request(KEYS_PATH))
    authority = httpserver.url_for("").rstrip("/")
    v = EntraValidator(TENANT, AUDIENCE, ROLE, authority_host=authority)
    result = v.check(bearer(Issuer(signing_key, authority).token()))
    assert (result.ok, result.status, result.reason) == (False, 503, "cannot fetch signing keys; try again later")


def test_last_good_keys_are_used_while_the_endpoint_is_down(httpserver, signing_key):
    httpserver.expect_ordered_request(KEYS_PATH).respond_with_json({"keys": [jwk_of(signing_key, "k1")]})
    authority = httpserver.url_for("").rstrip("/")
    issuer = Issuer(signing_key, authority, "k1")
    v = EntraValidator(TENANT, AUDIENCE, ROLE, authority_host=authority, jwks_lifespan=0.2)
    assert v.check(bearer(issuer.token())).ok
    time.sleep(0.3)  # the cached set expires; the next fetch fails (no more expectations: 500)
    assert v.check(bearer(issuer.token())).ok
    assert v.check(bearer(issuer.token())).ok
    assert key_fetches(httpserver) == 2  # after a failure the stale set is served without refetching


@pytest.mark.parametrize("tenant", ["contoso.onmicrosoft.com", "", "common"])
def test_tenant_must_be_a_guid(tenant):
    with pytest.raises(ValueError, match="GUID"):
        EntraValidator(tenant, AUDIENCE, ROLE)


def test_audience_is_required():
    with pytest.raises(ValueError, match="audience"):
        EntraValidator(TENANT, "", ROLE)


def test_issuer_and_keys_url():
    v = EntraValidator(TENANT.upper(), AUDIENCE, ROLE, authority_host="https://login.microsoftonline.us/")
    assert v.issuer == f"https://login.microsoftonline.us/{TENANT}/v2.0"
    assert v.jwks_uri == f"https://login.microsoftonline.us/{TENANT}/discovery/v2.0/keys"


# --- function key ---------------------------------------------------------------------------------


def test_key_in_header():
    result = KeyCheck(SECRET_KEY).check(post({"x-functions-key": SECRET_KEY}))
    assert result.ok and result.method == "key"


def test_key_in_query():
    assert KeyCheck(SECRET_KEY).check(post(query={"code": SECRET_KEY})).ok


def test_wrong_key():
    assert_401(KeyCheck(SECRET_KEY).check(post({"x-functions-key": "guess"})), "wrong key")
    assert_401(KeyCheck(SECRET_KEY).check(post(query={"code": SECRET_KEY[:-1]})), "wrong key")
    assert_401(KeyCheck(SECRET_KEY).check(post({"x-functions-key": SECRET_KEY + "x"})), "wrong key")
    assert_401(KeyCheck(SECRET_KEY).check(post({"x-functions-key": "ключ"})), "wrong key")


def test_wrong_header_key_is_not_rescued_by_the_query():
    assert_401(KeyCheck(SECRET_KEY).check(post({"x-functions-key": "guess"}, {"code": SECRET_KEY})), "wrong key")


def test_missing_key():
    assert_401(KeyCheck(SECRET_KEY).check(post()),
               "missing key: send it as the x-functions-key header or ?code=")
    assert_401(KeyCheck(SECRET_KEY).check(post({"x-functions-key": ""}, {"code": ""})),
               "missing key: send it as the x-functions-key header or ?code=")


def test_empty_key_means_off():
    check = KeyCheck("")
    assert not check.enabled
    result = check.check(post())
    assert result.ok and result.method == "open"


# --- Event Grid sources ---------------------------------------------------------------------------

WS = "/subscriptions/0000-1111/resourceGroups/ml-rg/providers/Microsoft.MachineLearningServices/workspaces/ws1"


def test_empty_lists_allow_anything():
    f = SourceFilter([], [])
    assert not f.enabled
    assert f.topic_allowed(WS) and f.topic_allowed("") and f.subscription_allowed("ANY")


def test_topic_allowed_case_insensitive_and_trailing_slash():
    f = SourceFilter([WS + "/"], [])
    assert f.enabled
    assert f.topic_allowed(WS)
    assert f.topic_allowed(WS.upper())
    assert f.topic_allowed(WS.lower() + "/")
    assert not f.topic_allowed(WS + "2")
    assert not f.topic_allowed(WS.replace("ws1", "ws2"))
    assert not f.topic_allowed(WS.rsplit("/", 2)[0])  # the parent is not the workspace
    assert not f.topic_allowed("")
    assert f.subscription_allowed("whatever")  # no subscription list: any


def test_subscription_allowed_case_insensitive():
    f = SourceFilter([], ["aml-to-alertrouter", ""])
    assert f.subscription_allowed("AML-TO-ALERTROUTER")  # Event Grid sends the name upper-cased
    assert f.subscription_allowed("aml-to-alertrouter")
    assert not f.subscription_allowed("other-sub")
    assert not f.subscription_allowed("")
    assert f.topic_allowed(WS)  # no topic list: any


# --- Authenticator --------------------------------------------------------------------------------


def settings(**kw) -> Settings:
    return Settings(**kw)


def test_from_settings_nothing_configured_is_open():
    auth = Authenticator.from_settings(settings())
    assert auth.open
    result = auth.check(post())
    assert result.ok and result.method == "open"


def test_from_settings_key_only():
    auth = Authenticator.from_settings(settings(api_key=SECRET_KEY))
    assert not auth.open
    assert auth.check(post({"x-functions-key": SECRET_KEY})).ok
    assert_401(auth.check(post()), "missing key: send it as the x-functions-key header or ?code=")
    assert_401(auth.check(post(query={"code": "nope"})), "wrong key")
    assert_401(auth.check(post({"Authorization": "Bearer x.y.z"})),
               "missing key: send it as the x-functions-key header or ?code=")


def test_from_settings_sources():
    auth = Authenticator.from_settings(settings(
        eventgrid=EventGridAccess(allowed_topics=[WS], allowed_subscriptions=["sub-a"])))
    assert auth.sources.topic_allowed(WS.upper()) and not auth.sources.topic_allowed(WS + "x")
    assert auth.sources.subscription_allowed("SUB-A") and not auth.sources.subscription_allowed("SUB-B")


def test_from_settings_rejects_a_domain_name_tenant():
    with pytest.raises(ValueError, match="GUID"):
        Authenticator.from_settings(settings(entra=EntraAuth(tenant_id="contoso.onmicrosoft.com",
                                                            audience=AUDIENCE)))


def test_entra_only(authority, issuer):
    auth = Authenticator.from_settings(settings(
        entra=EntraAuth(tenant_id=TENANT, audience=AUDIENCE, app_role=ROLE, authority_host=authority)))
    assert auth.entra is not None and auth.key is None and not auth.open
    result = auth.check(bearer(issuer.token()))
    assert result.ok and result.method == "entra"
    assert_401(auth.check(post()), "missing bearer token: send Authorization: Bearer <token>")
    assert_401(auth.check(post(query={"code": "anything"})), "missing bearer token: send Authorization: Bearer <token>")
    assert_401(auth.check(bearer(issuer.token(roles=[]))), f"missing role: the token does not hold the app role '{ROLE}'")


def test_entra_and_key(authority, issuer):
    auth = Authenticator.from_settings(settings(
        api_key=SECRET_KEY,
        entra=EntraAuth(tenant_id=TENANT, audience=AUDIENCE, app_role=ROLE, authority_host=authority)))
    assert auth.check(bearer(issuer.token())).ok  # a valid token is enough
    assert auth.check(post({"x-functions-key": SECRET_KEY})).ok  # so is the key
    assert auth.check(post({"Authorization": "Bearer junk"}, {"code": SECRET_KEY})).ok
    assert_401(auth.check(post({"Authorization": "Bearer junk"}, {"code": "wrong"})), "malformed token")
    assert_401(auth.check(bearer(issuer.token(aud="x"))), "wrong audience: expected " + AUDIENCE)
    assert_401(auth.check(post()), "missing credentials: send Authorization: Bearer <token>, or the key as the "
                                   "x-functions-key header or ?code=")
    assert_401(auth.check(post({"x-functions-key": "bad"})), "wrong key")


def test_no_secret_in_any_reason_or_log_line(authority, issuer, other_key, caplog):
    auth = Authenticator.from_settings(settings(
        api_key=SECRET_KEY,
        entra=EntraAuth(tenant_id=TENANT, audience=AUDIENCE, app_role=ROLE, authority_host=authority)))
    now = int(time.time())
    tokens = [
        issuer.token(aud="other"), issuer.token(iss="https://evil.example/"), issuer.token(exp=now - 3600),
        issuer.token(nbf=now + 3600), issuer.token(roles=["x"]), issuer.token(key=other_key),
        issuer.token(key=other_key, kid="k-unknown"), "not-a-jwt-" + SECRET_KEY[::-1],
    ]
    presented = ["guess-" + SECRET_KEY[::-1], SECRET_KEY[:-1]]
    results = []
    with caplog.at_level(logging.DEBUG):
        for t in tokens:
            results.append(auth.check(bearer(t)))
        for k in presented:
            results.append(auth.check(post({"x-functions-key": k})))
            results.append(auth.check(post(query={"code": k})))
    assert all(r.status == 401 for r in results)
    lines = [r.getMessage() for r in caplog.records] + [r.reason for r in results]
    lines += [v for r in results for v in r.headers.values()]
    assert caplog.records, "rejections are logged"
    secrets = [SECRET_KEY, *presented, *tokens] + [t.split(".")[1] for t in tokens if t.count(".") == 2]
    for line in lines:
        for s in secrets:
            assert s not in line


def test_pyjwt_is_loaded_only_by_a_router_that_checks_entra_tokens():
    """PyJWT and its cryptography backend (about 9 MB) stay out of a server with keys only."""
    import subprocess
    import sys

    code = ("import sys\nfrom alertrouter.cli import main\nfrom alertrouter.http import server\nfrom alertrouter.http.auth import Authenticator, KeyCheck\n"
            "Authenticator(KeyCheck('k'))\nprint('jwt' in sys.modules, 'cryptography' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert out.stdout.split() == ["False", "False"], out.stderr
