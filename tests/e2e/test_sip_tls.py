"""SIP over TLS (`[sip] tls_listen`): Weft serves the HTTPS certificate on its SIP TLS listener, a
client that verifies it gets answers, and a REGISTER over TLS is challenged and accepted."""

from __future__ import annotations

import socket
import ssl
import time

from sip_support import (
    DOMAIN,
    build_request,
    create_sip_endpoint,
    digest_authorization,
    metric,
    parse_message,
    sip_weft,  # noqa: F401 (a fixture)
    wait_for_metric,
)
from weft_process import free_port

TIMEOUT_S = 10.0


def tls_exchange(stream: ssl.SSLSocket, data: bytes) -> object:
    """Sends `data` and returns the first final response, framed by its Content-Length."""
    stream.sendall(data)
    buffer = b""
    deadline = time.monotonic() + TIMEOUT_S
    while time.monotonic() < deadline:
        head, sep, rest = buffer.partition(b"\r\n\r\n")
        if sep:
            message = parse_message(buffer)
            length = int(message.header("Content-Length") or 0)
            if len(rest) >= length:
                buffer = rest[length:]
                if not 100 <= message.status < 200:
                    return message
                continue
        chunk = stream.recv(65536)
        assert chunk, "the TLS connection closed without an answer"
        buffer += chunk
    raise AssertionError(f"no answer over TLS to:\n{data.decode(errors='replace')}")


def test_sip_over_tls_serves_the_https_certificate_and_registers(sip_weft):
    tls_port = free_port()
    weft = sip_weft(extra_env={"WEFT_SIP_TLS_LISTEN": f"127.0.0.1:{tls_port}"})
    secret = "tls-" + str(tls_port)
    create_sip_endpoint(weft, "tlsdesk", secret)
    context = ssl.create_default_context(cafile=str(weft.cert_path))
    context.check_hostname = True
    with socket.create_connection(("127.0.0.1", tls_port), timeout=TIMEOUT_S) as raw:
        with context.wrap_socket(raw, server_hostname=DOMAIN) as stream:
            local = "%s:%d" % stream.getsockname()[:2]
            options = build_request("OPTIONS", f"sip:{DOMAIN}", via=local, transport="TLS")
            assert tls_exchange(stream, options).status == 200
            contact = ("Contact", f"<sip:tlsdesk@{local};transport=tls>")
            register = build_request(
                "REGISTER", f"sip:{DOMAIN}", via=local, transport="TLS", call_id="tls-reg",
                from_uri=f"sip:tlsdesk@{DOMAIN}", to_uri=f"sip:tlsdesk@{DOMAIN}",
                headers=[contact, ("Expires", "300")],
            )
            challenge = tls_exchange(stream, register)
            assert challenge.status == 401, challenge
            authorization = digest_authorization(
                challenge.header("WWW-Authenticate"), "REGISTER", f"sip:{DOMAIN}", "tlsdesk", secret
            )
            again = build_request(
                "REGISTER", f"sip:{DOMAIN}", via=local, transport="TLS", call_id="tls-reg", cseq=2,
                from_uri=f"sip:tlsdesk@{DOMAIN}", to_uri=f"sip:tlsdesk@{DOMAIN}",
                headers=[contact, ("Expires", "300"), ("Authorization", authorization)],
            )
            ok = tls_exchange(stream, again)
            assert ok.status == 200, ok
            assert "transport=tls" in (ok.header("Contact") or "").lower(), ok
    wait_for_metric(weft.metrics_url(), "weft_sip_registrations", lambda v: v == 1, "== 1")
    assert metric(weft.metrics_url(), "weft_sip_requests_total", method="REGISTER", status="200") >= 1
