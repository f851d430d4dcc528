from types import SimpleNamespace

from pbx import render
from tests.helpers import instance_settings


def test_render_writes_loopback_ami_ari_with_generated_secrets(tmp_path):
    s = instance_settings(tmp_path / "d")
    changed = render.render(s, "/usr/lib/x86_64-linux-gnu/asterisk/modules")
    etc = s.asterisk_dir / "etc"
    names = {p.name for p in changed}
    assert {"asterisk.conf", "manager.conf", "http.conf", "ari.conf", "pjsip.conf",
            "extensions.conf", "modules.conf"} <= names
    manager = (etc / "manager.conf").read_text()
    assert "bindaddr = 127.0.0.1" in manager and f"port = {s.ami_port}" in manager
    assert s.secrets.ami_password in manager
    http = (etc / "http.conf").read_text()
    assert "bindaddr = 127.0.0.1" in http and f"bindport = {s.ari_port}" in http
    assert s.secrets.ari_password in (etc / "ari.conf").read_text()
    assert f"astetcdir => {etc}" in (etc / "asterisk.conf").read_text()
    assert "Stasis(centrala,inbound,${EXTEN})" in (etc / "extensions.conf").read_text()
    assert (etc / "manager.conf").stat().st_mode & 0o077 == 0  # secrets not world-readable
    # nothing changed -> nothing rewritten
    assert render.render(s, "/usr/lib/x86_64-linux-gnu/asterisk/modules") == []


def test_trunks_identified_by_address_and_port(tmp_path):
    s = instance_settings(tmp_path / "d")
    trunks = [SimpleNamespace(name="gsm1", host="127.0.0.1", port=5099, username=None, password=None),
              SimpleNamespace(name="carrier", host="10.0.0.5", port=5060, username="acct", password="pw")]
    render.render(s, "/mods", trunks)
    pjsip = (s.asterisk_dir / "etc" / "pjsip.conf").read_text()
    assert "match = 127.0.0.1:5099" in pjsip
    assert "[trunk-gsm1]" in pjsip and "context = centrala-inbound" in pjsip
    assert "outbound_auth = trunk-carrier-auth" in pjsip and "username = acct" in pjsip
    assert "trunk-gsm1-auth" not in pjsip
    assert f"bind = {s.sip_host}:{s.sip_port}" in pjsip
    assert "type = registration" not in pjsip
    assert not render.configures_registrations(s)   # the controller then never asks Asterisk


def test_registering_trunk_gets_a_registration_and_keeps_its_address(tmp_path):
    """VOI-1: inbound identified by address or registration."""
    import configparser

    s = instance_settings(tmp_path / "d")
    trunks = [SimpleNamespace(name="op", host="192.0.2.7", port=5070, username="48221234567", password="s3cret",
                              register=True),
              SimpleNamespace(name="quiet", host="192.0.2.8", port=5060, username="u", password="p", register=False)]
    render.render(s, "/mods", trunks)
    pjsip = (s.asterisk_dir / "etc" / "pjsip.conf").read_text()
    cfg = configparser.ConfigParser(strict=False, comment_prefixes=(";",), inline_comment_prefixes=(";",))
    cfg.read_string(pjsip)
    reg = cfg["trunk-op-reg"]
    assert reg["type"] == "registration" and reg["outbound_auth"] == "trunk-op-auth"
    assert reg["server_uri"] == "sip:192.0.2.7:5070" and reg["client_uri"] == "sip:48221234567@192.0.2.7"
    assert reg["contact_user"] == "48221234567" and reg["line"] == "yes" and reg["endpoint"] == "trunk-op"
    assert int(reg["retry_interval"]) > 0 and int(reg["expiration"]) >= 60
    assert "match = 192.0.2.7:5070" in pjsip          # still identified by address and port too
    assert "[trunk-quiet-reg]" not in pjsip
    assert render.configures_registrations(s)
