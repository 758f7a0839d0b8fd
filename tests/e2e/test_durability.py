"""Acceptance 4: a writer creates subscribers as fast as it can; the server is SIGKILLed in the
middle of the stream and restarted on the same data dir (or database); every write it had
acknowledged is there. Runs on SQLite and on PostgreSQL."""

from __future__ import annotations

import threading
import time
import uuid

import requests

from weft_http import Api

SUBSCRIBERS = "/api/fabric/resources/subscribers"
MIN_ACKED_BEFORE_KILL = 50
MAX_WAIT_FOR_WRITES_S = 60.0
ROUNDS = 2


class Writer(threading.Thread):
    """Creates subscribers back to back until stopped or the server stops answering; records every
    acknowledged (201) id with the email it was created with."""

    def __init__(self, base_url: str, auth: tuple[str, str], tag: str) -> None:
        super().__init__(daemon=True)
        self.base_url = base_url
        self.auth = auth
        self.tag = tag
        self.acked: dict[str, str] = {}
        self.unexpected: list[str] = []
        self.stop = threading.Event()

    def run(self) -> None:
        session = requests.Session()
        n = 0
        while not self.stop.is_set():
            email = f"durable-{self.tag}-{n}-{uuid.uuid4().hex[:6]}@example.com"
            n += 1
            try:
                resp = session.post(
                    f"{self.base_url}{SUBSCRIBERS}", json={"email": email, "display_name": f"D {n}"},
                    auth=self.auth, timeout=10,
                )
            except requests.RequestException:
                return  # the server is gone: whatever was not answered was not acknowledged
            if resp.status_code == 201:
                self.acked[resp.json()["id"]] = email
            else:
                self.unexpected.append(f"{resp.status_code} {resp.text[:200]}")
                return


def test_acknowledged_writes_survive_sigkill(weft):
    api = Api(weft.http_url, weft.auth)
    all_acked: dict[str, str] = {}
    for round_no in range(ROUNDS):
        writer = Writer(weft.http_url, weft.auth, f"r{round_no}")
        writer.start()
        deadline = time.monotonic() + MAX_WAIT_FOR_WRITES_S
        while len(writer.acked) < MIN_ACKED_BEFORE_KILL and writer.is_alive() and time.monotonic() < deadline:
            time.sleep(0.01)
        assert not writer.unexpected, writer.unexpected
        assert len(writer.acked) >= MIN_ACKED_BEFORE_KILL, f"only {len(writer.acked)} writes acknowledged"
        weft.kill()  # mid-stream: the writer is still sending
        writer.join(30)
        assert not writer.is_alive()
        assert not writer.unexpected, writer.unexpected
        all_acked.update(writer.acked)

        weft.restart()
        stored = {item["id"]: item for item in api.list_all(SUBSCRIBERS)}
        missing = sorted(set(all_acked) - set(stored))
        assert not missing, f"{len(missing)} of {len(all_acked)} acknowledged writes lost after SIGKILL: {missing[:10]}"
        for sub_id, email in all_acked.items():
            assert stored[sub_id]["subscriber"]["email"] == email
        for sub_id in list(all_acked)[-3:]:
            one = api.get(f"{SUBSCRIBERS}/{sub_id}")
            assert one.status_code == 200, one.text
    print(f"{len(all_acked)} acknowledged writes over {ROUNDS} SIGKILLs, none lost")

    # The restarted server keeps serving writes and the bootstrap credentials.
    api.created(SUBSCRIBERS, {"email": "after-restart@example.com"})
