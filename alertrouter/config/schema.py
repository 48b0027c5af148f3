"""routing.yaml as typed models. Unknown keys are errors; names are cross-checked in load.py."""

from __future__ import annotations

from typing import Annotated, Any, Literal, Union

from pydantic import BaseModel, ConfigDict, Field


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", populate_by_name=True)


class WebhookChannel(_Strict):
    """JSON POST of the notification to a URL (`${ENV_VAR}` references allowed)."""

    type: Literal["webhook"]
    url: str = Field(description="Target URL; a secret: write it as ${ENV_VAR}")
    headers: dict[str, str] = Field(default_factory=dict, description="Extra headers; values may use ${ENV_VAR}")
    timeout_seconds: float = Field(10.0, gt=0, le=60)


class LogChannel(_Strict):
    """Writes rendered notifications to the console and to a JSON-lines file in the data dir."""

    type: Literal["log"]
    path: str = Field("notifications.jsonl", description="File under the data dir (or an absolute path)")
    console: bool = True


Channel = Annotated[Union[WebhookChannel, LogChannel], Field(discriminator="type")]
CHANNEL_TYPES = ("log", "webhook")


class Role(_Strict):
    description: str = ""
    channels: list[str] = Field(min_length=1)
    visibility: Literal["full", "restricted"] = "full"


class Route(_Strict):
    name: str = Field(min_length=1)
    match: dict[str, Any] = Field(default_factory=dict)
    roles: list[str] = Field(description="Roles to notify; [] records the event and notifies nobody")
    continue_: bool = Field(False, alias="continue")


class DefaultRoute(_Strict):
    roles: list[str] = Field(default_factory=list)


class RoutingConfig(_Strict):
    version: Literal[1] = 1
    channels: dict[str, Channel] = Field(default_factory=dict)
    roles: dict[str, Role]
    routes: list[Route] = Field(default_factory=list)
    default_route: DefaultRoute = Field(default_factory=DefaultRoute)
