"""Test connection (SET-2) against a real Dovecot and a real SMTP server (aiosmtpd): each failure
named per side — auth, refused, tls, dns — and a good login; the form's unsaved values with the
stored password kept out of sight."""
import dataclasses

import pytest

from centrala.emails import mailboxes as mb
from centrala.emails import probe
from centrala.emails.connect import Endpoint

from .helpers import free_port

pytestmark = pytest.mark.db


@pytest.fixture
def imap(dovecot):
    dovecot.add_user("office@example.com", "right-pass")
    return dovecot


def ep(host="127.0.0.1", port=0, security="none", username="office@example.com", password="right-pass", ca=""):
    return Endpoint(host=host, port=port, security=security, username=username, password=password, ca_file=ca)


def test_imap_answers_per_failure(imap):
    cases = {
        "ok": ep(port=imap.port),
        "ok_ssl": ep(port=imap.ssl_port, security="ssl", ca=imap.ca_file),
        "ok_starttls": ep(port=imap.port, security="starttls", ca=imap.ca_file),
        "auth": ep(port=imap.port, password="wrong-pass"),
        "refused": ep(port=free_port()),
        "tls": ep(port=imap.port, security="ssl", ca=imap.ca_file),            # SSL against the plain port
        "tls_untrusted": ep(port=imap.ssl_port, security="ssl"),              # self-signed, CA not given
        "dns": ep(host="no-such-host.invalid", port=imap.port),
    }
    got = {name: probe.probe(e, None, timeout=5)["imap"] for name, e in cases.items()}
    assert {n: r.code for n, r in got.items()} == {
        "ok": "ok", "ok_ssl": "ok", "ok_starttls": "ok", "auth": "auth", "refused": "refused", "tls": "tls",
        "tls_untrusted": "tls", "dns": "dns"}
    assert got["auth"].message == "The server refused the login or password." and not got["auth"].ok
    assert "wrong-pass" not in str(got["auth"].as_dict())


def test_smtp_side(smtp_server):
    res = probe.probe(None, ep(port=smtp_server.port), timeout=5)
    assert list(res) == ["smtp"] and res["smtp"].ok
    assert probe.probe(None, ep(port=free_port()), timeout=5)["smtp"].code == "refused"
    assert probe.probe(None, ep(port=smtp_server.port, security="ssl"), timeout=5)["smtp"].code == "tls"


def test_stored_mailbox_and_unsaved_values(database, settings, imap, smtp_server):
    settings = dataclasses.replace(settings, mail_ca_file=imap.ca_file)
    with database.session() as s:
        m = mb.create(s, {"kind": "shared", "label": "Office", "address": "office@example.com",
                          "password": "right-pass", "imap_host": "127.0.0.1", "imap_port": imap.ssl_port,
                          "imap_security": "ssl", "smtp_host": "127.0.0.1", "smtp_port": smtp_server.port,
                          "smtp_security": "none", "agent_ids": []})
        res = probe.test_mailbox(s, m, settings)
        assert (res["imap"].code, res["smtp"].code) == ("ok", "ok")
        # the form's values before saving: an empty password uses the stored one
        res = probe.test_mailbox(s, m, settings, values={"imap_port": str(imap.port), "imap_security": "none",
                                                          "password": ""})
        assert res["imap"].code == "ok"
        res = probe.test_mailbox(s, m, settings, values={"password": "typed-wrong"})
        assert res["imap"].code == "auth" and m.imap_port == imap.ssl_port   # nothing saved
        # a new mailbox's form: values only
        res = probe.test_mailbox(s, None, settings, values={
            "address": "office@example.com", "password": "right-pass", "imap_host": "127.0.0.1",
            "imap_port": imap.port, "imap_security": "starttls", "smtp_host": "127.0.0.1",
            "smtp_port": smtp_server.port, "smtp_security": "none"})
        assert (res["imap"].code, res["smtp"].code) == ("ok", "ok")
        with pytest.raises(mb.MailboxInvalid) as e:
            probe.test_mailbox(s, None, settings, values={"imap_host": "", "imap_port": 0, "smtp_host": "x",
                                                           "smtp_port": 25})
        assert set(e.value.problems) == {"imap_host", "imap_port"}
