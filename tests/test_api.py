"""REST API v1 (BEY-1): bearer tokens, JSON errors, OpenAPI document."""
import pytest
from openapi_spec_validator import validate
from sqlalchemy import select

from agents.channels import CHANNELS
from centrala.models import ApiToken, User
from centrala.tokens import create_api_token

pytestmark = pytest.mark.db


@pytest.fixture
def tokens(app, make_user, database):
    out = {}
    for email, role in (("boss@example.com", "admin"), ("agent@example.com", "agent")):
        uid = make_user(email, role=role)
        with database.session() as s:
            out[role] = create_api_token(s, s.get(User, uid), "test")
    return out


def auth(token):
    return {"Authorization": f"Bearer {token}"}


def test_openapi_document_is_valid(app):
    c = app.test_client()
    doc = c.get("/api/v1/openapi.json").json
    validate(doc)
    assert {"/users/me", "/users/me/status", "/users", "/users/{id}"} <= set(doc["paths"])


def test_requests_without_or_with_bad_token_get_401_json(app, tokens):
    c = app.test_client()
    r = c.get("/api/v1/users/me")
    assert r.status_code == 401 and r.is_json and "bearer token" in r.json["error"]["message"]
    assert r.headers["WWW-Authenticate"].startswith("Bearer")
    r = c.get("/api/v1/users/me", headers=auth("ctr_forged"))
    assert r.status_code == 401 and r.json["error"]["code"] == 401
    assert c.get("/api/v1/nothing-here", headers=auth(tokens["agent"])).json["error"]["code"] == 404


def test_me_and_status(app, tokens, database):
    c = app.test_client()
    me = c.get("/api/v1/users/me", headers=auth(tokens["agent"])).json
    assert me["email"] == "agent@example.com" and me["status"] == "offline" and "password_hash" not in me
    r = c.put("/api/v1/users/me/status", json={"status": "online"}, headers=auth(tokens["agent"]))
    assert r.status_code == 200 and r.json["status"] == "online"
    r = c.put("/api/v1/users/me/status", json={"status": "busy"}, headers=auth(tokens["agent"]))
    assert r.status_code == 400 and "online, break, offline" in r.json["error"]["message"]
    r = c.put("/api/v1/users/me/status", data="nope", headers=auth(tokens["agent"]))
    assert r.status_code == 400 and "JSON" in r.json["error"]["message"]
    with database.session() as s:
        assert s.scalar(select(ApiToken).where(ApiToken.name == "test", ApiToken.last_used_at.is_not(None)))


def test_user_administration_is_admin_only(app, tokens, smtp_server, database):
    c = app.test_client()
    for method, path in (("get", "/api/v1/users"), ("post", "/api/v1/users"), ("get", "/api/v1/users/1"),
                         ("patch", "/api/v1/users/1")):
        r = getattr(c, method)(path, json={}, headers=auth(tokens["agent"]))
        assert r.status_code == 403 and r.json["error"]["message"] == "Administrators only.", path
    admin = auth(tokens["admin"])
    assert {u["email"] for u in c.get("/api/v1/users", headers=admin).json["items"]} == {
        "boss@example.com", "agent@example.com"}
    r = c.post("/api/v1/users", json={"email": "ewa@example.com", "name": "Ewa", "channels": ["chat"]}, headers=admin)
    assert r.status_code == 201 and r.json["invitation_sent"] is True and r.headers["Location"].endswith(str(r.json["id"]))
    smtp_server.wait_for("ewa@example.com")
    r = c.post("/api/v1/users", json={"email": "ewa@example.com", "name": "Ewa"}, headers=admin)
    assert r.status_code == 422 and "already exists" in r.json["error"]["message"]
    r = c.post("/api/v1/users", json={"email": "x@example.com", "name": "X", "channels": ["fax"]}, headers=admin)
    assert r.status_code == 422 and r.json["error"]["fields"] == {"channels.0": "must be one of: " + ", ".join(CHANNELS)}
    uid = c.get("/api/v1/users?active=true", headers=admin).json["items"][-1]["id"]
    r = c.patch(f"/api/v1/users/{uid}", json={"active": False, "position": "Temp"}, headers=admin)
    assert r.status_code == 200 and r.json["active"] is False and r.json["position"] == "Temp"
    assert c.patch(f"/api/v1/users/{uid}", json={"salary": 1}, headers=admin).status_code == 422
    assert c.get("/api/v1/users/9999", headers=admin).status_code == 404


def test_deactivated_users_token_stops_working(app, tokens, database):
    c = app.test_client()
    with database.session() as s:
        s.scalar(select(User).where(User.email == "agent@example.com")).active = False
    assert c.get("/api/v1/users/me", headers=auth(tokens["agent"])).status_code == 401


def test_api_is_not_reachable_with_a_session_cookie_alone(app, make_user):
    from .web_helpers import login

    make_user("boss@example.com", role="admin")
    c = app.test_client()
    login(c, "boss@example.com")
    assert c.get("/api/v1/users/me").status_code == 401
