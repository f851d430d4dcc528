import pytest

from centrala.pbx_status import write_status
from web import create_app
from web.background import stop as stop_background

pytestmark = pytest.mark.db


@pytest.fixture
def client(settings, database):
    app = create_app(settings, db=database)
    app.testing = True
    yield app.test_client()
    stop_background(app)   # its loops (webhooks, chat, presence…) must not outlive the test


def test_healthz_degraded_without_controller(client):
    r = client.get("/healthz")
    assert r.status_code == 503
    assert r.is_json and r.json == {"status": "degraded", "asterisk": None,
                                    "checks": {"db": True, "ami": False, "ari": False}}
    assert r.headers["Cache-Control"] == "no-store"


def test_healthz_ok_is_live(client, database):
    write_status(database, True, True, "22.10.1")
    r = client.get("/healthz")
    assert r.status_code == 200 and r.json["status"] == "ok" and r.json["asterisk"] == "22.10.1"
    write_status(database, False, True, "22.10.1")
    assert client.get("/healthz").json["checks"]["ami"] is False  # not cached


def test_first_page_asks_to_log_in(client):
    r = client.get("/")
    assert r.status_code == 302 and r.headers["Location"].startswith("/login")


def test_session_cookie_flags(client, settings):
    app = client.application
    assert app.config["SESSION_COOKIE_HTTPONLY"] is True
    assert app.config["SESSION_COOKIE_SAMESITE"] == "Lax"
    assert app.config["SECRET_KEY"] == settings.secrets.flask_secret_key
