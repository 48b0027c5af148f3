"""alertrouter: Azure ML events and Azure Monitor alerts, routed to team roles.

The core never imports azure.functions; function_app.py and handlers/ adapt the Functions host to it.
"""

from .errors import ConfigError, MalformedJson, PayloadError, RouterError, TooLarge, UnsupportedSchema
from .model import Event, Severity

__all__ = [
    "ConfigError",
    "Event",
    "MalformedJson",
    "PayloadError",
    "RouterError",
    "Severity",
    "TooLarge",
    "UnsupportedSchema",
]
__version__ = "0.1.0"
