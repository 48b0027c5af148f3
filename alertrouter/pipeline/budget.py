"""Per-channel rate budgets: when a storm would exceed a channel's budget (notices per minute,
defaulting to what the receiver documents), further notices in that minute are folded into one
summary per role and channel — "37 more notices: 30 × rule X, 7 × rule Y" — sent when the minute
is over, instead of being sent one by one into a 429. Pages (Sev0/Sev1 to a PagerDuty channel) are
never folded.

Counters (kind "budget") and folds (kind "fold") are store documents updated by compare-and-set,
so instances share one budget.
"""

from __future__ import annotations

from collections import Counter
from datetime import datetime, timezone

from ..config.types import Target
from ..model import Event, Severity
from ..channels.registry import channel_class
from ..rendering.wording import count_text

BUDGET, FOLD = "budget", "fold"
WINDOW = 60.0

def per_minute(channel_cfg) -> int | None:
    if channel_cfg is None:
        return None
    if channel_cfg.budget_per_minute is not None:
        return channel_cfg.budget_per_minute or None  # 0 = no budget
    # the receiver's documented limit (Channel.documented_limit: Teams 4/1s, PagerDuty 120/1m, Graph mail
    # 10000/10m) as a minute's worth: 240, 120, 1000
    limit = channel_class(channel_cfg.type).documented_limit
    return round(limit.count * 60 / limit.per) if limit is not None and limit.count else None


def is_page(event: Event, channel_type: str) -> bool:
    return channel_class(channel_type).pages and event.severity.rank <= Severity.error.rank


def take(store, channel: str, limit: int, now: float) -> bool:
    """One notice from this minute's budget; False when it is spent."""
    window = int(now // WINDOW)
    while True:
        found = store.state_get(BUDGET, channel)
        doc, version = found if found else ({"window": window, "count": 0}, None)
        if doc["window"] != window:
            doc = {"window": window, "count": 0}
        if doc["count"] >= limit:
            return False
        if store.state_put(BUDGET, channel, {"window": window, "count": doc["count"] + 1}, version, now):
            return True


def fold(store, t: Target, event: Event, now: float) -> str:
    """Count the event into the (role, channel) summary of this minute; returns the reason to record."""
    key = f"{t.channel}/{t.role}"
    what = event.labels.get("alert_rule") or event.labels.get("experiment") or event.kind
    while True:
        found = store.state_get(FOLD, key)
        doc, version = found if found else ({"route": t.route, "role": t.role, "channel": t.channel,
                                            "fallback_from": t.fallback_from, "due": (int(now // WINDOW) + 1) * WINDOW,
                                            "count": 0, "by": {}, "worst": Severity.verbose.value}, None)
        doc["count"] += 1
        doc["by"][what] = doc["by"].get(what, 0) + 1
        if Severity(event.severity).rank < Severity(doc["worst"]).rank:
            doc["worst"] = event.severity.value
        if store.state_put(FOLD, key, doc, version, now):
            return f"folded into the summary for {t.channel} (over its budget this minute)"


def due(store, now: float) -> list[tuple[Event, Target]]:
    """Summaries whose minute is over: claimed (deleted with a compare-and-set) and returned."""
    out = []
    for key, doc, version in store.state_list(FOLD):
        if doc["due"] > now:
            continue
        if not store.state_put(FOLD, key, {**doc, "due": float("inf")}, version, now):
            continue  # another instance took it
        store.state_delete(FOLD, key)
        top = Counter(doc["by"]).most_common(5)
        parts = ", ".join(f"{n} × {what}" for what, n in top)
        more = len(doc["by"]) - len(top)
        title = (f"{count_text(doc['count'], 'more notice')} for {doc['channel']}: {parts}"
                 + (f" and {more} more" if more else ""))
        they, each = ("They went", "each is") if doc["count"] > 1 else ("It went", "it is")
        event = Event(id=f"fold|{key}|{int(doc['due'])}", source="azure-monitor", kind="event.other",
                      severity=doc["worst"], title=title[:200],
                      summary=f"{title}. {they} over the channel's budget in one minute; {each} in the outbox "
                              "(alertrouter outbox list --status held).",
                      time=datetime.fromtimestamp(now, timezone.utc), fingerprint=f"fold:{key}",
                      labels={"folded": str(doc["count"]), "channel": doc["channel"]})
        out.append((event, Target(doc["route"], doc["role"], doc["channel"], doc.get("fallback_from", ""))))
    return out
