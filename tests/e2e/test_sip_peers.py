"""Self-test of the SIP peer harness (sip_peers.py) against the peers themselves, with no Weft
server: baresip calls baresip, SIPp calls SIPp and baresip, baresip registers with a SIPp
stand-in registrar. Needs the Debian packages baresip-core and sip-tester (scripts/lib/apt.sh)."""

from __future__ import annotations

import shutil

import pytest

from sip_peers import Baresip, SipPeerError, Sipp, has_tone, tone_report

RECORD_SECONDS = 1.0


@pytest.fixture(scope="module", autouse=True)
def sip_peer_binaries() -> None:
    missing = [binary for binary in ("baresip", "sipp") if shutil.which(binary) is None]
    if missing:
        pytest.fail(f"{missing} not installed: install the Debian packages baresip-core and sip-tester")


def assert_tone(path, freq: float) -> None:
    """`path` holds the tone `freq` (and so is not silence), and not some other sound."""
    assert has_tone(path, freq), f"expected a {freq} Hz tone in {path}: {tone_report(path)}"


def call_and_hang_up(caller: Baresip, callee: Baresip, uri: str) -> None:
    """`caller` calls `uri` (reaching `callee`), both record RECORD_SECONDS of audio, caller hangs up."""
    caller.dial(uri)
    caller.wait_for_event("CALL_ESTABLISHED")
    callee.wait_for_event("CALL_ESTABLISHED")
    caller.wait_for_recording(RECORD_SECONDS)
    callee.wait_for_recording(RECORD_SECONDS)
    caller.hangup()
    callee.wait_for_event("CALL_CLOSED")


# How each media encryption shows in the callee's log once it is in effect.
ENCRYPTION_LOG = {
    None: None,
    "srtp-mand": r"srtp: audio: SRTP is Enabled",
    "dtls_srtp": r"dtls_srtp: ---> DTLS-SRTP complete \(audio/RTP\)",
}


@pytest.mark.parametrize(
    ("codec", "mediaenc"),
    [("PCMU", None), ("PCMA", "srtp-mand"), ("opus/48000/2", "dtls_srtp")],
    ids=["pcmu", "pcma-sdes-srtp", "opus-dtls-srtp"],
)
def test_baresip_calls_baresip_and_each_hears_the_other(tmp_path, codec, mediaenc):
    with (
        Baresip(tmp_path, user="bob", tone_hz=1000, auto_answer=True, codecs=[codec], mediaenc=mediaenc) as bob,
        Baresip(tmp_path, user="alice", tone_hz=440, codecs=[codec], mediaenc=mediaenc) as alice,
    ):
        call_and_hang_up(alice, bob, bob.contact_uri)
        bob.wait_for(rf"(?i)audio: Set audio decoder: {codec.split('/')[0]} ", timeout=1)
        if ENCRYPTION_LOG[mediaenc]:
            bob.wait_for(ENCRYPTION_LOG[mediaenc], timeout=1)
        else:
            assert "Using media encryption" not in bob.log()
    alice_heard, bob_heard = alice.recordings()[-1], bob.recordings()[-1]
    assert_tone(alice_heard, 1000)
    assert_tone(bob_heard, 440)
    assert not has_tone(bob_heard, 1000), f"bob heard his own tone: {tone_report(bob_heard)}"


def test_baresip_sends_dtmf_as_telephone_events(tmp_path):
    with (
        Baresip(tmp_path, user="bob", auto_answer=True) as bob,
        Baresip(tmp_path, user="alice") as alice,
    ):
        alice.dial(bob.contact_uri)
        alice.wait_for_event("CALL_ESTABLISHED")
        bob.wait_for_event("CALL_ESTABLISHED")
        alice.send_dtmf("5#")
        assert bob.received_dtmf(2) == ["5", "#"]
        bob.wait_for(r"received event: '#'")


def test_sipp_uac_calls_uas_answer(tmp_path):
    with Sipp(tmp_path, "uas_answer", rtp_echo=True) as uas:
        uac = Sipp(tmp_path, "uac", f"127.0.0.1:{uas.local_port}", service="bob").run(timeout=30)
        assert uac.ok, uac.summary()
        answered = uas.wait(timeout=10)
    assert answered.ok, answered.summary()
    assert "SIP/2.0 200 OK" in answered.text("messages")


def test_baresip_hears_its_tone_echoed_by_sipp_uas(tmp_path):
    with Sipp(tmp_path, "uas_answer", rtp_echo=True) as uas, Baresip(tmp_path, tone_hz=440) as alice:
        alice.dial(f"sip:echo@127.0.0.1:{uas.local_port}")
        alice.wait_for_event("CALL_ESTABLISHED")
        alice.wait_for_recording(RECORD_SECONDS)
        alice.hangup()
        answered = uas.wait(timeout=10)
    assert answered.ok, answered.summary()
    assert_tone(alice.recordings()[-1], 440)


def test_sipp_pcap_tone_and_dtmf_reach_baresip(tmp_path):
    with Baresip(tmp_path, user="bob", tone_hz=440, auto_answer=True) as bob:
        caller = Sipp(tmp_path, "invite_pcap", f"127.0.0.1:{bob.sip_port}", service="bob", tone_hz=1000)
        result = caller.run(timeout=30)
        assert result.ok, result.summary()
        assert bob.received_dtmf(2) == ["1", "#"]
        bob.wait_for_event("CALL_CLOSED")
    assert_tone(bob.recordings()[-1], 1000)


def test_baresip_registers_with_digest_auth(tmp_path):
    accepted = {"auth_user": "alice", "auth_password": "s3cret"}
    with Sipp(tmp_path, "peer_registrar", keys=accepted) as registrar:
        with Baresip(
            tmp_path,
            user="alice",
            password="s3cret",
            domain="example.test",
            registrar=f"sip:127.0.0.1:{registrar.local_port}",
            regint=60,
        ) as alice:
            alice.wait_registered()
        # baresip unregisters when it quits: the registrar's scenario then completes.
        result = registrar.wait(timeout=10)
    assert result.ok, result.summary()
    assert "Expires: 0" in result.text("messages") or "expires=0" in result.text("messages")


def test_baresip_registration_with_a_wrong_password_is_refused(tmp_path):
    accepted = {"auth_user": "alice", "auth_password": "s3cret"}
    with Sipp(tmp_path, "peer_registrar", keys=accepted) as registrar:
        with Baresip(
            tmp_path,
            user="alice",
            password="wrong",
            domain="example.test",
            registrar=f"sip:127.0.0.1:{registrar.local_port}",
            regint=60,
        ) as alice:
            with pytest.raises(SipPeerError, match="403 Forbidden"):
                alice.wait_registered()
