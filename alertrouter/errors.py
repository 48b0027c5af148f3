"""Errors the router raises, as one tree.

    RouterError
     ├── PayloadError            a payload we cannot read (answer 4xx, exit 2)
     │    ├── MalformedJson      not JSON at all
     │    ├── UnsupportedSchema  JSON, but no wire format we know
     │    └── TooLarge           over the body limit (HTTP 413)
     ├── ConfigError             routing.yaml is wrong; carries every problem found
     └── DeliveryError           a channel could not deliver (secrets never in the message)

Messages say what was wrong, where, and how to fix it.
"""

from __future__ import annotations


class RouterError(Exception):
    """Base of every error the router raises on purpose."""


class PayloadError(RouterError):
    """A payload that cannot be turned into events."""

    status = 400


class MalformedJson(PayloadError):
    pass


class UnsupportedSchema(PayloadError):
    pass


class TooLarge(PayloadError):
    status = 413


class ConfigError(RouterError):
    """routing.yaml is invalid. `problems` holds one line per problem."""

    def __init__(self, problems: list[str]):
        self.problems = list(problems)
        super().__init__("\n".join(self.problems))


class DeliveryError(RouterError):
    pass
