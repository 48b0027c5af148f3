"""The secrets the console masks: every configured channel's resolved values (how they are
masked, for every page, preview and payload: rendering/masking.py)."""

from __future__ import annotations


def configured_secrets(app) -> tuple[str, ...]:
    """Every channel's resolved secrets (an email channel's current access token among them)."""
    return tuple(sorted({s for ch in app.channels.values() for s in ch.secret_values() if s}))
