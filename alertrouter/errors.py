"""Errors the router raises, as one tree.

    RouterError
     ├── PayloadError            a payload we cannot read (answer 4xx, exit 2)
     │    ├── MalformedJson      not JSON we read: broken, nested too deep, a number too long
     │    ├── UnsupportedSchema  JSON, but no wire format we know
     │    │    └── WrongType     a known format, but a field holds a JSON type it cannot have
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


class MalformedJson(PayloadError, ValueError):
    """Also a ValueError, as json.JSONDecodeError is: code that catches the decoder's errors catches it."""


class UnsupportedSchema(PayloadError):
    pass


class WrongType(UnsupportedSchema):
    """The message names the field by its JSON path, the type expected and the type found."""


class TooLarge(PayloadError):
    status = 413


class ConfigError(RouterError):
    """routing.yaml is invalid. `problems` holds one line per problem."""

    def __init__(self, problems: list[str]):
        self.problems = list(problems)
        super().__init__("\n".join(self.problems))


class DeliveryError(RouterError):
    pass
