"""``centrala user add`` gives a new user the same channels as the panel and the API: all of
them unless ``--channels`` says otherwise (issue 12, defect 11 — the first agent a newcomer
added from the command line served no channel, was never rung, and every call went to voicemail)."""
import pytest
from click.testing import CliRunner
from sqlalchemy import select

from agents.channels import CHANNELS
from centrala.cli import main
from centrala.models import User
from centrala.users import ensure_first_admin

pytestmark = pytest.mark.db


def _channels(database, email):
    with database.session() as s:
        return list(s.scalar(select(User).where(User.email == email)).channels)


def test_user_add_serves_every_channel_like_the_api_and_the_panel(settings, database, admin):
    env = {"CENTRALA_DATA_DIR": str(settings.data_dir), "CENTRALA_DATABASE_URL": settings.db_url,
           "CENTRALA_LOG_LEVEL": "WARNING"}
    runner = CliRunner()
    r = runner.invoke(main, ["user", "add", "--email", "cli@example.com", "--name", "Cli"], env=env)
    assert r.exit_code == 0, r.output
    assert _channels(database, "cli@example.com") == list(CHANNELS)
    assert "channels: chat, email, voice_in, voice_out, sms, facebook" in r.output
    # the panel's form starts with the same boxes ticked
    form = admin.get("/settings/users/new")
    assert form.status_code == 200
    html = form.get_data(as_text=True)
    for channel in CHANNELS:
        assert f'name="channels" value="{channel}" checked' in html, channel

def test_user_add_channels_option(settings, database):
    env = {"CENTRALA_DATA_DIR": str(settings.data_dir), "CENTRALA_DATABASE_URL": settings.db_url,
           "CENTRALA_LOG_LEVEL": "WARNING"}
    runner = CliRunner()
    add = lambda email, *extra: runner.invoke(  # noqa: E731
        main, ["user", "add", "--email", email, "--name", "X", *extra], env=env)
    r = add("two@example.com", "--channels", "voice_in, chat")
    assert r.exit_code == 0 and _channels(database, "two@example.com") == ["chat", "voice_in"]
    r = add("none@example.com", "--channels", "none")
    assert r.exit_code == 0 and _channels(database, "none@example.com") == []
    assert "channels: none (never rung" in r.output
    r = add("bad@example.com", "--channels", "chat,fax")
    assert r.exit_code == 1 and "unknown channel(s): fax" in r.output and "voice_in" in r.output


def test_first_administrator_serves_every_channel(database):
    admin, _password = ensure_first_admin(database, "admin@centrala.local")
    assert _channels(database, "admin@centrala.local") == list(CHANNELS)
