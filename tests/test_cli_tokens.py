import pytest
from click.testing import CliRunner
from sqlalchemy import select

from centrala.cli import main
from centrala.models import User

pytestmark = pytest.mark.db


def test_user_add_and_token_create(settings, database, app):
    env = {"CENTRALA_DATA_DIR": str(settings.data_dir), "CENTRALA_DATABASE_URL": settings.db_url,
           "CENTRALA_LOG_LEVEL": "WARNING"}
    runner = CliRunner()
    r = runner.invoke(main, ["user", "add", "--email", "ops@example.com", "--name", "Ops", "--role", "admin",
                             "--password", "a long password"], env=env)
    assert r.exit_code == 0 and "created admin ops@example.com" in r.output
    r = runner.invoke(main, ["user", "add", "--email", "ops@example.com", "--name", "Ops"], env=env)
    assert r.exit_code == 1 and "already exists" in r.output
    r = runner.invoke(main, ["token", "create", "--email", "ops@example.com"], env=env)
    assert r.exit_code == 0
    token = r.output.strip().splitlines()[-1]
    assert token.startswith("ctr_")
    me = app.test_client().get("/api/v1/users/me", headers={"Authorization": f"Bearer {token}"})
    assert me.status_code == 200 and me.json["email"] == "ops@example.com"
    r = runner.invoke(main, ["token", "create", "--email", "nobody@example.com"], env=env)
    assert r.exit_code == 1 and "no active user" in r.output


def test_sip_show(settings, database):
    env = {"CENTRALA_DATA_DIR": str(settings.data_dir), "CENTRALA_DATABASE_URL": settings.db_url,
           "CENTRALA_LOG_LEVEL": "WARNING", "CENTRALA_SIP_PORT": "5099"}
    runner = CliRunner()
    runner.invoke(main, ["user", "add", "--email", "a@example.com", "--name", "A"], env=env)
    r = runner.invoke(main, ["sip", "show", "--email", "a@example.com"], env=env)
    assert r.exit_code == 0, r.output
    lines = dict(line.split(None, 1) for line in r.output.strip().splitlines()[-5:])
    assert lines["port"] == "5099/udp" and lines["username"].startswith("agent")
    assert len(lines["password"]) >= 20 and lines["state"] == "not registered"
    with database.session() as s:   # the plain password of the encrypted column (issue 12)
        stored = s.scalar(select(User.sip_password).where(User.email == "a@example.com"))
    assert lines["password"] == database.secret_box.open(stored) and lines["password"] not in stored
    assert runner.invoke(main, ["sip", "show", "--email", "b@example.com"], env=env).exit_code == 1
