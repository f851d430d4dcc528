"""The runtime says clearly what is missing instead of failing obscurely."""
import os
import socket

import pytest

from pbx import rootfs
from pbx.errors import PbxError
from pbx.runtime import AsteriskRuntime, _major
from tests.helpers import instance_settings


def test_version_parsing():
    assert _major("Asterisk 22.10.1+dfsg+~cs6.17.60671434-1") == 22
    assert _major("Asterisk certified/20.7-cert3") == 20
    assert _major("Asterisk 18.2.0") == 18
    assert _major("garbage") is None


def test_unreachable_mirror_is_named():
    with pytest.raises(PbxError, match="mirror http://127.0.0.1:9 is unreachable"):
        rootfs._probe_mirror("http://127.0.0.1:9", "sid")


def test_missing_debootstrap_is_named(monkeypatch, tmp_path):
    monkeypatch.setenv("PATH", str(tmp_path))  # an empty PATH: no debootstrap, no chroot
    with pytest.raises(PbxError, match="apt-get install debootstrap"):
        rootfs.check_prerequisites()


def test_not_root_is_named(monkeypatch):
    monkeypatch.setattr(os, "geteuid", lambda: 1000)
    with pytest.raises(PbxError, match="needs root"):
        rootfs.check_prerequisites()


def test_busy_sip_port_is_named(tmp_path):
    s = instance_settings(tmp_path / "d")
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as held:
        held.bind(("127.0.0.1", s.sip_port))
        with pytest.raises(PbxError, match=f"SIP port 127.0.0.1:{s.sip_port} is already in use"):
            AsteriskRuntime(s)._check_ports_free()
