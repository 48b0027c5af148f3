"""Delivery in a process of its own, beside the server (`ALERTROUTER_DISPATCH__PROCESS=true`).

The server takes events in and answers; a child process claims due notifications from the same
store and sends them (the same `Dispatcher`, as if it were a second instance: leases keep the two
from sending one notification twice). On a machine with more than one core, intake and delivery
then no longer take turns with one interpreter.

    parent (alertrouter serve)                      child (spawned)
      intake → store → listener ── wake byte ──────▶ dispatcher loop → channels
      /metrics ◀──────────────── metric updates ───── (counters and histograms it touched)

- The parent writes one byte per intake to a pipe (never blocking: a full pipe means the child has
  wake-ups enough); the child's loop wakes on it, and also polls as the dispatcher always does.
- The child's metric updates are relayed to the parent's registry every RELAY_SECONDS, so
  `/metrics` shows every delivery.
- Stopping the server closes the pipe: the child stops claiming, lets sends under way finish,
  releases the rest and exits. A child that dies is started again after a second; what it had
  claimed is sent again when its leases run out.

The child's entry, `build.delivery_main`, builds its app and dispatcher through alertrouter/build.py
(host DELIVERY) and hands them to `run_child`.
"""

from __future__ import annotations

import json
import logging
import multiprocessing as mp
import os
import signal
import threading
from pathlib import Path

log = logging.getLogger("alertrouter.delivery")

RELAY_SECONDS = 0.2
RESTART_AFTER = 1.0
READY = "__ready__"  # the child's first message


class DeliveryProcess:
    """The parent's side, shaped like a Dispatcher for the server: start(), wake(), stop()."""

    def __init__(self, main, config: str, data_dir: str | Path, ack_secret: bytes | None, public_url: str, metrics):
        """`main(config, data_dir, ack_secret, public_url, wake, metrics_conn)` is the child's entry
        (a module-level function: the spawned interpreter imports it by name)."""
        self.main = main
        self.args = (str(Path(config).resolve()), str(Path(data_dir).resolve()), ack_secret, public_url)
        self.metrics = metrics
        self._ctx = mp.get_context("spawn")  # a clean interpreter: no threads or SQLite handles carried over
        self._proc = None
        self._wake = None  # the writing end of the wake pipe
        self._stopping = threading.Event()
        self._ready = threading.Event()
        self._lock = threading.Lock()
        self._monitor: threading.Thread | None = None

    def start(self, ready_within: float = 60.0) -> None:
        """Start the child and wait until it delivers (the server answers only then: an event taken
        in while the child is still importing would wait for it)."""
        self._stopping.clear()
        self._spawn()
        if not self._ready.wait(ready_within):
            log.error("delivery process not ready after %.0f s; notifications wait for it", ready_within)
        self._monitor = threading.Thread(target=self._watch, name="delivery-monitor", daemon=True)
        self._monitor.start()

    def _spawn(self) -> None:
        # the wake pipe is used as a raw pipe (one byte a wake-up), not as Connection messages
        wake_r, wake_w = self._ctx.Pipe(duplex=False)
        metrics_r, metrics_w = self._ctx.Pipe(duplex=False)
        proc = self._ctx.Process(target=self.main, args=(*self.args, wake_r, metrics_w), name="alertrouter-delivery")
        proc.start()
        wake_r.close()
        metrics_w.close()
        os.set_blocking(wake_w.fileno(), False)
        with self._lock:
            self._proc, old, self._wake = proc, self._wake, wake_w
        if old is not None:
            old.close()
        threading.Thread(target=self._relay, args=(metrics_r,), name="delivery-metrics", daemon=True).start()
        log.info("delivery process %d started", proc.pid)

    def wake(self, *_args) -> None:
        wake = self._wake
        if wake is None:
            return
        try:
            os.write(wake.fileno(), b"w")
        except OSError:
            pass  # full: the child has wake-ups enough; closed or gone: stopping, or the monitor starts another

    def _relay(self, conn) -> None:
        """Apply the child's metric updates to this process's registry."""
        while True:
            try:
                batch = json.loads(conn.recv_bytes())
            except (EOFError, OSError, ValueError):
                return
            for name, labels, op, value in batch:
                if name == READY:
                    self._ready.set()
                    continue
                metric = getattr(self.metrics, name, None)
                if metric is not None:
                    target = metric.labels(*labels) if labels else metric
                    getattr(target, op)(value)

    def _watch(self) -> None:
        while not self._stopping.is_set():
            proc = self._proc
            proc.join()
            if self._stopping.is_set():
                return
            log.error("delivery process %d ended (exit code %s); starting another in %.0f s", proc.pid,
                      proc.exitcode, RESTART_AFTER)
            if self._stopping.wait(RESTART_AFTER):
                return
            self._spawn()

    def stop(self, timeout: float = 30.0) -> None:
        """Close the wake pipe: the child finishes the sends under way, releases the rest and exits."""
        self._stopping.set()
        with self._lock:
            wake, self._wake = self._wake, None
        if wake is not None:
            wake.close()
        proc = self._proc
        if proc is not None:
            proc.join(timeout)
            if proc.is_alive():
                log.error("delivery process %d did not stop within %.0f s; terminating it", proc.pid, timeout)
                proc.terminate()
                proc.join(5)


class MetricsRelay:
    """Stands in for `Metrics` in the child: every counter and histogram update is buffered and sent
    to the parent in batches."""

    def __init__(self, conn):
        self._conn = conn
        self._buffer: list = []
        self._lock = threading.Lock()

    def __getattr__(self, name: str) -> "_Metric":
        return _Metric(self, name, ())

    def add(self, item) -> None:
        with self._lock:
            self._buffer.append(item)

    def flush(self) -> None:
        with self._lock:
            batch, self._buffer = self._buffer, []
        if batch:
            try:
                self._conn.send_bytes(json.dumps(batch).encode())
            except OSError:
                pass

    def watch_store(self, *_args) -> None:  # the parent's registry reads the store itself
        pass


class _Metric:
    def __init__(self, relay: MetricsRelay, name: str, labels: tuple):
        self.relay, self.name, self.label_values = relay, name, labels

    def labels(self, *values) -> "_Metric":
        return _Metric(self.relay, self.name, tuple(str(v) for v in values))

    def inc(self, amount: float = 1) -> None:
        self.relay.add((self.name, self.label_values, "inc", amount))

    def observe(self, value: float) -> None:
        self.relay.add((self.name, self.label_values, "observe", value))


def ignore_interrupts() -> None:
    """In the child: Ctrl-C reaches the server, which closes the pipe."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)


def run_child(dispatcher, store, wake, relay: "MetricsRelay") -> None:
    """The child's work once its dispatcher is built (alertrouter/build.py): the dispatcher loop,
    woken by each byte on the pipe, its metric updates relayed; it returns when the server closed
    its end (or died), after the sends under way finished."""
    done = threading.Event()

    def relay_loop() -> None:
        while not done.wait(RELAY_SECONDS):
            relay.flush()

    threading.Thread(target=relay_loop, name="metrics-relay", daemon=True).start()
    dispatcher.start()
    relay.add((READY, (), "", 0))
    relay.flush()
    try:
        while os.read(wake.fileno(), 4096):  # b"" once the server closed its end (or died)
            dispatcher.wake()
    finally:
        dispatcher.stop()
        done.set()
        relay.flush()
        store.close()
