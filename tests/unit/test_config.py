import os
import stat

import pytest

from centrala.config import Secrets, Settings


def test_defaults(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    s = Settings.load(environ={})
    assert s.data_dir == (tmp_path / "var").resolve()
    assert s.db_url == f"sqlite:///{tmp_path / 'var' / 'centrala.db'}"
    assert (s.http_port, s.sip_port, s.ami_port, s.ari_port) == (5000, 5060, 5038, 8088)


def test_environment_overrides_file_overrides_default(tmp_path):
    data = tmp_path / "d"
    data.mkdir()
    (data / "centrala.toml").write_text('http_port = 6000\nsip_port = 5070\n')
    s = Settings.load(environ={"CENTRALA_DATA_DIR": str(data), "CENTRALA_HTTP_PORT": "7000",
                               "CENTRALA_DATABASE_URL": "postgresql://u@localhost/c"})
    assert s.http_port == 7000          # environment wins
    assert s.sip_port == 5070           # from the file
    assert s.ami_port == 5038           # default
    assert s.db_url == "postgresql://u@localhost/c"


def test_explicit_config_file_and_unknown_keys_rejected(tmp_path):
    cfg = tmp_path / "c.toml"
    cfg.write_text('no_such_setting = 1\n')
    with pytest.raises(ValueError, match="no_such_setting"):
        Settings.load(environ={"CENTRALA_CONFIG": str(cfg), "CENTRALA_DATA_DIR": str(tmp_path)})


def test_bad_port_is_an_error(tmp_path):
    with pytest.raises(ValueError):
        Settings.load(environ={"CENTRALA_DATA_DIR": str(tmp_path), "CENTRALA_SIP_PORT": "five"})


def test_secrets_generated_once_private_and_distinct_per_data_dir(tmp_path):
    a = Secrets.load(tmp_path / "a")
    again = Secrets.load(tmp_path / "a")
    b = Secrets.load(tmp_path / "b")
    assert a.ami_password and len(a.ami_password) >= 32
    assert a == again
    assert a.ami_password != b.ami_password and a.ari_password != a.ami_password
    mode = stat.S_IMODE(os.stat(tmp_path / "a" / "secrets.json").st_mode)
    assert mode == 0o600
