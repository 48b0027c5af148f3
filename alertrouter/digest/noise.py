"""The digest's noise section, for the software engineers' digest: the period's rules that notified
most, flapping rules, pages at night for on-call, and the top suggestions with their routing.yaml
snippets, short. Built by the noise report (alertrouter/noise) over the digest's period; the
suggestions are not replayed here (`alertrouter noise` does that)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from ..config.load import LoadedConfig

SHOWN = 3  # rows of each part


def noise_section(loaded: LoadedConfig, store, start: datetime, end: datetime) -> dict[str, Any]:
    """The section's figures for [start, end), as the digest templates read them."""
    from ..noise import build  # the noise report reads through the replay's outcomes, which read digest.sources

    r = build(loaded, store, start, end).as_dict()
    nights = r["pages_per_night"]
    return {
        "top": [{k: x[k] for k in ("rule", "notices", "pages")} for x in r["top_rules"][:SHOWN]],
        "flapping": [{k: f[k] for k in ("rule", "resource", "flaps", "days")} for f in r["flapping"][:SHOWN]],
        "quick": [{k: q[k] for k in ("rule", "alerts", "notices", "pages")} for q in r["resolved_before_action"][:SHOWN]],
        "nights": {k: nights[k] for k in ("role", "hours", "pages", "nights_paged", "nights", "worst")},
        "suggestions": [{k: s[k] for k in ("kind", "rule", "claim", "why", "snippet")} for s in r["suggestions"][:SHOWN]],
        "more_suggestions": max(0, len(r["suggestions"]) - SHOWN),
        "notes": r["notes"],
    }
