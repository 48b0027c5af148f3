"""Process settings: environment variables / Functions app settings, read once, all errors at start.

Names are `ALERTROUTER_<FIELD>`, nested with `__` (the Azure app-settings separator):
`ALERTROUTER_AZURE__ACCOUNT_NAME`. Channel secrets are not here: routing.yaml names them as
`${ENV_VAR}` and they are read from the same environment.
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, Field
from pydantic_settings import BaseSettings, SettingsConfigDict


class AzureStorage(BaseModel):
    """The Azure store (Table Storage + Storage Queues). One of the two ways to reach the account."""

    connection_string: str = Field("", description="For Azurite or key-based access (a secret)")
    account_name: str = Field("", description="Storage account name; reached with the managed identity")
    table_prefix: str = Field("alertrouter", description="Prefix of the router's table names")
    queue_name: str = Field("alertrouter-deliveries", description="Queue the delivery trigger reads")


class EventGridAccess(BaseModel):
    allowed_topics: list[str] = Field(default_factory=list,
                                      description="Workspace ARM ids (topics/sources) accepted; empty = any")
    allowed_subscriptions: list[str] = Field(default_factory=list,
                                             description="aeg-subscription-name values accepted; empty = any")


class EntraAuth(BaseModel):
    """Bearer-token validation for Action Group secure webhooks; off when tenant_id is empty."""

    tenant_id: str = ""
    audience: str = Field("", description="The app registration's identifier URI or client id")
    app_role: str = Field("", description="App role the Action Group service principal must hold")
    authority_host: str = Field("https://login.microsoftonline.com",
                                description="Where the tenant's signing keys (JWKS) and issuer live")


class DispatchSettings(BaseModel):
    lease_seconds: float = Field(30.0, gt=0, description="How long a claimed notification is held by one sender")
    workers: int = Field(8, ge=1, le=64, description="Concurrent sends per process")
    batch: int = Field(64, ge=1, le=1000, description="Notifications claimed per pass")
    poll_seconds: float = Field(1.0, gt=0, description="Longest sleep between passes when idle")
    process: bool = Field(False, description="alertrouter serve: deliver from a process of its own beside the "
                          "server (intake and delivery then use two cores)")
    linger_ms: float = Field(5.0, ge=0, le=1000, description="After a pass that found less than a batch, wait "
                             "this long for more before the next, so a trickle of events is sent in batches")


class ConsoleSettings(BaseModel):
    """The operator console (pages at / on the local server, /api/console in Azure)."""

    secret: str = Field("", description="Signs console sessions and CSRF tokens (a secret, 32 random bytes); "
                                        "empty: the local server keeps a random one in its data dir "
                                        "(console-secret, mode 0600); in Azure one derived from the acknowledge "
                                        "secret, else random per process. Never derived from the API key")
    easy_auth: bool = Field(False, description="Trust App Service authentication's X-MS-CLIENT-PRINCIPAL headers "
                                               "(only behind Easy Auth, which sets and strips them)")
    easy_auth_role: str = Field("", description="App role a signed-in user must hold; empty = any user the "
                                                "app registration lets in")
    secure_cookie: bool = Field(False, description="Mark the console cookie Secure (served over HTTPS)")
    private_reads: bool = Field(False, description="Pages need an identity even on a loopback bind (behind a "
                                                   "reverse proxy on the same machine)")


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="ALERTROUTER_", env_nested_delimiter="__", extra="ignore")

    config: str = Field("routing.yaml", description="Path of routing.yaml, relative to the app root")
    data_dir: str = Field(".data", description="SQLite store and log-channel files")
    templates: str = Field("", description="Template folder; default: templates/ beside the app")
    max_body_bytes: int = Field(1024 * 1024 + 64 * 1024, gt=0,
                                description="Larger request bodies answer 413 (Event Grid's 1 MB event limit and "
                                            "room for the array around it)")
    store: Literal["sqlite", "azure"] = Field("sqlite", description="sqlite (embedded) or azure (Tables + Queues)")
    azure: AzureStorage = Field(default_factory=AzureStorage)
    api_key: str = Field("", description="Key callers must present on the local server (a secret)")
    eventgrid: EventGridAccess = Field(default_factory=EventGridAccess)
    entra: EntraAuth = Field(default_factory=EntraAuth)
    dispatch: DispatchSettings = Field(default_factory=DispatchSettings)
    ack_secret: str = Field("", description="Signs acknowledge links (a secret); empty: no links "
                                            "(the local server keeps one in its data dir)")
    public_url: str = Field("http://127.0.0.1:7071", description="Base URL of this router, for acknowledge links; "
                            "the local server also answers to its host name and takes writes from its origin")
    allowed_hosts: str = Field("", description="Local server: more Host names it answers to, comma-separated "
                               "(a proxy or tunnel in front of it; `*`: any). Others answer 400 (DNS rebinding)")
    console: ConsoleSettings = Field(default_factory=ConsoleSettings)
    log_format: Literal["text", "json"] = Field("text", description="json: one object per line with the ids")


def setting_names() -> set[str]:
    """Every environment variable name the settings model reads (for docs and infra checks)."""
    names = set()
    for name, field in Settings.model_fields.items():
        ann = field.annotation
        if isinstance(ann, type) and issubclass(ann, BaseModel):
            names |= {f"ALERTROUTER_{name.upper()}__{sub.upper()}" for sub in ann.model_fields}
        else:
            names.add(f"ALERTROUTER_{name.upper()}")
    return names
