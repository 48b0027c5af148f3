"""Delivery on Functions: a queue trigger sends the notifications a message names; a timer sweeps.

- `deliver`: a message names notification ids, one a line (the Azure store's `enqueue` puts the
  notifications of one intake call together, up to 16 a message; base64 text as the host expects),
  on the queue the app setting ALERTROUTER_AZURE__QUEUE_NAME names. It claims those that are due
  and sends them. A notification that is not due (sent already, leased by another instance, a
  retry scheduled later) is left alone and the message is done. An unexpected exception
  propagates: the host makes the message visible again (the notifications sent by then are not
  due any more, so only the others go out on the retry) and, after host.json's `maxDequeueCount`
  (default 5), moves it to `<queue>-poison`.
- `sweep`: every minute, runs the dispatcher until nothing is due, within a time budget. It catches
  what the queue cannot: a lost or poisoned message, a lease that ran out after a crash, a
  notification re-driven by an operator, a message that came before its notification was due.
"""

from __future__ import annotations

import logging
import time

import azure.functions as func

from . import _runtime

log = logging.getLogger("alertrouter.functions")

bp = func.Blueprint()

QUEUE_SETTING = "%ALERTROUTER_AZURE__QUEUE_NAME%"  # resolved by the host from the app settings
SWEEP_SCHEDULE = "0 */1 * * * *"
SWEEP_BUDGET_SECONDS = 240.0  # stop claiming well inside the 5-minute Consumption-plan timeout
MAX_ID_CHARS = 1024
MAX_IDS = 64  # ids a message may name (the store sends at most 16)


def notification_ids(msg: func.QueueMessage) -> list[str]:
    """The notification ids a message names, one a line (plain text once the host has decoded the
    base64); a message written before messages named several is one id, and reads the same."""
    body = msg.get_body() or b""
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError:
        raise ValueError(f"queue message {msg.id}: body is not UTF-8 text") from None
    ids = [line.strip() for line in text.strip().split("\n")]
    if len(ids) > MAX_IDS or not all(i and len(i) <= MAX_ID_CHARS and i.isprintable() for i in ids):
        raise ValueError(f"queue message {msg.id}: body is not notification ids, one a line, at most {MAX_IDS} "
                         f"({len(body)} bytes)")
    return ids


@bp.queue_trigger(arg_name="msg", queue_name=QUEUE_SETTING, connection="AzureWebJobsStorage")
def deliver(msg: func.QueueMessage) -> None:
    ids = notification_ids(msg)
    sent = _runtime.dispatcher().run_once(ids)
    if sent < len(ids):
        log.info("%d of the %d notification(s) of message %s not due (sent, leased elsewhere, or scheduled later): "
                 "left alone", len(ids) - sent, len(ids), msg.id,
                 extra={"notification_id": ids[0]} if len(ids) == 1 else {})


@bp.timer_trigger(arg_name="timer", schedule=SWEEP_SCHEDULE)
def sweep(timer: func.TimerRequest) -> None:
    if timer.past_due:
        log.info("delivery sweep is running late")
    dispatcher = _runtime.dispatcher()
    deadline = time.monotonic() + SWEEP_BUDGET_SECONDS
    total = passes = 0
    while True:
        handled = dispatcher.run_once()
        total += handled
        passes += 1
        if not handled:
            break
        if time.monotonic() >= deadline:
            log.warning("delivery sweep stopped after %.0f s with notifications still due; the next run goes on",
                        SWEEP_BUDGET_SECONDS)
            break
    if total:
        log.info("delivery sweep handled %d notification(s) in %d pass(es)", total, passes)
