"""Who may post to /api/alerts and /api/eventgrid.

Three independent checks and one small combiner:

- `KeyCheck`: the Functions-style key, as the `x-functions-key` header or the `code` query parameter.
- `EntraValidator`: `Authorization: Bearer <jwt>` from an Action Group *secure webhook* (Microsoft
  Entra ID v2.0 access token, RS256, signed by a key of the tenant's JWKS; issuer, audience, app
  role, exp/nbf checked).
- `SourceFilter`: Event Grid allow-lists of topics (workspace ARM ids) and subscription names; the
  caller acknowledges and drops events that are not allowed.
- `Authenticator`: key and/or bearer token for the two POST endpoints, built from `Settings`.

Nothing here ever puts a presented or configured secret (key, token) into a reason or a log line.

Token version: only v2.0 access tokens are accepted (issuer `{authority_host}/{tenant}/v2.0`). The
Action Group secure-webhook docs say to configure the app registration for v2 tokens, and Microsoft's
access-token docs say the version is chosen by the API's manifest (`accessTokenAcceptedVersion`:
null or 1 gives v1.0 tokens with issuer `https://sts.windows.net/{tenant}/` and the identifier URI as
audience, 2 gives v2.0 tokens with the client id as audience), not by the caller. Accepting both would
mean two audience forms and, per those docs, the v1.0 metadata and keys as well. A correctly signed
v1.0 token is therefore rejected with a reason that names the manifest setting to change.
"""

from __future__ import annotations

import hmac
import logging
import re
import time
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Iterable, Mapping, Protocol

if TYPE_CHECKING:
    from jwt import PyJWK

# PyJWT (and the cryptography backend under it, 9 MB and 25 ms to import) is imported by the
# EntraValidator's methods: only a router that checks Entra tokens pays for it.

log = logging.getLogger("alertrouter.auth")

# The "AzNS AAD Webhook" service principal Action Groups use to get tokens for secure webhooks.
ACTION_GROUP_APP_ID = "461e8683-5575-4561-ac7f-899cc907d62a"

KEY_HEADER = "x-functions-key"
KEY_QUERY = "code"

_GUID = re.compile(r"^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$")
_ALGORITHMS = ["RS256"]


class _Request(Protocol):  # alertrouter.http.api.Request (headers looked up lower-case)
    headers: Mapping[str, str]
    query: Mapping[str, str]


@dataclass(frozen=True)
class AuthResult:
    """ok → let the request through. Otherwise answer `status` (401 or 503) with `reason` and `headers`.

    `reason` is safe to return to the caller and to log: it never contains a key or a token.
    `method` says what let the request in: "key", "entra" or "open" (nothing configured).
    """

    ok: bool
    status: int
    reason: str
    headers: dict[str, str] = field(default_factory=dict)
    method: str = ""

    @property
    def retryable(self) -> bool:
        """True for 503: the sender should retry (signing keys could not be fetched)."""
        return self.status == 503


def _allow(method: str) -> AuthResult:
    return AuthResult(True, 200, "ok", method=method)


def _deny(reason: str, headers: dict[str, str] | None = None) -> AuthResult:
    return AuthResult(False, 401, reason, dict(headers or {}))


# ---------------------------------------------------------------------------------------------------
# Function key


class KeyCheck:
    """The key as `x-functions-key` header or `?code=`. An empty configured key means the check is off."""

    MISSING = "missing key: send it as the x-functions-key header or ?code="
    WRONG = "wrong key"

    def __init__(self, key: str):
        self._key = (key or "").encode("utf-8")

    @property
    def enabled(self) -> bool:
        return bool(self._key)

    @staticmethod
    def presented(req: _Request) -> str:
        """The key the request carries (header first, then the query), or ""."""
        return (req.headers.get(KEY_HEADER) or "").strip() or (req.query.get(KEY_QUERY) or "").strip()

    def check(self, req: _Request) -> AuthResult:
        if not self._key:
            return _allow("open")
        given = self.presented(req)
        if not given:
            return _deny(self.MISSING)
        if hmac.compare_digest(given.encode("utf-8"), self._key):
            return _allow("key")
        return _deny(self.WRONG)


# ---------------------------------------------------------------------------------------------------
# Entra ID bearer tokens


class EntraValidator:
    """Validates `Authorization: Bearer <jwt>` issued by Microsoft Entra ID (v2.0 access tokens).

    Signing keys come from `{authority_host}/{tenant_id}/discovery/v2.0/keys` through PyJWT's
    `PyJWKClient`: the key set is cached for `jwks_lifespan` seconds; a token with an unknown key
    id forces at most one refetch per `jwks_cooldown` seconds (key rotation without letting random
    key ids hammer the endpoint). If a refetch fails, the last good key set keeps being used for up
    to `jwks_max_stale` seconds; with no usable key set the result is 503 (retryable).

    `allowed_clients`: optional client app ids (the token's `azp`, or `appid`); empty = any client
    the tenant issued a token to. `ACTION_GROUP_APP_ID` is the Action Group service principal.
    """

    MISSING = "missing bearer token: send Authorization: Bearer <token>"
    NOT_BEARER = "malformed Authorization header: expected 'Bearer <token>'"
    MALFORMED = "malformed token"
    ALG = "token algorithm not allowed: only RS256"
    NO_KID = "malformed token: no key id (kid) in its header"
    UNKNOWN_KID = "unknown key id: the token was not signed by a key of the tenant"
    BAD_SIGNATURE = "bad signature"
    EXPIRED = "token expired"
    NOT_YET_VALID = "token not yet valid"
    WRONG_AUDIENCE = "wrong audience"
    WRONG_ISSUER = "wrong issuer"
    MISSING_ROLE = "missing role"
    WRONG_CLIENT = "token was issued to a client app that is not allowed"
    NO_KEYS = "cannot fetch signing keys; try again later"

    def __init__(self, tenant_id: str, audience: str, app_role: str = "",
                 authority_host: str = "https://login.microsoftonline.com", http_timeout: float = 5,
                 *, leeway: float = 60, allowed_clients: Iterable[str] = (),
                 jwks_lifespan: float = 3600, jwks_cooldown: float = 60, jwks_max_stale: float = 86400):
        tenant_id = (tenant_id or "").strip()
        if not _GUID.match(tenant_id):
            raise ValueError("entra.tenant_id must be the directory (tenant) id, a GUID: tokens name their "
                             "tenant by GUID in the issuer, so a domain name would never match")
        if not (audience or "").strip():
            raise ValueError("entra.audience is required when entra.tenant_id is set "
                             "(the app registration's client id, which v2.0 tokens carry as aud)")
        host = authority_host.rstrip("/")
        self.tenant_id = tenant_id.lower()
        self.audience = audience.strip()
        self.app_role = (app_role or "").strip()
        self.issuer = f"{host}/{self.tenant_id}/v2.0"
        self.jwks_uri = f"{host}/{self.tenant_id}/discovery/v2.0/keys"
        self.leeway = leeway
        self.allowed_clients = {c.strip().lower() for c in allowed_clients if c and c.strip()}
        self.jwks_max_stale = jwks_max_stale
        import jwt

        self._jwks = jwt.PyJWKClient(self.jwks_uri, cache_jwk_set=True, lifespan=jwks_lifespan,
                                     timeout=http_timeout, cooldown_duration=jwks_cooldown)
        self._last_good: list[PyJWK] | None = None
        self._last_good_at = 0.0
        self._failed_at: float | None = None
        self._cooldown = jwks_cooldown
        self._v1_issuer = f"https://sts.windows.net/{self.tenant_id}/"
        self._challenge = {"WWW-Authenticate": 'Bearer error="invalid_token"'}

    # -- public -----------------------------------------------------------------------------------

    @staticmethod
    def bearer(req: _Request) -> str | None:
        """The token of `Authorization: Bearer <token>`; "" if the header is there but not Bearer; None if absent."""
        value = (req.headers.get("authorization") or "").strip()
        if not value:
            return None
        scheme, _, token = value.partition(" ")
        if scheme.lower() != "bearer" or not token.strip():
            return ""
        return token.strip()

    def check(self, req: _Request) -> AuthResult:
        token = self.bearer(req)
        if token is None:
            return _deny(self.MISSING, {"WWW-Authenticate": "Bearer"})
        if not token:
            return _deny(self.NOT_BEARER, self._challenge)
        return self.validate(token)

    def validate(self, token: str) -> AuthResult:
        """Validate one encoded JWT. Never raises for a bad token."""
        import jwt

        try:
            header = jwt.get_unverified_header(token)
        except jwt.PyJWTError:
            return self._fail(self.MALFORMED)
        if header.get("alg") not in _ALGORITHMS:
            return self._fail(self.ALG)
        kid = header.get("kid")
        if not isinstance(kid, str) or not kid:
            return self._fail(self.NO_KID)

        keys = self._signing_keys()
        if keys is None:
            return AuthResult(False, 503, self.NO_KEYS, {"Retry-After": "30"})
        key = jwt.PyJWKClient.match_kid(keys, kid)
        if key is None:
            key = self._refetch_for(kid)
            if key is None:
                return self._fail(self.UNKNOWN_KID)

        try:
            claims = jwt.decode(
                token, key.key, algorithms=_ALGORITHMS, audience=self.audience, issuer=self.issuer,
                leeway=self.leeway,
                options={"require": ["exp", "iss", "aud"], "verify_signature": True},
            )
        except jwt.InvalidSignatureError:
            return self._fail(self.BAD_SIGNATURE)
        except jwt.ExpiredSignatureError:
            return self._fail(self.EXPIRED)
        except jwt.ImmatureSignatureError:
            return self._fail(self.NOT_YET_VALID)
        except jwt.InvalidAudienceError:
            hint = "" if _GUID.match(self.audience) else (
                "; v2.0 tokens carry the app registration's client id (a GUID), not its identifier URI")
            return self._fail(f"{self.WRONG_AUDIENCE}: expected {self.audience}{hint}")
        except jwt.InvalidIssuerError:
            return self._fail(self._issuer_reason(token))
        except jwt.MissingRequiredClaimError as exc:
            return self._fail(f"{self.MALFORMED}: missing claim {exc.claim}")
        except jwt.InvalidAlgorithmError:
            return self._fail(self.ALG)
        except jwt.DecodeError:
            return self._fail(self.MALFORMED)
        except jwt.InvalidTokenError:
            return self._fail("invalid token")

        if self.app_role:
            roles = claims.get("roles")
            if not isinstance(roles, list) or self.app_role not in roles:
                return _deny(f"{self.MISSING_ROLE}: the token does not hold the app role {self.app_role!r}",
                             {"WWW-Authenticate": 'Bearer error="insufficient_scope"'})
        if self.allowed_clients:
            client = str(claims.get("azp") or claims.get("appid") or "").lower()
            if client not in self.allowed_clients:
                return _deny(self.WRONG_CLIENT, {"WWW-Authenticate": 'Bearer error="insufficient_scope"'})
        return _allow("entra")

    # -- internals --------------------------------------------------------------------------------

    def _fail(self, reason: str) -> AuthResult:
        return _deny(reason, self._challenge)

    def _issuer_reason(self, token: str) -> str:
        import jwt

        try:  # the signature was verified before the issuer was looked at
            iss = jwt.decode(token, options={"verify_signature": False}).get("iss")
        except jwt.PyJWTError:
            iss = None
        if isinstance(iss, str) and iss.lower() == self._v1_issuer:
            return (f"{self.WRONG_ISSUER}: this is a v1.0 token; set accessTokenAcceptedVersion to 2 in the "
                    f"app registration's manifest (expected issuer {self.issuer})")
        return f"{self.WRONG_ISSUER}: expected {self.issuer}"

    def _signing_keys(self) -> list[PyJWK] | None:
        """The cached key set (fetching it when the cache is empty or expired), or None if unusable.

        After a failed fetch, the last good key set (if any) is served for `jwks_cooldown` seconds
        without trying again, so an outage of the endpoint does not stall every request.
        """
        if (self._failed_at is not None and self._last_good is not None
                and time.monotonic() - self._failed_at < self._cooldown):
            return self._stale(None)
        import jwt

        try:
            keys = self._jwks.get_signing_keys()
        except (jwt.PyJWTError, ValueError, OSError) as exc:  # ValueError: not JSON
            self._failed_at = time.monotonic()
            return self._stale(exc)
        self._failed_at = None
        self._last_good, self._last_good_at = keys, time.monotonic()
        return keys

    def _refetch_for(self, kid: str) -> PyJWK | None:
        """An unknown key id: refetch once (PyJWKClient rate-limits this with its cooldown)."""
        import jwt

        try:
            key = self._jwks.get_signing_key(kid)
        except jwt.PyJWKClientConnectionError as exc:
            log.warning("cannot refresh signing keys from %s (%s)", self.jwks_uri, type(exc).__name__)
            return None
        except (jwt.PyJWTError, ValueError, OSError):
            return None
        try:
            self._last_good, self._last_good_at = self._jwks.get_signing_keys(), time.monotonic()
        except (jwt.PyJWTError, ValueError, OSError):
            pass
        return key

    def _stale(self, exc: BaseException | None) -> list[PyJWK] | None:
        age = time.monotonic() - self._last_good_at
        if self._last_good is not None and age <= self.jwks_max_stale:
            if exc is None:
                return self._last_good
            log.warning("cannot fetch signing keys from %s (%s); using the key set fetched %.0f s ago",
                        self.jwks_uri, type(exc).__name__, age)
            return self._last_good
        log.error("cannot fetch signing keys from %s (%s)", self.jwks_uri, type(exc).__name__)
        return None


# ---------------------------------------------------------------------------------------------------
# Event Grid sources


def _norm_topic(topic: str) -> str:
    return (topic or "").strip().rstrip("/").lower()


class SourceFilter:
    """Event Grid allow-lists. An empty list allows anything; comparisons ignore case.

    Topics are ARM ids (`/subscriptions/{sub}/resourceGroups/{rg}/providers/
    Microsoft.MachineLearningServices/workspaces/{ws}`); a trailing slash is ignored.
    Subscription names are the `aeg-subscription-name` header (Event Grid sends it upper-cased).
    """

    def __init__(self, allowed_topics: Iterable[str] = (), allowed_subscriptions: Iterable[str] = ()):
        self._topics = frozenset(t for t in (_norm_topic(x) for x in allowed_topics or ()) if t)
        self._subs = frozenset(s for s in ((x or "").strip().lower() for x in allowed_subscriptions or ()) if s)

    @property
    def enabled(self) -> bool:
        return bool(self._topics or self._subs)

    def subscription_allowed(self, name: str) -> bool:
        return not self._subs or (name or "").strip().lower() in self._subs

    def topic_allowed(self, topic: str) -> bool:
        return not self._topics or _norm_topic(topic) in self._topics


# ---------------------------------------------------------------------------------------------------
# The combination the HTTP endpoints use


class Authenticator:
    """Who may POST to /api/alerts and /api/eventgrid.

    - Entra configured (tenant_id set) and the request carries a bearer token: a valid token is
      enough (a valid key, when a key is configured, is accepted as well).
    - Otherwise a configured key is required.
    - Entra configured, no key configured, no bearer token: 401 (missing bearer token).
    - Neither configured: ok with method "open"; the caller decides whether that is allowed.
    """

    MISSING_ANY = ("missing credentials: send Authorization: Bearer <token>, or the key as the "
                   "x-functions-key header or ?code=")

    def __init__(self, key: KeyCheck | None = None, entra: EntraValidator | None = None,
                 sources: SourceFilter | None = None):
        self.key = key if key is not None and key.enabled else None
        self.entra = entra
        self.sources = sources or SourceFilter()

    @classmethod
    def from_settings(cls, settings: Any, *, http_timeout: float = 5) -> "Authenticator":
        """Raises ValueError for an unusable Entra configuration (call it at start)."""
        e = settings.entra
        entra = None
        if (e.tenant_id or "").strip():
            entra = EntraValidator(e.tenant_id, e.audience, e.app_role, e.authority_host, http_timeout)
        eg = settings.eventgrid
        return cls(KeyCheck(settings.api_key), entra, SourceFilter(eg.allowed_topics, eg.allowed_subscriptions))

    @property
    def open(self) -> bool:
        """True when neither a key nor Entra is configured: every request is let in."""
        return self.key is None and self.entra is None

    def check(self, req: _Request) -> AuthResult:
        result = self._check(req)
        if not result.ok:
            path = getattr(req, "path", "")
            level = logging.ERROR if result.retryable else logging.WARNING
            log.log(level, "rejected %s: %d %s", path, result.status, result.reason)
        return result

    def _check(self, req: _Request) -> AuthResult:
        if self.open:
            return _allow("open")
        if self.entra is not None and EntraValidator.bearer(req) is not None:
            result = self.entra.check(req)
            if result.ok or self.key is None or not KeyCheck.presented(req):
                return result
            by_key = self.key.check(req)  # a bad token, but a key too: a right key is enough
            return by_key if by_key.ok else result
        if self.key is not None:
            result = self.key.check(req)
            if not result.ok and self.entra is not None and result.reason == KeyCheck.MISSING:
                return _deny(self.MISSING_ANY, {"WWW-Authenticate": "Bearer"})
            return result
        return self.entra.check(req)  # Entra only, no bearer header → 401 missing bearer token
