"""Delivery on Functions: a queue trigger sends the notification a message names; a timer sweeps.

- `deliver`: one message per notification id on the queue the app setting
  ALERTROUTER_AZURE__QUEUE_NAME names (the Azure store's `enqueue`, base64 text as the host
  expects). It claims that notification if it is due and sends it. A notification that is not due
  (sent already, leased by another instance, a retry scheduled later) is left alone and the message
  is done. An unexpected exception propagates: the host makes the message visible again and, after
  host.json's `maxDequeueCount` (default 5), moves it to `<queue>-poison`.
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


def notification_id(msg: func.QueueMessage) -> str:
    """The notification id a message carries (plain text once the host has decoded the base64)."""
    body = msg.get_body() or b""
    try:
        text = body.decode("utf-8").strip()
    except UnicodeDecodeError:
        raise ValueError(f"queue message {msg.id}: body is not UTF-8 text") from None
    if not text or len(text) > MAX_ID_CHARS or not text.isprintable():
        raise ValueError(f"queue message {msg.id}: body is not a notification id ({len(body)} bytes)")
    return text


@bp.queue_trigger(arg_name="msg", queue_name=QUEUE_SETTING, connection="AzureWebJobsStorage")
def deliver(msg: func.QueueMessage) -> None:
    nid = notification_id(msg)
    sent = _runtime.dispatcher().run_once([nid])
    if not sent:
        log.info("notification %s: not due (sent, leased elsewhere, or scheduled later); message %s done",
                 nid, msg.id, extra={"notification_id": nid})


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
