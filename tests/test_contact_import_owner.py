"""Issue 12, defect 9: every action on a contact import — preview/configure, mapping, verify,
import, error report, original file, delete — is for its uploader or an administrator, in the
panel and in the API alike; another agent only sees it on the status list."""
from __future__ import annotations

import io

import pytest

from centrala.models import User
from centrala.models_contacts import ContactImport
from centrala.tokens import create_api_token

from .helpers import wait_for
from .web_helpers import csrf, login

pytestmark = pytest.mark.db

CSV = b"First name,Last name,Phone\r\nJan,Kowalski,+48601234567\r\nZly,Numer,12\r\n"
MAPPING = {"has_header": True, "columns": [{"index": 0, "field": "first_name"}, {"index": 1, "field": "last_name"},
                                           {"index": 2, "field": "phone", "slot": 1}]}


@pytest.fixture
def people(app, make_user, database):
    """Panel clients and API clients of the uploader, another agent and an administrator."""
    out = {}
    for who, email, role in (("owner", "owner@example.com", "agent"), ("other", "other@example.com", "agent"),
                             ("admin", "admin@example.com", "admin")):
        uid = make_user(email, role=role)
        with database.session() as s:
            token = create_api_token(s, s.get(User, uid), "t")
        panel = app.test_client()
        assert login(panel, email).status_code == 302
        api = app.test_client()
        api.environ_base["HTTP_AUTHORIZATION"] = f"Bearer {token}"
        out[who] = (panel, api)
    return out


def status(database, iid) -> str:
    with database.session() as s:
        return s.get(ContactImport, iid).status


def wait(api, iid, wanted):
    wait_for(lambda: api.get(f"/api/v1/contacts/imports/{iid}").json["status"] == wanted, 20, what=wanted)


def verified_import(api) -> int:
    r = api.post("/api/v1/contacts/imports", data={"file": (io.BytesIO(CSV), "mine.csv")},
                 content_type="multipart/form-data")
    assert r.status_code == 201
    iid = r.json["id"]
    assert api.put(f"/api/v1/contacts/imports/{iid}/mapping", json=MAPPING).status_code == 200
    assert api.post(f"/api/v1/contacts/imports/{iid}/verify").status_code == 202
    wait(api, iid, "verified")
    return iid


def test_api_actions_are_for_the_uploader_or_an_administrator(people, database):
    _, owner = people["owner"]
    _, other = people["other"]
    _, admin = people["admin"]
    iid = verified_import(owner)
    base = f"/api/v1/contacts/imports/{iid}"
    # the status is for everyone, the error report (it quotes the file) and the preview are not
    seen = other.get(base)
    assert seen.status_code == 200 and seen.json["error_count"] == 1 and seen.json["errors"] == []
    assert [i["errors"] for i in other.get("/api/v1/contacts/imports").json["items"]] == [[]]
    assert owner.get(base).json["errors"][0]["code"] == "format_phone"
    assert owner.get("/api/v1/contacts/imports").json["items"][0]["errors"]
    r = other.get(base + "?preview=1")
    assert r.status_code == 403 and "uploaded it or an administrator" in r.json["error"]["message"]
    assert owner.get(base + "?preview=1").json["preview"]["rows"][0][:2] == ["Jan", "Kowalski"]
    # change the mapping, verify, import, delete: refused to the other agent, nothing changes
    for method, path, body in (("put", "/mapping", MAPPING), ("post", "/verify", None), ("post", "/commit", None),
                               ("delete", "", None)):
        r = getattr(other, method)(base + path, json=body)
        assert r.status_code == 403, (method, path, r.status_code)
        assert r.json["error"]["message"] == ("Only the user who uploaded it or an administrator may open, change, "
                                              "run, download or delete an import.")
        assert status(database, iid) == "verified"
    # the administrator may (here: change the mapping back, verify), the uploader imports
    assert admin.get(base + "?preview=1").status_code == 200
    assert admin.get(base).json["errors"]
    assert admin.put(base + "/mapping", json=MAPPING).status_code == 200
    assert admin.post(base + "/verify").status_code == 202
    wait(owner, iid, "verified")
    assert owner.post(base + "/commit").status_code == 202
    wait(owner, iid, "done")
    assert other.delete(base).status_code == 403
    assert owner.delete(base).status_code == 204
    # an administrator deletes anyone's
    iid = verified_import(owner)
    assert admin.delete(f"/api/v1/contacts/imports/{iid}").status_code == 204


def test_panel_actions_are_for_the_uploader_or_an_administrator(people, database):
    owner, owner_api = people["owner"]
    other, _ = people["other"]
    admin, _ = people["admin"]
    iid = verified_import(owner_api)
    base = f"/contacts/imports/{iid}"
    token = csrf(other, "/contacts")
    form = {"csrf_token": token, "has_header": "1", "field_0": "last_name", "field_1": "first_name"}
    refusals = [
        ("get", base + "/configure", None),
        ("post", base + "/configure", form),
        ("post", base + "/configure", {**form, "action": "verify"}),
        ("post", base + "/import", {"csrf_token": token}),
        ("get", base + "/report", None),
        ("get", base + "/report?download=1", None),
        ("get", base + "/file", None),
        ("post", base + "/delete", {"csrf_token": token}),
    ]
    for method, path, data in refusals:
        r = getattr(other, method)(path, data=data)
        assert r.status_code == 403, (method, path, r.status_code)
        assert ("Only the person who uploaded this file or an administrator can open, change, run, download or "
                "delete its import.") in r.get_data(as_text=True), path
    with database.session() as s:
        imp = s.get(ContactImport, iid)
        assert imp.status == "verified" and imp.mapping == MAPPING["columns"]
    # the status list: the other agent sees it, without links to its file, report or actions
    page = other.get("/contacts/imports").get_data(as_text=True)
    assert "mine.csv" in page and "Error report (1)" in page
    for link in ("/configure", "/report", "/file", "/import", "/delete"):
        assert base + link not in page, link
    js = other.get(base + ".json").json
    assert js["status"] == "verified" and js["errors"] == []
    # in Polish
    r = other.get(base + "/file", headers={"Accept-Language": "pl"})
    assert r.status_code == 403 and "Tylko osoba, która wgrała ten plik" in r.get_data(as_text=True)
    # the uploader and the administrator may do each of them
    for client in (owner, admin):
        page = client.get("/contacts/imports").get_data(as_text=True)
        for link in ("/configure", "/report", "/file", "/import", "/delete"):
            assert base + link in page, link
        assert client.get(base + "/configure").status_code == 200
        assert client.get(base + "/report").status_code == 200
        assert client.get(base + "/report?download=1").status_code == 200
        r = client.get(base + "/file")
        assert r.status_code == 200 and r.data == CSV
        assert client.get(base + ".json").json["errors"]
    t = csrf(admin, "/contacts")
    r = admin.post(base + "/configure", data={**form, "csrf_token": t, "field_0": "first_name",
                                              "field_1": "last_name", "field_2": "phone", "slot_2": "1"})
    assert r.status_code == 302
    r = owner.post(base + "/configure", data={**form, "csrf_token": csrf(owner, "/contacts"), "field_0": "first_name",
                                              "field_1": "last_name", "action": "verify"})
    assert r.status_code == 302
    wait(owner_api, iid, "verified")
    assert owner.post(base + "/import", data={"csrf_token": csrf(owner, "/contacts")}).status_code == 302
    wait(owner_api, iid, "done")
    assert admin.post(base + "/delete", data={"csrf_token": t}).status_code == 302
    with database.session() as s:
        assert s.get(ContactImport, iid) is None
