"""REST API for contacts and custom fields (CON-1, CON-2, SET-3)."""
import csv
import io

import pytest
from openapi_spec_validator import validate

from centrala.models import User
from centrala.tokens import create_api_token

pytestmark = pytest.mark.db


@pytest.fixture
def clients(app, make_user, database):
    out = {}
    for email, role in (("boss@example.com", "admin"), ("agent@example.com", "agent")):
        uid = make_user(email, role=role)
        with database.session() as s:
            token = create_api_token(s, s.get(User, uid), "test")
        c = app.test_client()
        c.environ_base["HTTP_AUTHORIZATION"] = f"Bearer {token}"
        out[role] = c
    return out


def test_openapi_describes_contacts_import_and_custom_fields(app):
    doc = app.test_client().get("/api/v1/openapi.json").json
    validate(doc)
    assert {"/contacts", "/contacts/{id}", "/contacts/export", "/contacts/imports", "/contacts/imports/{id}",
            "/contacts/imports/{id}/mapping", "/contacts/imports/{id}/verify", "/contacts/imports/{id}/commit",
            "/custom-fields", "/custom-fields/{id}"} <= set(doc["paths"])


def test_contact_crud_and_search(clients):
    c = clients["agent"]
    assert app_unauth(c) == 401
    r = c.post("/api/v1/contacts", json={"first_name": "Jan", "last_name": "Kowalski", "organisation": "ACME",
                                         "emails": ["Jan@Example.com", {"email": "jk@home.pl", "type": "home"}],
                                         "phones": [{"number": "601 234 567", "type": "work"}]})
    assert r.status_code == 201
    jan = r.json
    assert jan["emails"] == [{"email": "jan@example.com", "type": "work"}, {"email": "jk@home.pl", "type": "home"}]
    assert jan["phones"] == [{"number": "+48601234567", "type": "work"}]
    r = c.post("/api/v1/contacts", json={"first_name": "X", "phones": ["12"], "emails": ["nope"]})
    assert r.status_code == 422 and set(r.json["error"]["fields"]) == {"phone.0", "email.0"}
    assert c.post("/api/v1/contacts", json={"note": "nobody"}).status_code == 422
    for q in ("+48 601 234 567", "601234567", "kowal", "home.pl", "acme"):
        body = c.get("/api/v1/contacts", query_string={"q": q}).json
        assert body["total"] == 1 and body["items"][0]["id"] == jan["id"], q
    assert c.get("/api/v1/contacts", query_string={"q": "nowak"}).json["total"] == 0
    assert c.get("/api/v1/contacts", query_string={"sort": "shoe"}).status_code == 400
    r = c.put(f"/api/v1/contacts/{jan['id']}", json={"first_name": "Jan", "last_name": "Nowak", "phones": []})
    assert r.status_code == 200 and r.json["last_name"] == "Nowak" and r.json["phones"] == []
    assert c.get(f"/api/v1/contacts/{jan['id']}").json["last_name"] == "Nowak"
    assert c.get(f"/api/v1/contacts/{jan['id']}/communications").json == {"items": []}
    assert c.delete(f"/api/v1/contacts/{jan['id']}").status_code == 204
    assert c.get(f"/api/v1/contacts/{jan['id']}").status_code == 404
    assert c.delete(f"/api/v1/contacts/{jan['id']}").status_code == 404


def app_unauth(client):
    saved = client.environ_base.pop("HTTP_AUTHORIZATION")
    try:
        return client.get("/api/v1/contacts").status_code
    finally:
        client.environ_base["HTTP_AUTHORIZATION"] = saved


def test_export_over_api(clients):
    c = clients["agent"]
    c.post("/api/v1/contacts", json={"first_name": "Ewa", "last_name": "Żak", "phones": ["+48221234567"]})
    r = c.get("/api/v1/contacts/export")
    assert r.status_code == 200 and r.data.startswith(b"\xef\xbb\xbf")
    rows = list(csv.reader(io.StringIO(r.data.decode("utf-8-sig"))))
    assert rows[1][:2] == ["Ewa", "Żak"] and "+48221234567" in rows[1]


def test_custom_fields_api(clients):
    admin, agent = clients["admin"], clients["agent"]
    assert agent.post("/api/v1/custom-fields", json={"name": "X", "key": "x"}).status_code == 403
    r = admin.post("/api/v1/custom-fields", json={"name": "ID number", "key": "id_number", "kind": "short",
                                                  "applies_to": "contact"})
    assert r.status_code == 201
    fid = r.json["id"]
    assert admin.post("/api/v1/custom-fields", json={"name": "Dup", "key": "id_number"}).status_code == 409
    assert admin.post("/api/v1/custom-fields", json={"name": "", "key": "Bad"}).status_code == 422
    admin.post("/api/v1/custom-fields", json={"name": "Ticket", "key": "ticket", "applies_to": "task"})
    assert [f["key"] for f in agent.get("/api/v1/custom-fields?applies_to=contact").json["items"]] == ["id_number"]
    r = agent.post("/api/v1/contacts", json={"first_name": "A", "custom": {"id_number": "ABC"}})
    assert r.status_code == 201 and r.json["custom"] == {"id_number": "ABC"}
    assert agent.post("/api/v1/contacts", json={"first_name": "A", "custom": {"ticket": "1"}}).status_code == 422
    r = admin.patch(f"/api/v1/custom-fields/{fid}", json={"name": "PESEL", "kind": "long"})
    assert r.status_code == 200 and r.json["name"] == "PESEL" and r.json["key"] == "id_number"
    assert agent.delete(f"/api/v1/custom-fields/{fid}").status_code == 403
    assert admin.delete(f"/api/v1/custom-fields/{fid}").status_code == 204
    assert admin.delete(f"/api/v1/custom-fields/{fid}").status_code == 404
