"""Issue 12, defect 10: SIP and trunk passwords encrypted at rest, the data dir private."""
from __future__ import annotations

import io
import stat

import pytest
from PIL import Image
from sqlalchemy import select, text

from centrala import telephony
from centrala.db import Database, upgrade
from centrala.models import User
from centrala.secretbox import SecretBox, SecretBoxError
from centrala.users import create_user
from pbx import render

from .web_helpers import csrf

pytestmark = pytest.mark.db


def _raw(database, sql: str, **params):
    with database.engine.connect() as conn:
        return conn.execute(text(sql), params).scalar()


def test_sip_and_trunk_passwords_are_stored_encrypted_and_rendered_plain(database, web_settings):
    with database.session() as s:
        uid = create_user(s, "anna@example.com", "Anna", "agent", "correct horse 1").id
        tid = telephony.create_trunk(s, "carrier", "192.0.2.7", 5060, "acct", "trunk-s3cret", register=True).id
    raw_sip = _raw(database, "SELECT sip_password FROM users WHERE id = :id", id=uid)
    raw_trunk = _raw(database, "SELECT password FROM trunks WHERE id = :id", id=tid)
    box = SecretBox.for_settings(web_settings)   # the data dir's key opens them
    plain_sip = box.open(raw_sip)
    assert len(plain_sip) >= 20 and plain_sip not in raw_sip and raw_sip.startswith("gAAAA")
    assert box.open(raw_trunk) == "trunk-s3cret" and "trunk-s3cret" not in raw_trunk
    # another data dir's key opens nothing
    with pytest.raises(SecretBoxError):
        SecretBox.for_data_dir(web_settings.data_dir.parent / "other").open(raw_trunk)
    # Asterisk gets the plain passwords in its private configuration
    render.render_from_db(web_settings, "/mods", database)
    pjsip = web_settings.asterisk_dir / "etc" / "pjsip.conf"
    content = pjsip.read_text()
    assert f"password = {plain_sip}\n" in content and "password = trunk-s3cret\n" in content
    assert "gAAAA" not in content
    assert stat.S_IMODE(pjsip.stat().st_mode) == 0o600


def test_unchanged_trunk_password_keeps_its_token(database):
    with database.session() as s:
        t = telephony.create_trunk(s, "carrier", "192.0.2.7", 5060, "acct", "pw-one")
        token = t.password
        telephony.update_trunk(s, t, password="pw-one", host="192.0.2.8")   # the same password typed again
        assert t.password == token
        telephony.update_trunk(s, t, password="pw-two")
        assert t.password != token and database.secret_box.open(t.password) == "pw-two"


def test_writing_a_secret_without_the_key_is_refused(database_url, database):
    keyless = Database(database_url)
    try:
        with pytest.raises(SecretBoxError, match="without the data dir's key"):
            with keyless.session() as s:
                create_user(s, "anna@example.com", "Anna", "agent", "correct horse 1")
    finally:
        keyless.dispose()


def test_migration_0017_encrypts_existing_rows(database_url, tmp_path):
    upgrade(database_url, "0015")
    db = Database(database_url)
    with db.engine.begin() as conn:
        conn.execute(text("INSERT INTO users (email, name, role, active, created_at, position, ringtone, status, "
                          "channels, sip_username, sip_password) VALUES ('old@example.com', 'Old', 'agent', "
                          ":t, CURRENT_TIMESTAMP, '', 'long', 'offline', '[]', 'agent1', 'plain-sip-pass')"),
                     {"t": True})
        conn.execute(text("INSERT INTO trunks (name, host, port, username, password, enabled, created_at, register) "
                          "VALUES ('gw', '192.0.2.1', 5060, 'acct', 'plain-trunk-pass', :t, CURRENT_TIMESTAMP, :f)"),
                     {"t": True, "f": False})
    # the migration needs the key when there is something to encrypt
    with pytest.raises(RuntimeError, match="needs the data dir's key"):
        upgrade(database_url)
    box = SecretBox.for_data_dir(tmp_path / "data")
    upgrade(database_url, secret_box=box)
    raw_sip = _raw(db, "SELECT sip_password FROM users WHERE email = 'old@example.com'")
    raw_trunk = _raw(db, "SELECT password FROM trunks WHERE name = 'gw'")
    assert "plain" not in raw_sip and "plain" not in raw_trunk
    assert (box.open(raw_sip), box.open(raw_trunk)) == ("plain-sip-pass", "plain-trunk-pass")
    db.dispose()


def test_data_dir_is_private(app, agent, database, web_settings):
    data = web_settings.data_dir
    for d in (data, web_settings.uploads_dir, web_settings.avatars_dir, web_settings.files_dir,
              web_settings.prompts_dir, web_settings.recordings_dir):
        assert stat.S_IMODE(d.stat().st_mode) == 0o700, d
    assert stat.S_IMODE((data / "secrets.json").stat().st_mode) == 0o600
    if database.url.startswith("sqlite"):
        web_settings.ensure_dirs()   # as every start does: a database file is made private too
        db_file = database.url.removeprefix("sqlite:///")
        assert stat.S_IMODE(__import__("os").stat(db_file).st_mode) == 0o600
    buf = io.BytesIO()
    Image.new("RGB", (300, 300), (10, 20, 30)).save(buf, "PNG")
    buf.seek(0)
    token = csrf(agent, "/profile")
    assert agent.post("/profile/avatar", data={"avatar": (buf, "me.png"), "csrf_token": token},
                      content_type="multipart/form-data").status_code == 303
    with database.session() as s:
        name = s.scalar(select(User.avatar).where(User.email == "agent@example.com"))
    assert stat.S_IMODE((web_settings.avatars_dir / name).stat().st_mode) == 0o600
