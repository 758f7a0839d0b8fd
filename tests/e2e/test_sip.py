"""SIP acceptance against a real `weft serve`, with real peers (baresip, SIPp) on loopback:

- 1: baresip registers with the credentials of a SIP endpoint created over REST and takes the
  calls a trusted trunk places to the endpoint's address; a wrong password is refused and binds
  nothing; the binding survives SIGKILL and SIGTERM restarts (SQLite and PostgreSQL).
- 4: CANCEL while the callee rings, a callee's 486, unknown user 404, 401/407 challenges, an
  SDES-SRTP call between two baresips that hear each other, and 488 for a plain offer from an
  account that requires SRTP.
- What a SignalWire user expects besides: OPTIONS 200, 423 with Min-Expires, `Expires: 0`
  unregisters, and the failed-authentication limiter.

Needs the Debian packages baresip-core and sip-tester (scripts/lib/apt.sh). The malformed-message
flood is in test_sip_flood.py, the 50-call load in test_sip_load.py.
"""

from __future__ import annotations

import re
import secrets
import shutil

import pytest

from sip_peers import Baresip, SipPeerError, Sipp, has_tone, tone_report
from sip_support import (
    DOMAIN,
    NoResponse,
    UdpSip,
    build_request,
    create_room,
    create_sip_endpoint,
    metric,
    register_contact,
    sip_weft,  # noqa: F401 (a fixture)
    tcp_exchange,
    wait_for_log,
    wait_for_metric,
)
from weft_process import free_udp_tcp_port

# A trusted trunk sends from 127.0.0.2 (SIPp -i): 127.0.0.1 stays an ordinary source that must
# authenticate.
TRUNK_IP = "127.0.0.2"
TRUNK_CIDRS = [f"{TRUNK_IP}/32"]
HIGH_HZ = 1000
LOW_HZ = 440


@pytest.fixture(scope="module", autouse=True)
def sip_peer_binaries() -> None:
    missing = [binary for binary in ("baresip", "sipp") if shutil.which(binary) is None]
    if missing:
        pytest.fail(f"{missing} not installed: install the Debian packages baresip-core and sip-tester")


def password() -> str:
    return secrets.token_urlsafe(12)


def phone(tmp_path, weft, user: str, secret: str, **kwargs) -> Baresip:
    """A baresip registering as `user` with Weft as its registrar (started by `with`)."""
    kwargs.setdefault("regint", 3600)
    return Baresip(tmp_path, user=user, password=secret, domain=DOMAIN, registrar=weft.sip_proxy, **kwargs)


def trunk_call(tmp_path, weft, service: str, scenario: str = "invite_pcap", keys: dict | None = None):
    """A SIPp call from the trusted trunk to `sip:service@DOMAIN`, run to completion."""
    caller = Sipp(
        tmp_path, scenario, weft.sip_target, service=service, local_ip=TRUNK_IP,
        keys={"domain": DOMAIN, **(keys or {})}, tone_hz=HIGH_HZ,
    )
    return caller.run(timeout=40)


def assert_trunk_call_reaches(tmp_path, weft, desk: Baresip) -> None:
    """A trunk call to the endpoint's address rings `desk`, which answers and hears the caller."""
    start = len(desk.events())
    result = trunk_call(tmp_path, weft, desk.user)
    assert result.ok, result.summary()
    desk.wait_for_event("CALL_ESTABLISHED", start=start)
    desk.wait_for_event("CALL_CLOSED", start=start)
    heard = desk.recordings()[-1]
    assert has_tone(heard, HIGH_HZ), f"the phone did not hear the trunk's tone: {tone_report(heard)}"


# ----------------------------------------------------------------------------------------------
# Acceptance 1: registration with REST credentials, refusal, durability


def test_phone_registers_takes_trunk_calls_and_keeps_its_binding_across_restarts(tmp_path, backend, sip_weft):
    weft = sip_weft(backend.database_url, trunk_cidrs=TRUNK_CIDRS)
    secret = password()
    create_sip_endpoint(weft, "desk", secret)
    url = weft.metrics_url()

    # A wrong password: 403 after the challenge, logged by both sides; no binding.
    with phone(tmp_path, weft, "desk", "not-" + secret, auto_answer=True) as wrong:
        with pytest.raises(SipPeerError, match="403 Forbidden"):
            wrong.wait_registered()
    wait_for_log(weft, r'SIP authentication failed for user "desk" from 127\.0\.0\.1')
    unreachable = trunk_call(tmp_path, weft, "desk", "invite_expect", keys={"expect": "480"})
    assert unreachable.ok, f"a call to an endpoint with no binding must get 480\n{unreachable.summary()}"
    assert metric(url, "weft_sip_registrations") == 0

    with phone(tmp_path, weft, "desk", secret, auto_answer=True, tone_hz=LOW_HZ) as desk:
        desk.wait_registered()
        wait_for_metric(url, "weft_sip_registrations", lambda v: v == 1, "== 1")
        assert_trunk_call_reaches(tmp_path, weft, desk)

        weft.restart()  # SIGKILL, then a new process: the binding was stored before the 200
        url = weft.metrics_url()
        wait_for_metric(url, "weft_sip_registrations", lambda v: v == 1, "== 1 after SIGKILL")
        assert_trunk_call_reaches(tmp_path, weft, desk)

        assert weft.stop() == 0  # SIGTERM: a clean shutdown keeps bindings too
        weft.start()
        url = weft.metrics_url()
        wait_for_metric(url, "weft_sip_registrations", lambda v: v == 1, "== 1 after SIGTERM")
        assert_trunk_call_reaches(tmp_path, weft, desk)

    # baresip registered once (regint 3600; its unregister at quit leaves 0 bindings): the
    # restarted servers used the stored binding.
    registrations = re.findall(r"SIP registration\b.*bindings=(\d+)", weft.log())
    assert registrations.count("1") == 1, f"bindings after each REGISTER: {registrations}"


# ----------------------------------------------------------------------------------------------
# Acceptance 4: SIPp scenarios and SRTP


def test_caller_cancels_while_the_registered_callee_rings(tmp_path, sip_weft):
    weft = sip_weft()
    url = weft.metrics_url()
    caller_secret, callee_secret = password(), password()
    create_sip_endpoint(weft, "caller", caller_secret)
    create_sip_endpoint(weft, "ringer", callee_secret)
    callee_port = free_udp_tcp_port()
    register_contact(weft, "ringer", callee_secret, callee_port)
    with Sipp(tmp_path, "uas_ring", local_port=callee_port) as callee:
        caller = Sipp(
            tmp_path, "invite_cancel_ringing", weft.sip_target, service="ringer", auth_user="caller",
            auth_password=caller_secret, keys={"domain": DOMAIN}, extra_args=["-d", "3000"],
        ).start()
        # Both legs ring (the caller's and Weft's call to the SIPp phone) before the CANCEL.
        wait_for_metric(url, "weft_sip_calls", lambda v: v == 2, "== 2 while ringing", timeout=10, state="early")
        cancelled = caller.wait(timeout=30)
        assert cancelled.ok, cancelled.summary()
        rang = callee.wait(timeout=10)
    assert rang.ok, f"Weft did not cancel its call to the ringing phone\n{rang.summary()}"
    assert "CANCEL sip:" in rang.text("messages")
    assert metric(url, "weft_sip_requests_total", method="INVITE", status="487") == 1
    wait_for_metric(url, "weft_sip_calls", lambda v: v == 0, "back to 0")
    wait_for_metric(url, "weft_members", lambda v: v == 0, "back to 0")


def test_caller_gets_486_when_the_registered_callee_is_busy(tmp_path, sip_weft):
    weft = sip_weft()
    url = weft.metrics_url()
    caller_secret, callee_secret = password(), password()
    create_sip_endpoint(weft, "caller", caller_secret)
    create_sip_endpoint(weft, "busybody", callee_secret)
    callee_port = free_udp_tcp_port()
    register_contact(weft, "busybody", callee_secret, callee_port)
    with Sipp(tmp_path, "uas_busy", local_port=callee_port) as callee:
        caller = Sipp(
            tmp_path, "invite_expect", weft.sip_target, service="busybody", auth_user="caller",
            auth_password=caller_secret, keys={"domain": DOMAIN, "expect": "486"},
        )
        result = caller.run(timeout=30)
        assert result.ok, result.summary()
        busy = callee.wait(timeout=10)
    assert busy.ok, busy.summary()
    assert "invite_expect: final status 486" in result.text("logs")
    wait_for_metric(url, "weft_sip_calls", lambda v: v == 0, "back to 0")


def test_unknown_user_gets_404_and_unauthenticated_requests_are_challenged(tmp_path, sip_weft):
    weft = sip_weft()
    secret = password()
    create_sip_endpoint(weft, "caller", secret)

    unknown = Sipp(
        tmp_path, "invite_expect", weft.sip_target, service="nobody-here", auth_user="caller",
        auth_password=secret, keys={"domain": DOMAIN, "expect": "404"},
    ).run(timeout=30)
    assert unknown.ok, unknown.summary()

    challenged = Sipp(tmp_path, "invite_noauth", weft.sip_target, service="caller", keys={"domain": DOMAIN}).run(
        timeout=30
    )
    assert challenged.ok, challenged.summary()
    assert re.search(r"SIP/2.0 407 .*?Proxy-Authenticate: Digest", challenged.text("messages"), re.DOTALL)

    with UdpSip(weft.sip_port) as client:
        aor = f"sip:caller@{DOMAIN}"
        register = client.request(
            "REGISTER", f"sip:{DOMAIN}", from_uri=aor, to_uri=aor,
            headers=[("Contact", f"<sip:caller@{client.via}>"), ("Expires", "600")],
        )
        assert register.status == 401, str(register)
        challenges = register.all("WWW-Authenticate")
        algorithms = [re.search(r"algorithm=([\w-]+)", c).group(1) for c in challenges]
        # MD5 first: clients that read only the first challenge (SIPp) know only MD5.
        assert algorithms[0] == "MD5" and set(algorithms) <= {"MD5", "SHA-256"}, challenges
        assert all(f'realm="{DOMAIN}"' in c and 'qop="auth"' in c for c in challenges), challenges


def test_sdes_srtp_call_between_two_phones_carries_audio_both_ways(tmp_path, sip_weft):
    weft = sip_weft()
    caller_secret, callee_secret = password(), password()
    create_sip_endpoint(weft, "seccaller", caller_secret, encryption="required")
    create_sip_endpoint(weft, "seccallee", callee_secret, encryption="required")
    with (
        phone(tmp_path, weft, "seccallee", callee_secret, auto_answer=True, tone_hz=HIGH_HZ,
              mediaenc="srtp-mand") as callee,
        phone(tmp_path, weft, "seccaller", caller_secret, regint=0, tone_hz=LOW_HZ,
              mediaenc="srtp-mand") as caller,
    ):
        callee.wait_registered()
        caller.dial(f"sip:seccallee@{DOMAIN}")
        caller.wait_for_event("CALL_ESTABLISHED", timeout=15)
        callee.wait_for_event("CALL_ESTABLISHED")
        caller.wait_for_recording(2.0)
        callee.wait_for_recording(2.0)
        for ua in (caller, callee):
            ua.wait_for(r"srtp: audio: SRTP is Enabled", timeout=1)
        caller.hangup()
        callee.wait_for_event("CALL_CLOSED")
    caller_heard, callee_heard = caller.recordings()[-1], callee.recordings()[-1]
    assert has_tone(caller_heard, HIGH_HZ), f"caller: {tone_report(caller_heard)}"
    assert has_tone(callee_heard, LOW_HZ), f"callee: {tone_report(callee_heard)}"
    assert not has_tone(callee_heard, HIGH_HZ), f"callee heard itself: {tone_report(callee_heard)}"


def test_plain_offer_from_an_account_requiring_srtp_gets_488(tmp_path, sip_weft):
    weft = sip_weft()
    secret = password()
    create_sip_endpoint(weft, "secure", secret, encryption="required")
    create_room(weft, "lobby")
    result = Sipp(
        tmp_path, "invite_expect", weft.sip_target, service="lobby", auth_user="secure", auth_password=secret,
        keys={"domain": DOMAIN, "expect": "488"},
    ).run(timeout=30)
    assert result.ok, result.summary()
    assert "invite_expect: final status 488" in result.text("logs")


# ----------------------------------------------------------------------------------------------
# What a SignalWire user expects besides


def test_options_is_answered_200_over_udp_and_tcp(sip_weft):
    weft = sip_weft()
    with UdpSip(weft.sip_port) as client:
        udp = client.request("OPTIONS", f"sip:{DOMAIN}")
    assert udp.status == 200, str(udp)
    assert "INVITE" in (udp.header("Allow") or ""), str(udp)
    via = f"127.0.0.1:{free_udp_tcp_port()}"
    tcp = tcp_exchange(weft.sip_port, build_request("OPTIONS", f"sip:{DOMAIN}", via=via, transport="TCP"))
    assert tcp.status == 200, str(tcp)


def test_register_expiry_bounds_and_unregister(sip_weft):
    weft = sip_weft()
    url = weft.metrics_url()
    secret = password()
    create_sip_endpoint(weft, "bounded", secret)
    with UdpSip(weft.sip_port) as client:
        brief = client.register("bounded", secret, expires=30)
        assert brief.status == 423, str(brief)
        assert brief.header("Min-Expires") == "60", str(brief)

        call_id = secrets.token_hex(8)
        registered = client.register("bounded", secret, expires=120, call_id=call_id, cseq=1)
        assert registered.status == 200, str(registered)
        assert re.search(r"expires=1[12]\d", registered.header("Contact") or ""), str(registered)
        wait_for_metric(url, "weft_sip_registrations", lambda v: v == 1, "== 1")

        unregistered = client.register("bounded", secret, expires=0, call_id=call_id, cseq=3)
        assert unregistered.status == 200, str(unregistered)
        assert unregistered.header("Contact") is None, str(unregistered)
        wait_for_metric(url, "weft_sip_registrations", lambda v: v == 0, "back to 0")


def test_failed_authentications_block_the_source(sip_weft):
    weft = sip_weft()
    secret = password()
    create_sip_endpoint(weft, "target", secret)
    attacker_ip = "127.0.0.4"
    with UdpSip(weft.sip_port, local_ip=attacker_ip) as attacker, UdpSip(weft.sip_port) as bystander:
        for attempt in range(5):
            refused = attacker.register("target", f"guess-{attempt}", expires=600)
            assert refused.status == 403, f"attempt {attempt}: {refused}"
        wait_for_log(weft, rf'SIP authentication failed for user "target" from {re.escape(attacker_ip)}', count=5)
        wait_for_log(weft, rf"SIP source {re.escape(attacker_ip)} blocked for \d+ s after 5 failed authentications")
        # Blocked: even the right password and an OPTIONS go unanswered; other sources are served.
        with pytest.raises(NoResponse):
            attacker.request("OPTIONS", f"sip:{DOMAIN}", timeout=2.0)
        with pytest.raises(NoResponse):
            attacker.register("target", secret, expires=600, timeout=2.0)
        assert bystander.register("target", secret, expires=600).status == 200

