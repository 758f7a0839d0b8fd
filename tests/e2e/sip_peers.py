"""Real SIP peers for the SIP end-to-end tests, on loopback and headless.

- `Baresip`: one baresip 1.0.0 user agent (Debian `baresip-core`) with its own config dir, a sine
  tone as its microphone, its decoded audio recorded to WAV files, and the `ctrl_tcp` module so a
  test can dial, hang up and send DTMF while it runs.
- `Sipp`: one SIPp 3.6.1 run (Debian `sip-tester`) of a built-in scenario or of a scenario file in
  tests/e2e/sipp/, in the foreground (`run`) or in the background (`start` ... `wait`).
- WAV analysis (`read_wav`, `rms`, `dominant_frequency`, `has_tone`) to assert on what a peer heard,
  G.711 µ-law (`linear_to_ulaw`, `ulaw_to_linear`), and `write_tone_pcap` to produce the PCMU
  tone SIPp scenarios play.

Everything here uses the standard library only; waits poll a condition with a cap.
"""

from __future__ import annotations

import cmath
import errno
import itertools
import json
import math
import re
import shutil
import signal
import socket
import struct
import subprocess
import tempfile
import threading
import time
from array import array
from dataclasses import dataclass
from pathlib import Path
from typing import NamedTuple

from weft_process import free_port as free_tcp_port

LOOPBACK = "127.0.0.1"
SIPP_SCENARIO_DIR = Path(__file__).resolve().parent / "sipp"
SIPP_SYSTEM_PCAP_DIR = Path("/usr/share/sip-tester")
BARESIP_MODULE_DIR = Path("/usr/lib/baresip/modules")

READY_TIMEOUT_S = 10.0
COMMAND_TIMEOUT_S = 5.0
STOP_TIMEOUT_S = 5.0
POLL_INTERVAL_S = 0.05


class SipPeerError(RuntimeError):
    """A peer did not start, answer or finish as the test needed."""


# ----------------------------------------------------------------------------------------------
# Ports and waiting


def free_udp_port() -> int:
    """A UDP port on 127.0.0.1 that nothing is bound to right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        sock.bind((LOOPBACK, 0))
        return sock.getsockname()[1]


def free_udp_ports(count: int) -> int:
    """The first of `count` consecutive UDP ports on 127.0.0.1 that are all free right now (the
    first one even, as RTP ports conventionally are)."""
    for _ in range(100):
        base = free_udp_port() & ~1
        if base + count > 65535:
            continue
        sockets = []
        try:
            for port in range(base, base + count):
                sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
                sockets.append(sock)
                sock.bind((LOOPBACK, port))
            return base
        except OSError as error:
            if error.errno != errno.EADDRINUSE:
                raise
        finally:
            for sock in sockets:
                sock.close()
    raise SipPeerError(f"found no {count} consecutive free UDP ports")


def free_sip_port() -> int:
    """A port on 127.0.0.1 free for UDP and TCP (SIP listeners bind both), whose next port is free
    for TCP too: baresip's SIP/TLS transport listens there, and fails the UA when it is taken."""
    for _ in range(100):
        port = free_udp_port()
        if port >= 65535 or not all(tcp_port_is_free(p) for p in (port, port + 1)):
            continue
        return port
    raise SipPeerError("found no port free for UDP, TCP and TLS")


def tcp_port_is_free(port: int) -> bool:
    """Whether a TCP socket can bind `port` on 127.0.0.1 now."""
    with socket.socket() as sock:
        try:
            sock.bind((LOOPBACK, port))
        except OSError:
            return False
    return True


def port_is_bound(port: int, protocol: str = "udp") -> bool:
    """True when some process has a `protocol` ("udp" or "tcp") socket bound to `port` (TCP: in the
    LISTEN state), read from /proc/net so that checking never takes the port away from anyone."""
    listen_only = protocol == "tcp"
    for table in (f"/proc/net/{protocol}", f"/proc/net/{protocol}6"):
        try:
            lines = Path(table).read_text().splitlines()[1:]
        except FileNotFoundError:
            continue
        for line in lines:
            fields = line.split()
            local_port = int(fields[1].rsplit(":", 1)[1], 16)
            if local_port == port and (not listen_only or fields[3] == "0A"):
                return True
    return False


def wait_until(condition, timeout: float, what: str, on_timeout=None):
    """Polls `condition()` until it returns something truthy (which is returned) or `timeout`
    seconds have passed; then raises SipPeerError naming `what` (plus `on_timeout()`'s text)."""
    deadline = time.monotonic() + timeout
    while True:
        value = condition()
        if value:
            return value
        if time.monotonic() >= deadline:
            detail = f"\n{on_timeout()}" if on_timeout else ""
            raise SipPeerError(f"timed out after {timeout} s waiting for {what}{detail}")
        time.sleep(POLL_INTERVAL_S)


def stop_process(process: subprocess.Popen | None) -> int | None:
    """Sends SIGTERM to `process` (ours, by PID), then SIGKILL after STOP_TIMEOUT_S; returns its
    exit code (None if it was never started)."""
    if process is None:
        return None
    if process.poll() is None:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(STOP_TIMEOUT_S)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
    return process.returncode


def read_log(path: Path) -> str:
    """A peer's log so far ("(no log)" before it exists)."""
    try:
        return path.read_text(errors="replace")
    except FileNotFoundError:
        return "(no log)"


# ----------------------------------------------------------------------------------------------
# baresip


class CtrlTcp:
    """A client of baresip's `ctrl_tcp` module: netstring-framed JSON over TCP.

    A command is `{"command": NAME, "params": STRING, "token": STRING}`; baresip answers with
    `{"response": true, "ok": BOOL, "data": STRING, "token": STRING}` and also pushes every UA event
    as `{"event": true, "type": "CALL_ESTABLISHED", ...}` to each connected client.
    """

    def __init__(self, port: int) -> None:
        self.sock = socket.create_connection((LOOPBACK, port), timeout=COMMAND_TIMEOUT_S)
        self.sock.settimeout(None)
        self.changed = threading.Condition()
        self.responses: dict[str, dict] = {}
        self.events: list[dict] = []
        self.closed = False
        self.tokens = itertools.count(1)
        self.reader = threading.Thread(target=self._read_loop, daemon=True)
        self.reader.start()

    def _read_loop(self) -> None:
        buffer = b""
        try:
            while chunk := self.sock.recv(65536):
                buffer += chunk
                while (colon := buffer.find(b":")) > 0:
                    end = colon + 1 + int(buffer[:colon])
                    if len(buffer) <= end:
                        break
                    if buffer[end : end + 1] != b",":
                        raise ValueError(f"bad netstring from baresip: {buffer[:80]!r}")
                    self._dispatch(json.loads(buffer[colon + 1 : end]))
                    buffer = buffer[end + 1 :]
        except (OSError, ValueError):
            pass
        with self.changed:
            self.closed = True
            self.changed.notify_all()

    def _dispatch(self, message: dict) -> None:
        with self.changed:
            if message.get("response"):
                self.responses[str(message.get("token"))] = message
            elif message.get("event"):
                self.events.append(message)
            self.changed.notify_all()

    def command(self, name: str, params: str = "", timeout: float = COMMAND_TIMEOUT_S) -> dict:
        """Sends one command and returns baresip's response (raises if none arrives in time)."""
        token = f"t{next(self.tokens)}"
        payload = json.dumps({"command": name, "params": params, "token": token}).encode()
        self.sock.sendall(str(len(payload)).encode() + b":" + payload + b",")
        deadline = time.monotonic() + timeout
        with self.changed:
            while token not in self.responses:
                remaining = deadline - time.monotonic()
                if self.closed or remaining <= 0:
                    raise SipPeerError(f"baresip did not answer the ctrl_tcp command {name!r} {params!r}")
                self.changed.wait(remaining)
            return self.responses.pop(token)

    def wait_for_events(self, event_type: str, count: int, timeout: float, start: int = 0) -> list[dict]:
        """The first `count` events of `event_type` at index `start` or later, waiting up to
        `timeout` s for them."""
        deadline = time.monotonic() + timeout
        with self.changed:
            while True:
                found = [event for event in self.events[start:] if event.get("type") == event_type]
                if len(found) >= count:
                    return found[:count]
                remaining = deadline - time.monotonic()
                if self.closed or remaining <= 0:
                    seen = [(event.get("type"), event.get("param")) for event in self.events]
                    raise SipPeerError(
                        f"not {count} baresip events {event_type} within {timeout} s; events: {seen}"
                    )
                self.changed.wait(remaining)

    def close(self) -> None:
        try:
            self.sock.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass
        self.sock.close()
        self.reader.join(timeout=STOP_TIMEOUT_S)


ANSI_ESCAPE = re.compile(r"\x1b\[[0-9;]*m")
CODEC_MODULES = {"pcmu": "g711.so", "pcma": "g711.so", "opus": "opus.so", "g722": "g722.so"}
MEDIAENC_MODULES = {
    "srtp": "srtp.so",
    "srtp-mand": "srtp.so",
    "srtp-mandf": "srtp.so",
    "dtls_srtp": "dtls_srtp.so",
}


class Baresip:
    """One baresip 1.0.0 process with a config dir of its own under `work_dir`.

    - Listens for SIP on a free port of 127.0.0.1 (UDP and TCP); RTP uses `rtp_port_count` free ports.
    - Its microphone is `ausine` at `tone_hz` (with the `ausrc_srate 48000` / `ausrc_channels 2`
      that ausine needs); nothing is played; with `record`, `sndfile` writes
      `dump-<time>-dec.wav` (what it decoded from the peer) and `-enc.wav` (what it sent).
    - `codecs`: baresip names in preference order, e.g. `PCMU`, `PCMA`, `opus/48000/2`.
    - `mediaenc`: None (plain RTP), `srtp`, `srtp-mand` (SDES) or `dtls_srtp`.
    - Account `<sip:user@domain>`; `domain` defaults to its own address (for direct calls);
      `password` sets `auth_pass`; `registrar` (a SIP URI, e.g. `sip:127.0.0.1:5060`) is the
      outbound proxy every request goes to; `regint` > 0 registers every `regint` seconds.
    - `auto_answer` answers incoming calls at once (otherwise `accept()` answers).
    - Commands go over `ctrl_tcp`; everything it prints goes to `baresip.log` (with `sip_trace`,
      every SIP message it sends and receives too: baresip's `-s`).

    Use it as a context manager (`with Baresip(...) as ua:`), or call `start()` and `stop()`.
    """

    def __init__(
        self,
        work_dir: Path,
        *,
        user: str = "alice",
        password: str | None = None,
        domain: str | None = None,
        registrar: str | None = None,
        regint: int = 0,
        transport: str = "udp",
        auto_answer: bool = False,
        tone_hz: int = 440,
        codecs: tuple[str, ...] | list[str] = ("PCMU",),
        mediaenc: str | None = None,
        record: bool = True,
        rtp_port_count: int = 10,
        extra_config: tuple[str, ...] | list[str] = (),
        extra_account_params: tuple[str, ...] | list[str] = (),
        sip_trace: bool = False,
    ) -> None:
        if mediaenc is not None and mediaenc not in MEDIAENC_MODULES:
            raise ValueError(f"unknown mediaenc {mediaenc!r}; use one of {sorted(MEDIAENC_MODULES)}")
        self.dir = Path(tempfile.mkdtemp(prefix=f"baresip-{user}-", dir=work_dir))
        self.config_dir = self.dir / "config"
        self.recordings_dir = self.dir / "recordings"
        self.log_path = self.dir / "baresip.log"
        self.user = user
        self.password = password
        self.registrar = registrar
        self.regint = regint
        self.transport = transport
        self.auto_answer = auto_answer
        self.tone_hz = tone_hz
        self.codecs = list(codecs)
        self.mediaenc = mediaenc
        self.record = record
        self.extra_config = list(extra_config)
        self.extra_account_params = list(extra_account_params)
        self.sip_trace = sip_trace
        self.sip_port = free_sip_port()
        self.ctrl_port = free_tcp_port()
        self.rtp_ports = (first := free_udp_ports(rtp_port_count), first + rtp_port_count - 1)
        self.domain = domain or f"{LOOPBACK}:{self.sip_port}"
        self.process: subprocess.Popen | None = None
        self.ctrl: CtrlTcp | None = None

    @property
    def aor(self) -> str:
        """The account's address of record, `sip:user@domain`."""
        return f"sip:{self.user}@{self.domain}"

    @property
    def contact_uri(self) -> str:
        """A URI that reaches this UA directly (for calls that bypass any server)."""
        suffix = "" if self.transport == "udp" else f";transport={self.transport}"
        return f"sip:{self.user}@{LOOPBACK}:{self.sip_port}{suffix}"

    def account_line(self) -> str:
        """The `accounts` file line for this UA."""
        uri = f"sip:{self.user}@{self.domain}"
        if self.transport != "udp":
            uri += f";transport={self.transport}"
        params = [
            f"regint={self.regint}",
            f"audio_codecs={','.join(self.codecs)}",
            f"answermode={'auto' if self.auto_answer else 'manual'}",
        ]
        if self.password is not None:
            params.append(f"auth_pass={self.password}")
        if self.registrar:
            params.append(f'outbound="{self.registrar}"')
        if self.mediaenc:
            params.append(f"mediaenc={self.mediaenc}")
        params.extend(self.extra_account_params)
        return f"<{uri}>;" + ";".join(params)

    def config_text(self) -> str:
        """The `config` file for this UA."""
        modules = []
        for codec in self.codecs:
            module = CODEC_MODULES.get(codec.split("/")[0].lower())
            if module is None:
                raise ValueError(f"no baresip module known for codec {codec!r}")
            if module not in modules:
                modules.append(module)
        modules.append("ausine.so")
        if self.record:
            modules.append("sndfile.so")
        if self.mediaenc:
            modules.append(MEDIAENC_MODULES[self.mediaenc])
        lines = [
            f"module_path {BARESIP_MODULE_DIR}",
            "poll_method epoll",
            f"sip_listen {LOOPBACK}:{self.sip_port}",
            # An interface name such as `lo` fails with "No such device" in 1.0.0: use the IP.
            f"net_interface {LOOPBACK}",
            f"rtp_ports {self.rtp_ports[0]}-{self.rtp_ports[1]}",
            f"audio_source ausine,{self.tone_hz}",
            # ausine only produces audio at 48 kHz stereo.
            "ausrc_srate 48000",
            "ausrc_channels 2",
            "audio_player none,none",
            "audio_alert none,none",
            # Without this the menu module rewrites a status line on stdout many times a second.
            "statmode_default off",
            *(f"module {module}" for module in modules),
            "module_app account.so",
            "module_app menu.so",
            "module_app ctrl_tcp.so",
            f"ctrl_tcp_listen {LOOPBACK}:{self.ctrl_port}",
        ]
        if self.record:
            # Relative to baresip's working directory: sndfile 1.0.0 cuts the file name at 128
            # bytes (a long absolute path loses its ".wav").
            lines.append(f"snd_path {self.recordings_dir.relative_to(self.dir)}")
        lines.extend(self.extra_config)
        return "\n".join(lines) + "\n"

    def start(self) -> Baresip:
        """Writes the config dir, starts baresip and waits until it is ready and `ctrl_tcp` is
        connected; raises SipPeerError (with the log) if it exits or a module fails to load."""
        if self.running():
            raise SipPeerError("baresip is already running")
        self.config_dir.mkdir(parents=True, exist_ok=True)
        self.recordings_dir.mkdir(exist_ok=True)
        (self.config_dir / "config").write_text(self.config_text())
        (self.config_dir / "accounts").write_text(self.account_line() + "\n")
        (self.config_dir / "contacts").write_text("")
        with open(self.log_path, "ab") as log:
            self.process = subprocess.Popen(
                ["baresip", "-f", str(self.config_dir), *(["-s"] if self.sip_trace else [])],
                cwd=self.dir,
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        try:
            wait_until(self._ready, READY_TIMEOUT_S, "baresip to be ready", self.log)
            failed = re.findall(r"^module \S+: .*$", self.log(), re.MULTILINE)
            if failed:
                raise SipPeerError(f"baresip failed to load modules: {failed}\n{self.log()}")
            self.ctrl = CtrlTcp(self.ctrl_port)
        except BaseException:
            self.stop()
            raise
        return self

    def _ready(self) -> bool:
        if self.process.poll() is not None:
            raise SipPeerError(f"baresip exited with {self.process.returncode}; log:\n{self.log()}")
        return "baresip is ready." in self.log() and port_is_bound(self.ctrl_port, "tcp")

    def running(self) -> bool:
        return self.process is not None and self.process.poll() is None

    def command(self, name: str, params: str = "", timeout: float = COMMAND_TIMEOUT_S) -> str:
        """Runs one baresip command (as typed after `/` in its console, e.g. `dial`, `hangup`,
        `sndcode`, `accept`, `quit`) over ctrl_tcp; returns its output, raises if it failed."""
        if self.ctrl is None:
            raise SipPeerError("baresip is not started")
        response = self.ctrl.command(name, params, timeout)
        if not response.get("ok"):
            raise SipPeerError(f"baresip command {name!r} {params!r} failed: {response.get('data')!r}")
        return response.get("data", "")

    def dial(self, uri: str) -> str:
        """Starts an outgoing call to `uri` (returns at once; wait for `CALL_ESTABLISHED`)."""
        return self.command("dial", uri)

    def accept(self) -> str:
        """Answers the incoming call (when not auto-answering)."""
        return self.command("accept")

    def hangup(self) -> str:
        """Hangs up the current call."""
        return self.command("hangup")

    def send_dtmf(self, digits: str) -> str:
        """Sends `digits` (0-9, *, #, A-D) in the current call with `sndcode`: RFC 4733
        telephone-event packets (payload type as negotiated), about 180 ms per digit."""
        return self.command("sndcode", digits)

    def events(self) -> list[dict]:
        """The UA events received over ctrl_tcp so far (e.g. `CALL_INCOMING`, `CALL_ESTABLISHED`,
        `CALL_DTMF_START`, `CALL_CLOSED`), oldest first. Events from before `start()` returned
        (such as the first `REGISTER_OK`) are not seen: use `wait_registered()`."""
        if self.ctrl is None:
            return []
        with self.ctrl.changed:
            return list(self.ctrl.events)

    def wait_for_event(self, event_type: str, timeout: float = 10.0, start: int = 0) -> dict:
        """The first event of `event_type` (from index `start` of `events()`), waiting up to
        `timeout` seconds; raises SipPeerError (with the log) if none arrives."""
        return self.wait_for_events(event_type, 1, timeout, start)[0]

    def wait_for_events(self, event_type: str, count: int, timeout: float = 10.0, start: int = 0) -> list[dict]:
        """The first `count` events of `event_type` (from index `start` of `events()`), waiting
        up to `timeout` seconds; raises SipPeerError (with the log) if fewer arrive."""
        if self.ctrl is None:
            raise SipPeerError("baresip is not started")
        try:
            return self.ctrl.wait_for_events(event_type, count, timeout, start)
        except SipPeerError as error:
            raise SipPeerError(f"{error}\nlog:\n{self.log()}") from None

    def received_dtmf(self, count: int, timeout: float = 10.0) -> list[str]:
        """The first `count` DTMF digits received in calls (`CALL_DTMF_START` events, raised as
        soon as an RFC 4733 event starts), waiting up to `timeout` seconds for them."""
        return [event.get("param") for event in self.wait_for_events("CALL_DTMF_START", count, timeout)]

    def wait_for(self, pattern: str, timeout: float = 10.0) -> re.Match:
        """The first match of the regex `pattern` in the log, waiting up to `timeout` seconds."""
        regex = re.compile(pattern, re.MULTILINE)
        return wait_until(
            lambda: regex.search(self.log()), timeout, f"/{pattern}/ in the baresip log", self.log
        )

    def wait_registered(self, timeout: float = 10.0) -> None:
        """Waits until the account is registered (`reginfo` reports OK); raises SipPeerError at
        once if the log shows the registrar refused it (e.g. `reg: sip:...: 403 Forbidden`) or
        baresip gave up on its own (e.g. `reg: sip:...: Register: Function not implemented`, its
        answer to a challenge it cannot compute)."""

        def registered() -> bool:
            refused = re.search(r"reg: \S+: ([1-6]\d\d .*|Register: .*)", self.log())
            if refused:
                raise SipPeerError(f"registration of {self.aor} refused: {refused.group(1)}\n{self.log()}")
            return re.search(r"\bOK\b", ANSI_ESCAPE.sub("", self.command("reginfo"))) is not None

        wait_until(registered, timeout, f"registration of {self.aor}", self.log)

    def recorded_seconds(self) -> float:
        """Seconds of decoded audio in the newest `dec` recording so far (0.0 if none)."""
        recordings = self.recordings()
        if not recordings:
            return 0.0
        try:
            samples, rate = read_wav(recordings[-1])
        except (ValueError, struct.error):
            return 0.0
        return len(samples) / rate

    def wait_for_recording(self, seconds: float, timeout: float = 10.0) -> None:
        """Waits until the newest `dec` recording holds at least `seconds` of audio."""
        wait_until(
            lambda: self.recorded_seconds() >= seconds, timeout, f"{seconds} s of recorded audio", self.log
        )

    def log(self) -> str:
        """Everything baresip printed so far (without its colour escape codes)."""
        return ANSI_ESCAPE.sub("", read_log(self.log_path))

    def sip_messages(self) -> list[tuple[str, str, str]]:
        """The SIP messages in the log (needs `sip_trace`), oldest first, as (source, destination,
        message text); the addresses are `host:port` as baresip prints them."""
        messages = []
        for block in re.split(r"^#\n", self.log(), flags=re.MULTILINE)[1:]:
            head, _, rest = block.partition("\n")
            route = re.match(r"\S+ (\S+) -> (\S+)$", head.strip())
            if route:
                text = rest.split("\n\n\n", 1)[0]
                messages.append((route.group(1), route.group(2), text))
        return messages

    def received_audio_address(self) -> tuple[str, int]:
        """Where the newest SDP this UA received (an answer to its call, or an offer it answered)
        asks for audio: the `c=` address and the `m=audio` port. Needs `sip_trace`."""
        own = f"{LOOPBACK}:{self.sip_port}"
        for _, destination, text in reversed(self.sip_messages()):
            port = re.search(r"^m=audio (\d+) ", text, re.MULTILINE)
            if destination == own and port:
                address = re.search(r"^c=IN IP4 (\S+)", text, re.MULTILINE)
                return (address.group(1) if address else LOOPBACK), int(port.group(1))
        raise SipPeerError(f"no SDP received in the SIP trace of {self.aor}\n{self.log()}")

    def recordings(self, kind: str = "dec") -> list[Path]:
        """The WAV files `sndfile` wrote, oldest first: `dec` is what this UA decoded from its peer,
        `enc` what it encoded and sent. A file is complete once its call has ended."""
        return sorted(self.recordings_dir.glob(f"dump-*-{kind}.wav"))

    def stop(self) -> int | None:
        """Asks baresip to quit (ending calls, closing recordings), then SIGTERM and SIGKILL if it
        does not exit in time; returns its exit code (None if never started)."""
        if self.ctrl is not None:
            if self.running():
                try:
                    self.ctrl.command("quit", timeout=1.0)
                except (OSError, SipPeerError):
                    pass
                try:
                    self.process.wait(STOP_TIMEOUT_S)
                except subprocess.TimeoutExpired:
                    pass
            self.ctrl.close()
            self.ctrl = None
        return stop_process(self.process)

    def __enter__(self) -> Baresip:
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()


# ----------------------------------------------------------------------------------------------
# SIPp

SIPP_BUILTIN_SCENARIOS = {
    "uac", "uas", "regexp", "branchc", "branchs", "uac_pcap", "3pcc-C-A", "3pcc-C-B", "3pcc-A", "3pcc-B",
}
SIPP_TONE_PCAP = "pcap/pcmu_tone.pcap"
SIPP_EXIT_CODES = {
    0: "all calls succeeded",
    1: "at least one call failed",
    97: "exit on internal command",
    99: "normal exit without calls processed",
    255: "fatal error",
    254: "fatal error binding a socket",
}


@dataclass
class SippResult:
    """How a SIPp run ended: its exit code and the paths of its logs (`stdout`, `errors`,
    `messages`, `screen`, `logs`; a file may be missing if SIPp wrote nothing to it)."""

    returncode: int
    logs: dict[str, Path]

    @property
    def ok(self) -> bool:
        """True when every call succeeded (exit code 0)."""
        return self.returncode == 0

    def text(self, name: str) -> str:
        """The content of log `name`."""
        return read_log(self.logs[name])

    def summary(self) -> str:
        """The exit code, the command line, unexpected messages and the final screen (or, if SIPp
        wrote no screen, its stdout), for assertion messages."""
        meaning = SIPP_EXIT_CODES.get(self.returncode, "unknown")
        parts = [f"sipp exit code {self.returncode} ({meaning})", self.text("stdout").splitlines()[0]]
        shown = ("errors", "screen") if self.logs["screen"].exists() else ("errors", "stdout")
        for name in shown:
            text = self.text(name)
            if text != "(no log)" and text.strip():
                parts.append(f"----- {name} ({self.logs[name]}) -----\n{text[-4000:]}")
        return "\n".join(parts)


class Sipp:
    """One SIPp run in a working directory of its own under `work_dir`.

    - `scenario`: a built-in name (`uac`, `uas`, `uac_pcap`, ...: `-sn`), the name of a file in
      tests/e2e/sipp/ without `.xml` (e.g. `register_auth`), or a path (`-sf`).
    - `target`: `host:port` to send to (None for a UAS).
    - Binds SIP on `local_ip` (127.0.0.1 unless given: any 127.0.0.0/8 address works on Linux)
      and `local_port` (a free one unless given), media on `media_port` (`media_port_count` free
      UDP ports, 4 unless given: SIPp uses the port and port+2, and `[auto_media_port]` more for
      concurrent pcap calls); `rtp_echo` echoes received RTP back.
    - `service` (-s) is the user part of the Request-URI, `auth_user`/`auth_password` (-au/-ap)
      answer digest challenges through `[authentication]`; `auth_uri` sets `-auth_uri`.
    - `keys` become `-key NAME VALUE` (on top of `default_keys()`); `sets` become `-set NAME
      VALUE` (SIPp refuses a variable the scenario does not declare in `<Global variables=.../>`).
    - The working directory gets `pcap/` with SIPp's pcaps (`g711a.pcap`, `dtmf_2833_*.pcap`) and
      `pcmu_tone.pcap` (a `tone_hz` PCMU tone of `tone_seconds`): SIPp 3.6.1 resolves
      `play_pcap_audio` paths relative to its working directory.
    - `timeout_s`: SIPp's own `-timeout` (with `-timeout_error`: it then exits with 255).
    - Logs: unexpected messages (`-trace_err`), all SIP messages (`-trace_msg`), the final
      screen (`-trace_screen`), `<log>` actions (`-trace_logs`) and stdout/stderr.

    Use it as a context manager for a background peer (`with Sipp(...) as uas:` starts it and
    stops it by PID), or `run()` a client to completion.
    """

    def __init__(
        self,
        work_dir: Path,
        scenario: str | Path,
        target: str | None = None,
        *,
        service: str | None = None,
        calls: int = 1,
        rate: float | None = None,
        transport: str = "u1",
        auth_user: str | None = None,
        auth_password: str | None = None,
        auth_uri: str | None = None,
        keys: dict[str, str] | None = None,
        sets: dict[str, str] | None = None,
        rtp_echo: bool = False,
        tone_hz: int = 1000,
        tone_seconds: float = 2.0,
        timeout_s: float | None = 30.0,
        extra_args: tuple[str, ...] | list[str] = (),
        local_ip: str = LOOPBACK,
        local_port: int | None = None,
        media_port_count: int = 4,
    ) -> None:
        self.scenario_args = self.scenario_arguments(scenario)
        name = Path(str(scenario)).stem
        self.dir = Path(tempfile.mkdtemp(prefix=f"sipp-{name}-", dir=work_dir))
        self.target = target
        self.auth_user = auth_user
        self.local_ip = local_ip
        self.local_port = local_port or free_sip_port()
        self.media_port = free_udp_ports(media_port_count)
        self.transport = transport
        self.tone_hz = tone_hz
        self.tone_seconds = tone_seconds
        self.logs = {
            "stdout": self.dir / "stdout.log",
            "errors": self.dir / "errors.log",
            "messages": self.dir / "messages.log",
            "screen": self.dir / "screen.log",
            "logs": self.dir / "actions.log",
        }
        args = ["sipp", *self.scenario_args]
        if target:
            args.append(target)
        args += ["-i", local_ip, "-p", str(self.local_port), "-mi", local_ip, "-mp", str(self.media_port)]
        args += ["-t", transport, "-m", str(calls), "-nostdin"]
        if rate is not None:
            args += ["-r", str(rate)]
        if service is not None:
            args += ["-s", service]
        if auth_user is not None:
            args += ["-au", auth_user]
        if auth_password is not None:
            args += ["-ap", auth_password]
        if auth_uri is not None:
            args += ["-auth_uri", auth_uri]
        for key, value in {**self.default_keys(), **(keys or {})}.items():
            args += ["-key", key, str(value)]
        for variable, value in (sets or {}).items():
            args += ["-set", variable, str(value)]
        if rtp_echo:
            args.append("-rtp_echo")
        if timeout_s is not None:
            args += ["-timeout", f"{timeout_s:g}s", "-timeout_error"]
        args += ["-trace_err", "-error_file", str(self.logs["errors"])]
        args += ["-trace_msg", "-message_file", str(self.logs["messages"])]
        args += ["-trace_screen", "-screen_file", str(self.logs["screen"])]
        args += ["-trace_logs", "-log_file", str(self.logs["logs"])]
        self.args = [*args, *extra_args]
        self.process: subprocess.Popen | None = None

    @staticmethod
    def scenario_arguments(scenario: str | Path) -> list[str]:
        """`-sn NAME` for a built-in scenario, `-sf PATH` for a file (bare names resolve to
        tests/e2e/sipp/NAME.xml)."""
        if isinstance(scenario, str) and scenario in SIPP_BUILTIN_SCENARIOS:
            return ["-sn", scenario]
        path = Path(scenario)
        if not path.suffix and path.parent == Path("."):
            path = SIPP_SCENARIO_DIR / f"{path}.xml"
        if not path.is_file():
            raise SipPeerError(f"no SIPp scenario at {path}")
        return ["-sf", str(path)]

    def default_keys(self) -> dict[str, str]:
        """The `-key` values the scenarios in tests/e2e/sipp/ share (overridable with `keys`):
        `domain` (URI host: the target, or 127.0.0.1), `from_user` (caller user: the `-au`
        user, or `sipp`), `expires` (REGISTER expiry: 3600), `codec_pt`/`codec_name` (the one
        audio codec offered by invite_expect.xml: 0/PCMU). Unused keys are harmless."""
        return {
            "domain": self.target or LOOPBACK,
            "from_user": self.auth_user or "sipp",
            "expires": "3600",
            "codec_pt": "0",
            "codec_name": "PCMU",
        }

    def _prepare(self) -> None:
        if self.scenario_args[0] == "-sf":
            # A copy next to pcap/: SIPp 3.6.1 looks for pcaps next to the scenario first (and
            # logs an error before it falls back to the working directory).
            copy = self.dir / Path(self.scenario_args[1]).name
            shutil.copy(self.scenario_args[1], copy)
            self.args[self.args.index(self.scenario_args[1])] = str(copy)
        pcap_dir = self.dir / "pcap"
        pcap_dir.mkdir(exist_ok=True)
        for pcap in SIPP_SYSTEM_PCAP_DIR.glob("*.pcap"):
            shutil.copy(pcap, pcap_dir / pcap.name)
        write_tone_pcap(self.dir / SIPP_TONE_PCAP, self.tone_hz, self.tone_seconds)
        self.logs["stdout"].write_text(f"$ {' '.join(self.args)}\n")

    def start(self) -> Sipp:
        """Starts SIPp in the background and waits until its SIP port is bound."""
        if self.process is not None:
            raise SipPeerError("this SIPp run was already started")
        self._prepare()
        with open(self.logs["stdout"], "ab") as out:
            self.process = subprocess.Popen(
                self.args,
                cwd=self.dir,
                stdin=subprocess.DEVNULL,
                stdout=out,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        protocol = "udp" if self.transport.startswith("u") else "tcp"

        def bound() -> bool:
            if self.process.poll() is not None:
                return True
            return port_is_bound(self.local_port, protocol)

        try:
            wait_until(bound, READY_TIMEOUT_S, f"sipp to bind {protocol} port {self.local_port}", self.log)
        except SipPeerError:
            self.stop()
            raise
        return self

    def wait(self, timeout: float = 60.0) -> SippResult:
        """Waits for SIPp to exit on its own; stops it and raises SipPeerError after `timeout` s."""
        if self.process is None:
            raise SipPeerError("sipp was not started")
        try:
            self.process.wait(timeout)
        except subprocess.TimeoutExpired:
            self.stop()
            summary = self.result().summary()
            raise SipPeerError(f"sipp did not finish within {timeout} s\n{summary}") from None
        return self.result()

    def run(self, timeout: float = 60.0) -> SippResult:
        """Runs SIPp to completion (`start` then `wait`)."""
        return self.start().wait(timeout)

    def result(self) -> SippResult:
        """The result so far (the exit code is -1 while SIPp is still running)."""
        code = self.process.returncode if self.process is not None else None
        return SippResult(-1 if code is None else code, dict(self.logs))

    def running(self) -> bool:
        return self.process is not None and self.process.poll() is None

    def stop(self) -> int | None:
        """Stops SIPp (SIGTERM by PID, then SIGKILL); returns its exit code."""
        return stop_process(self.process)

    def log(self) -> str:
        """SIPp's stdout/stderr so far."""
        return read_log(self.logs["stdout"])

    def __enter__(self) -> Sipp:
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()


# ----------------------------------------------------------------------------------------------
# Audio: WAV analysis and a PCMU tone pcap


class Wav(NamedTuple):
    """Mono 16-bit samples and their sample rate."""

    samples: array
    rate: int


def read_wav(path: Path) -> Wav:
    """Reads a 16-bit PCM WAV file (any channel count, averaged to mono).

    Tolerates a header whose data size was never filled in (a recording cut short): the data
    chunk then runs to the end of the file.
    """
    data = Path(path).read_bytes()
    if data[:4] != b"RIFF" or data[8:12] != b"WAVE":
        raise ValueError(f"{path} is not a WAV file")
    offset, fmt, pcm = 12, None, None
    while offset + 8 <= len(data):
        chunk_id, size = data[offset : offset + 4], struct.unpack_from("<I", data, offset + 4)[0]
        body = offset + 8
        if chunk_id == b"fmt ":
            fmt = struct.unpack_from("<HHIIHH", data, body)
        elif chunk_id == b"data":
            end = body + size if 0 < size <= len(data) - body else len(data)
            pcm = data[body:end]
            break
        offset = body + size + (size & 1)
    if fmt is None or pcm is None:
        raise ValueError(f"{path} has no fmt or data chunk")
    audio_format, channels, rate, _, _, bits = fmt
    if audio_format not in (1, 0xFFFE) or bits != 16:
        raise ValueError(f"{path} is not 16-bit PCM (format {audio_format}, {bits} bits)")
    interleaved = array("h")
    interleaved.frombytes(pcm[: len(pcm) - len(pcm) % (2 * channels)])
    if channels == 1:
        return Wav(interleaved, rate)
    frames = range(0, len(interleaved), channels)
    return Wav(array("h", (sum(interleaved[i : i + channels]) // channels for i in frames)), rate)


def rms(samples) -> float:
    """Root mean square of `samples` (0.0 for none)."""
    if len(samples) == 0:
        return 0.0
    return math.sqrt(sum(s * s for s in samples) / len(samples))


def _fft(values: list[complex]) -> list[complex]:
    """In-place iterative radix-2 FFT (len(values) must be a power of two)."""
    n = len(values)
    j = 0
    for i in range(1, n):
        bit = n >> 1
        while j & bit:
            j ^= bit
            bit >>= 1
        j |= bit
        if i < j:
            values[i], values[j] = values[j], values[i]
    size = 2
    while size <= n:
        step = cmath.exp(-2j * math.pi / size)
        half = size // 2
        twiddles = [step**k for k in range(half)]
        for start in range(0, n, size):
            for k in range(half):
                a = values[start + k]
                b = values[start + k + half] * twiddles[k]
                values[start + k] = a + b
                values[start + k + half] = a - b
        size *= 2
    return values


def dominant_frequency(samples, rate: int, min_hz: float = 50.0, window: int = 8192) -> float:
    """The strongest frequency (Hz) in the middle `window` samples (a power of two; fewer if
    there are fewer samples) of `samples`, by a Hann-windowed FFT with parabolic peak
    interpolation; frequencies below `min_hz` are ignored. 0.0 for silence or too few samples."""
    size = min(window, 1 << (len(samples).bit_length() - 1)) if len(samples) else 0
    if size < 64:
        return 0.0
    start = (len(samples) - size) // 2
    block = samples[start : start + size]
    spectrum = _fft(
        [complex(block[i] * (0.5 - 0.5 * math.cos(2 * math.pi * i / (size - 1)))) for i in range(size)]
    )
    magnitudes = [abs(value) for value in spectrum[: size // 2]]
    first = max(1, math.ceil(min_hz * size / rate))
    if first >= len(magnitudes) - 1:
        return 0.0
    peak = max(range(first, len(magnitudes) - 1), key=magnitudes.__getitem__)
    if magnitudes[peak] == 0:
        return 0.0
    left, centre, right = (math.log(magnitudes[i] + 1e-12) for i in (peak - 1, peak, peak + 1))
    denominator = left - 2 * centre + right
    shift = 0.5 * (left - right) / denominator if denominator else 0.0
    return (peak + shift) * rate / size


@dataclass(frozen=True)
class ToneReport:
    """What `tone_report` found in a WAV file."""

    rate: int
    seconds: float
    rms: float
    active_seconds: float
    active_rms: float
    frequency: float

    def __str__(self) -> str:
        return (
            f"{self.seconds:.2f} s at {self.rate} Hz, rms {self.rms:.0f}; longest run above the "
            f"threshold {self.active_seconds:.2f} s, rms {self.active_rms:.0f}, "
            f"dominant {self.frequency:.1f} Hz"
        )


def tone_report(path: Path, min_rms: float = 1000.0, start_seconds: float = 0.0) -> ToneReport:
    """Measures a recording from `start_seconds` on: overall rms, and the longest run of 20 ms
    frames whose rms is at least `min_rms` (its length, rms and dominant frequency)."""
    samples, rate = read_wav(path)
    samples = samples[int(start_seconds * rate) :]
    frame = max(1, rate // 50)
    loud = [rms(samples[i : i + frame]) >= min_rms for i in range(0, len(samples) - frame + 1, frame)]
    best_start, best_length, run_start = 0, 0, 0
    for index, is_loud in enumerate([*loud, False]):
        if not is_loud:
            if index - run_start > best_length:
                best_start, best_length = run_start, index - run_start
            run_start = index + 1
    active = samples[best_start * frame : (best_start + best_length) * frame]
    return ToneReport(
        rate=rate,
        seconds=len(samples) / rate,
        rms=rms(samples),
        active_seconds=len(active) / rate,
        active_rms=rms(active),
        frequency=dominant_frequency(active, rate) if len(active) else 0.0,
    )


def has_tone(
    path: Path,
    freq: float,
    min_rms: float = 1000.0,
    tolerance_hz: float = 20.0,
    min_seconds: float = 0.5,
    start_seconds: float = 0.0,
) -> bool:
    """True when `path` holds, from `start_seconds` on, at least `min_seconds` of uninterrupted
    audio with rms ≥ `min_rms` whose dominant frequency is within `tolerance_hz` of `freq`."""
    report = tone_report(path, min_rms, start_seconds)
    return report.active_seconds >= min_seconds and abs(report.frequency - freq) <= tolerance_hz


def linear_to_ulaw(sample: int) -> int:
    """G.711 µ-law encoding of one 16-bit linear sample (on its top 14 bits, as G.711 does)."""
    value, mask = sample >> 2, 0xFF
    if value < 0:
        value, mask = -value, 0x7F
    value = min(value, 8159) + 0x21
    segment = max(0, value.bit_length() - 6)
    if segment > 7:
        return 0x7F ^ mask
    return ((segment << 4) | ((value >> (segment + 1)) & 0x0F)) ^ mask


def ulaw_to_linear(code: int) -> int:
    """G.711 µ-law decoding of one byte to a 16-bit linear sample."""
    code = ~code & 0xFF
    magnitude = ((((code & 0x0F) << 3) + 0x84) << ((code >> 4) & 0x07)) - 0x84
    return -magnitude if code & 0x80 else magnitude


def _ipv4_checksum(header: bytes) -> int:
    total = sum(struct.unpack(f"!{len(header) // 2}H", header))
    while total > 0xFFFF:
        total = (total & 0xFFFF) + (total >> 16)
    return ~total & 0xFFFF


def write_tone_pcap(
    path: Path, freq_hz: float, seconds: float, amplitude: int = 8000, ssrc: int = 0x5EED7001
) -> Path:
    """Writes a pcap (Ethernet/IPv4/UDP) of a PCMU RTP stream (payload type 0, 20 ms packets,
    8 kHz) carrying a `freq_hz` sine of `amplitude`, for SIPp's `play_pcap_audio` (which
    replaces the addresses and ports)."""
    packets = []
    samples_per_packet = 160
    for number in range(int(seconds * 50)):
        first = number * samples_per_packet
        payload = bytes(
            linear_to_ulaw(round(amplitude * math.sin(2 * math.pi * freq_hz * (first + i) / 8000)))
            for i in range(samples_per_packet)
        )
        marker = 0x80 if number == 0 else 0
        rtp = struct.pack("!BBHII", 0x80, marker, number & 0xFFFF, first & 0xFFFFFFFF, ssrc) + payload
        udp = struct.pack("!HHHH", 10000, 20000, 8 + len(rtp), 0) + rtp
        addresses = socket.inet_aton("10.0.0.1") + socket.inet_aton("10.0.0.2")
        ip_header = struct.pack("!BBHHHBBH", 0x45, 0, 20 + len(udp), number & 0xFFFF, 0, 64, 17, 0) + addresses
        ip_header = ip_header[:10] + struct.pack("!H", _ipv4_checksum(ip_header)) + ip_header[12:]
        frame = b"\x02\x00\x00\x00\x00\x02\x02\x00\x00\x00\x00\x01\x08\x00" + ip_header + udp
        seconds_part, microseconds = divmod(number * 20000, 1_000_000)
        packets.append(struct.pack("<IIII", seconds_part, microseconds, len(frame), len(frame)) + frame)
    header = struct.pack("<IHHiIII", 0xA1B2C3D4, 2, 4, 0, 0, 65535, 1)
    Path(path).write_bytes(header + b"".join(packets))
    return Path(path)
