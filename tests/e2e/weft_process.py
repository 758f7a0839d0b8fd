"""Start, stop, SIGKILL and restart a real `weft serve` process for end-to-end tests."""

from __future__ import annotations

import json
import os
import re
import secrets
import signal
import socket
import subprocess
import time
import uuid
from pathlib import Path

import requests

READY_TIMEOUT_S = 30.0
STOP_TIMEOUT_S = 10.0
ADMIN_TIMEOUT_S = 60.0


class WeftError(RuntimeError):
    """The server or an admin command did not behave as the harness needs."""


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on right now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def free_udp_tcp_port() -> int:
    """A port on 127.0.0.1 free for both UDP and TCP (the SIP listener binds both)."""
    for _ in range(100):
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as udp:
            udp.bind(("127.0.0.1", 0))
            port = udp.getsockname()[1]
            with socket.socket() as tcp:
                try:
                    tcp.bind(("127.0.0.1", port))
                except OSError:
                    continue
                return port
    raise WeftError("found no port free for both UDP and TCP")


class WeftServer:
    """One `weft serve` on a data dir of its own, with free loopback ports and bootstrap credentials.

    The ports, data dir, database and credentials stay the same across `kill()`/`restart()`, so a
    restart finds what the previous process stored.
    """

    def __init__(self, binary: str, work_dir: Path, database_url: str | None) -> None:
        self.binary = binary
        self.work_dir = work_dir
        self.data_dir = work_dir / "data"
        self.log_path = work_dir / "weft.log"
        self.database_url = database_url
        self.project_id = str(uuid.uuid4())
        self.api_token = secrets.token_urlsafe(32)
        self.http_port = free_port()
        self.tls_port = free_port()
        self.sip_port = free_udp_tcp_port()
        self.process: subprocess.Popen | None = None

    @property
    def http_url(self) -> str:
        """Base URL of the plain HTTP listener."""
        return f"http://127.0.0.1:{self.http_port}"

    @property
    def host(self) -> str:
        """`host` argument for `signalwire.rest.RestClient` (plain HTTP on loopback)."""
        return f"127.0.0.1:{self.http_port}"

    @property
    def auth(self) -> tuple[str, str]:
        """HTTP Basic credentials of the bootstrap project."""
        return (self.project_id, self.api_token)

    @property
    def cert_path(self) -> Path:
        """The development certificate the server writes on first start."""
        return self.data_dir / "tls" / "cert.pem"

    def env(self) -> dict[str, str]:
        """Environment for `weft serve` and `weft admin`: ours, without inherited WEFT_* settings."""
        env = {k: v for k, v in os.environ.items() if not k.startswith("WEFT_")}
        env.update(
            WEFT_HTTP_LISTEN=f"127.0.0.1:{self.http_port}",
            WEFT_TLS_LISTEN=f"127.0.0.1:{self.tls_port}",
            WEFT_SIP_LISTEN=f"127.0.0.1:{self.sip_port}",
            # Several servers may run at once: let the OS pick the metrics port.
            WEFT_METRICS_LISTEN="127.0.0.1:0",
            WEFT_BOOTSTRAP_PROJECT_ID=self.project_id,
            WEFT_BOOTSTRAP_API_TOKEN=self.api_token,
        )
        if self.database_url:
            env["WEFT_DATABASE_URL"] = self.database_url
        return env

    def start(self) -> None:
        """Starts the process and waits until `/healthz` answers 200."""
        if self.running():
            raise WeftError("weft is already running")
        self.work_dir.mkdir(parents=True, exist_ok=True)
        with open(self.log_path, "ab") as log:
            log.write(f"\n===== weft serve (start at {time.strftime('%H:%M:%S')}) =====\n".encode())
            log.flush()
            self.process = subprocess.Popen(
                [self.binary, "serve", "--data-dir", str(self.data_dir)],
                cwd=self.work_dir,
                env=self.env(),
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        self._wait_ready()

    def _wait_ready(self) -> None:
        deadline = time.monotonic() + READY_TIMEOUT_S
        url = f"{self.http_url}/healthz"
        while time.monotonic() < deadline:
            code = self.process.poll()
            if code is not None:
                raise WeftError(f"weft exited with {code} before it was ready; log:\n{self.log()}")
            try:
                if requests.get(url, timeout=1).status_code == 200:
                    return
            except requests.RequestException:
                pass
            time.sleep(0.05)
        self.kill()
        raise WeftError(f"GET /healthz did not answer 200 within {READY_TIMEOUT_S} s; log:\n{self.log()}")

    def running(self) -> bool:
        return self.process is not None and self.process.poll() is None

    def stop(self) -> int | None:
        """SIGTERM, then SIGKILL after STOP_TIMEOUT_S; returns the exit code (None if never started)."""
        if self.process is None:
            return None
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(STOP_TIMEOUT_S)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        return self.process.returncode

    def kill(self) -> None:
        """SIGKILL: the process gets no chance to flush or clean up."""
        if self.running():
            self.process.kill()
        if self.process is not None:
            self.process.wait()

    def restart(self) -> None:
        """Starts a new process on the same data dir, database, ports and credentials."""
        self.kill()
        self.start()

    def metrics_url(self) -> str:
        """The metrics listener's `/metrics` URL, from the `weft ready` log line (tests ask for
        port 0)."""
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            found = re.search(r"metrics=(127\.0\.0\.1:\d+)", self.log())
            if found:
                return f"http://{found.group(1)}/metrics"
            time.sleep(0.1)
        raise WeftError(f"no metrics address in the server log:\n{self.log()}")

    def log(self) -> str:
        """Everything the server printed so far (all starts)."""
        try:
            return self.log_path.read_text(errors="replace")
        except FileNotFoundError:
            return "(no log)"

    def admin(self, *args: str) -> str:
        """Runs `weft admin ARGS... --data-dir DIR` with the server's environment; returns stdout."""
        command = [self.binary, "admin", *args, "--data-dir", str(self.data_dir)]
        done = subprocess.run(
            command,
            cwd=self.work_dir,
            env=self.env(),
            stdin=subprocess.DEVNULL,
            capture_output=True,
            text=True,
            timeout=ADMIN_TIMEOUT_S,
        )
        if done.returncode != 0:
            raise WeftError(
                f"{' '.join(command)} exited with {done.returncode}\n"
                f"stdout:\n{done.stdout}\nstderr:\n{done.stderr}"
            )
        return done.stdout

    def create_project(self) -> tuple[str, str]:
        """`weft admin create-project`: a second project's (project_id, api_token)."""
        out = self.admin("create-project")
        for line in reversed(out.splitlines()):
            line = line.strip()
            if line.startswith("{"):
                created = json.loads(line)
                return created["project_id"], created["api_token"]
        created = json.loads(out)
        return created["project_id"], created["api_token"]
