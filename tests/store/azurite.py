"""Azurite (the Azure Storage emulator, installed from npm by the project's package.json) for the
tests: its table and queue services on free loopback ports, in memory, no telemetry, stopped at the
end of the session.

    with Azurite(ROOT) as az:
        az.connection_string  # account devstoreaccount1 with Azurite's well-known key

One `azurite` process serves both (one Node start-up, ~1.4 s here, against ~2.2 s for
azurite-table and azurite-queue side by side); `spawn()` starts it without waiting, so the tests
can overlap its start-up with other work, and `wait()` returns once both services accept
connections.
"""

from __future__ import annotations

import socket
import subprocess
import tempfile
import time
from pathlib import Path

ACCOUNT = "devstoreaccount1"
# Azurite's fixed, publicly documented development key (not a secret).
KEY = "Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw=="
SERVICES = ("table", "queue")


def binary(root: Path, name: str) -> Path:
    """node_modules/.bin/azurite-table, …-queue, or `azurite` (all services) for name "azurite"."""
    return root / "node_modules" / ".bin" / (name if name == "azurite" else f"azurite-{name}")


def missing_reason(root: Path) -> str | None:
    """Why Azurite cannot run here, or None."""
    for name in ("table", "azurite"):
        if not binary(root, name).exists():
            return (f"Azurite is not installed ({binary(root, name).relative_to(root)} is missing): "
                    "run `npm ci` in the project root")
    return None


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _answers(port: int) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=0.2):
            return True
    except OSError:
        return False


class Azurite:
    def __init__(self, root: Path, timeout: float = 30.0):
        self.root = Path(root).resolve()
        self.timeout = timeout
        self.ports: dict[str, int] = {}
        self.proc: subprocess.Popen | None = None
        self.ready = False
        self.startup_seconds = 0.0
        self._started = 0.0
        self._dir = tempfile.TemporaryDirectory(prefix="azurite-")

    @property
    def connection_string(self) -> str:
        return (f"DefaultEndpointsProtocol=http;AccountName={ACCOUNT};AccountKey={KEY};"
                f"TableEndpoint=http://127.0.0.1:{self.ports['table']}/{ACCOUNT};"
                f"QueueEndpoint=http://127.0.0.1:{self.ports['queue']}/{ACCOUNT};")

    def _spawn(self) -> None:
        """One `azurite` process serving tables and queues (and blob, unused): one Node start-up
        instead of two."""
        self.ports = {service: _free_port() for service in ("table", "queue", "blob")}
        args = [str(binary(self.root, "azurite"))]
        for service, port in self.ports.items():
            args += [f"--{service}Host", "127.0.0.1", f"--{service}Port", str(port)]
        log = open(Path(self._dir.name) / "azurite.log", "wb")
        try:
            self.proc = subprocess.Popen(
                args + ["--inMemoryPersistence", "--skipApiVersionCheck", "--disableProductStyleUrl",
                        "--disableTelemetry", "--silent"],
                cwd=self._dir.name, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                start_new_session=True,
            )
        finally:
            log.close()

    def _log(self) -> str:
        path = Path(self._dir.name) / "azurite.log"
        return path.read_text(errors="replace")[-2000:] if path.exists() else ""

    def spawn(self) -> "Azurite":
        """Start without waiting (the tests start it as soon as they know they need it)."""
        if self.proc is None:
            self._started = time.monotonic()
            self._spawn()
        return self

    def wait(self) -> "Azurite":
        """Until the table and queue services answer; a clash on a port (taken between choosing it
        and Azurite binding it) gets a fresh start on other ports."""
        self.spawn()
        if self.ready:
            return self
        retries = 2
        while True:
            if self.proc.poll() is not None:
                if retries == 0:
                    rc, log = self.proc.returncode, self._log()
                    self.stop()
                    raise RuntimeError(f"azurite exited ({rc}):\n{log}")
                retries -= 1
                self._spawn()
            elif all(_answers(self.ports[s]) for s in SERVICES):
                break
            if time.monotonic() - self._started > self.timeout:
                log = self._log()
                self.stop()
                raise RuntimeError(f"Azurite did not answer within {self.timeout} s:\n{log}")
            time.sleep(0.02)
        self.startup_seconds = time.monotonic() - self._started
        self.ready = True
        return self

    def start(self) -> "Azurite":
        return self.spawn().wait()

    def stop(self) -> None:
        proc, self.proc, self.ready = self.proc, None, False
        if proc is not None and proc.poll() is None:
            proc.terminate()
            try:
                proc.wait(5)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(5)
        self._dir.cleanup()

    def __enter__(self) -> "Azurite":
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()
