"""The acknowledge link's page: what a GET or HEAD of `/api/ack?token=…` shows, without changing anything.

Mail security scanners (Microsoft Defender's Safe Links, gateways that "detonate" links) and chat
link unfurlers fetch every link in a message, so a link that acted on GET would acknowledge pages
nobody read and stop their escalation. The link therefore opens a confirmation page: what would be
acknowledged (the event's title, escaped), or why it cannot be (expired, forged, already
acknowledged, unknown), and a plain HTML form whose button POSTs the token back. No script, so the
page's Content-Security-Policy allows nothing but posting that form to its own origin.
"""

from __future__ import annotations

import html
from dataclasses import dataclass
from datetime import datetime, timezone

from ..pipeline import escalate

# The token is in the URL: never send it on as a referrer; nothing may frame the button.
HEADERS = {
    "Content-Type": "text/html; charset=utf-8",
    "Content-Security-Policy": "default-src 'none'; form-action 'self'; base-uri 'none'; frame-ancestors 'none'",
    "X-Frame-Options": "DENY",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "Cache-Control": "no-store",
}


@dataclass
class Preview:
    """What a POST of this token would do: status 200 with the event's title, or the refusal."""

    status: int
    text: str


def preview(app, token: str) -> Preview:
    """Check the token (signature, expiry, single use) and find its event; reads only."""
    secret = app.pipeline.ack_secret
    if secret is None:
        return Preview(404, "acknowledgements are not enabled (no ALERTROUTER_ACK_SECRET)")
    if not token:
        return Preview(400, "this acknowledge link has no token: open the link from the notification as it was sent")
    try:
        ack = escalate.verify(secret, token, app.clock())
    except escalate.AckError as exc:
        return Preview(exc.status, exc.reason)
    done = app.store.state_get(escalate.ACK_KIND, f"{ack.event_id}|{ack.route}")
    if done is not None:
        doc = done[0]
        at = datetime.fromtimestamp(float(doc.get("at", 0)), timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
        return Preview(409, f"already acknowledged by {doc.get('by', 'someone')} at {at}")
    event = app.store.get_event(ack.event_id)
    if event is None:
        return Preview(404, "the event of this link is no longer in the store")
    return Preview(200, event.title)


def confirm_page(p: Preview, token: str, by: str, head: bool) -> tuple[int, bytes, dict[str, str]]:
    """GET/HEAD: the confirmation form when the token is good, else why not. HEAD gets no body."""
    if p.status == 200:
        body = (f"<h1>Acknowledge this page?</h1><p><strong>{html.escape(p.text)}</strong></p>"
                "<p>Acknowledging stops its escalation and tells the route's roles who took it.</p>"
                '<form method="post">'
                f'<input type="hidden" name="token" value="{html.escape(token, quote=True)}">'
                '<p><label>Your name <input name="by" maxlength="80" autocomplete="name" '
                f'value="{html.escape(by, quote=True)}"></label></p>'
                '<p><button type="submit">Acknowledge</button></p></form>')
    else:
        body = f"<h1>Cannot acknowledge</h1><p>{html.escape(p.text)}</p>"
    return p.status, b"" if head else _doc(body), dict(HEADERS)


def result_page(status: int, text: str) -> tuple[int, bytes, dict[str, str]]:
    """After the form's POST: the announcement's title, or why it was refused."""
    head = "Acknowledged" if status == 200 else "Cannot acknowledge"
    return status, _doc(f"<h1>{head}</h1><p>{html.escape(text)}</p>"), dict(HEADERS)


def _doc(body: str) -> bytes:
    return (f"<!doctype html><html lang=en><meta charset=utf-8>"
            f'<meta name="viewport" content="width=device-width, initial-scale=1">'
            f"<title>alertrouter: acknowledge</title>{body}</html>").encode()
