"""Contacts (CON-1, CON-2, CON-4, CON-5) and custom fields (SET-3) through the panel and the domain."""
import csv
import io
import re

import pytest
from sqlalchemy import select

from centrala import contacts as C
from centrala import custom_fields as CF
from centrala.models import Communication
from centrala.models_contacts import Contact, CustomField

from .web_helpers import csrf

pytestmark = pytest.mark.db


def add(database, first="", last="", org="", emails=(), phones=(), **kw):
    with database.session() as s:
        c = C.create(s, C.ContactData(first_name=first, last_name=last, organisation=org,
                                      emails=[(e, "work") for e in emails],
                                      phones=[(p, "mobile") for p in phones], **kw))
        return c.id


def contact_form(client, path, **values):
    data = {"csrf_token": csrf(client, "/contacts/new"), "first_name": "", "last_name": "", "organisation": "",
            "address": "", "note": "", "email_0": "", "email_type_0": "work", "phone_0": "",
            "phone_type_0": "mobile"}
    data.update(values)
    return client.post(path, data=data)


def test_create_view_edit_delete_contact(agent, database):
    r = contact_form(agent, "/contacts/new", first_name="Łucja", last_name="Kowalska", organisation="ACME sp. z o.o.",
                     email_0="Lucja@Example.com", email_type_0="home", email_1="l.k@acme.pl", email_type_1="work",
                     phone_0="601 234 567", phone_type_0="mobile", phone_1="+48 22 123 45 67", phone_type_1="work",
                     address="ul. Długa 1\n00-001 Warszawa", note="VIP")
    assert r.status_code == 302
    cid = int(re.search(r"/contacts/(\d+)", r.headers["Location"]).group(1))
    with database.session() as s:
        c = s.get(Contact, cid)
        assert [(e.email, e.kind) for e in c.emails] == [("lucja@example.com", "home"), ("l.k@acme.pl", "work")]
        assert [(p.number, p.kind) for p in c.phones] == [("+48601234567", "mobile"), ("+48221234567", "work")]
    page = agent.get(f"/contacts/{cid}").get_data(as_text=True)
    assert "Łucja Kowalska" in page and "+48 601 234 567" in page and "ul. Długa 1" in page
    assert contact_form(agent, f"/contacts/{cid}/edit", first_name="Łucja", last_name="Nowak",
                        phone_0="+48601234567").status_code == 302
    with database.session() as s:
        c = s.get(Contact, cid)
        assert c.last_name == "Nowak" and [p.number for p in c.phones] == ["+48601234567"] and c.emails == []
    r = agent.post(f"/contacts/{cid}/delete", data={"csrf_token": csrf(agent, f"/contacts/{cid}")})
    assert r.status_code == 302
    with database.session() as s:
        assert s.get(Contact, cid) is None
    assert agent.get(f"/contacts/{cid}").status_code == 404


def test_form_errors_keep_what_was_typed(agent, database):
    r = contact_form(agent, "/contacts/new", first_name="", last_name="", email_0="not-an-email",
                     phone_0="4915112345678", note="keep me")
    assert r.status_code == 422
    html = r.get_data(as_text=True)
    assert "Enter a first name, a last name or an organisation." in html
    assert "Enter a valid email address." in html and "lost its leading +" in html
    assert "keep me" in html and 'value="not-an-email"' in html
    with database.session() as s:
        assert s.scalar(select(Contact)) is None


def test_contacts_need_login(app):
    c = app.test_client()
    for path in ("/contacts", "/contacts/new", "/contacts/export", "/contacts/imports"):
        assert c.get(path).status_code == 302
    assert c.post("/contacts/new", data={}).status_code in (302, 400)


@pytest.mark.parametrize("query", ["601234567", "601 234 567", "+48 601 234 567", "+48601234567",
                                   "0048 601 234 567", "48601234567", "234 567"])
def test_search_finds_phone_in_any_format(app, database, query):
    add(database, "Jan", "Kowalski", phones=["+48 601 234 567"])
    add(database, "Ewa", "Inna", phones=["+48 22 555 00 11"])
    with database.session() as s:
        rows, total = C.search(s, query)
        assert total == 1 and rows[0].last_name == "Kowalski"


def test_search_by_name_organisation_email_and_sort_and_paging(agent, database):
    add(database, "Jan", "Kowalski", "ACME", emails=["jan@acme.pl"])
    add(database, "Anna", "Żak", "Zeta", emails=["anna@zeta.com", "a.zak@home.pl"])
    add(database, "Piotr", "Adamski", "", emails=[])
    for i in range(30):
        add(database, f"Osoba{i:02d}", "Zz", "Bulk")
    with database.session() as s:
        assert C.search(s, "kowalski")[1] == 1
        assert C.search(s, "jan kowal")[1] == 1           # every word must match
        assert C.search(s, "acme")[1] == 1
        assert C.search(s, "home.pl")[0][0].last_name == "Żak"   # any email, not only the first
        assert C.search(s, "ŻAK")[1] == 1                   # case-insensitive beyond ASCII
        assert C.search(s, "100%")[1] == 0                  # LIKE wildcards are literal
        rows, _ = C.search(s, "", sort="first_name", per_page=3)
        assert [r.first_name for r in rows] == ["Anna", "Jan", "Osoba00"]
    html = agent.get("/contacts").get_data(as_text=True)
    assert "All contacts (33)" in html and "Page 1 of 2" in html
    assert html.index("Adamski") < html.index("Kowalski")
    page2 = agent.get("/contacts?page=2").get_data(as_text=True)
    assert "Osoba29" in page2 and "Adamski" not in page2
    found = agent.get("/contacts?q=601").get_data(as_text=True)
    assert "No contact matches" in found
    assert "Search results (1)" in agent.get("/contacts?q=zeta").get_data(as_text=True)


def test_find_by_phone_and_communications(app, database):
    cid = add(database, "Jan", "Kowalski", phones=["601 234 567"], emails=["jan@example.com"])
    with database.session() as s:
        s.add_all([Communication(channel="voice", direction="inbound", outcome="answered", remote="+48601234567"),
                   Communication(channel="voice", direction="inbound", outcome="missed", remote="+48999999999"),
                   Communication(channel="email", direction="inbound", outcome="answered", remote="jan@example.com")])
    with database.session() as s:
        assert C.find_by_phone(s, "+48601234567").id == cid
        assert C.find_by_phone(s, "601 234 567").id == cid
        assert C.find_by_phone(s, "+48 601 234 567").id == cid
        assert C.find_by_phone(s, "0048601234567").id == cid
        assert C.find_by_phone(s, "+48999999999") is None
        assert C.find_by_phone(s, "") is None
        comms = C.communications(s, s.get(Contact, cid))
        assert sorted(c.remote for c in comms) == ["+48601234567", "jan@example.com"]


def test_contact_view_lists_its_calls(agent, database):
    cid = add(database, "Jan", "Kowalski", phones=["601 234 567"])
    with database.session() as s:
        s.add(Communication(channel="voice", direction="inbound", outcome="answered", remote="+48601234567"))
        s.add(Communication(channel="voice", direction="inbound", outcome="missed", remote="+48500000000"))
    html = agent.get(f"/contacts/{cid}").get_data(as_text=True)
    comms = html[html.index('id="contact-communications"'):]
    assert "+48601234567" in comms and "+48500000000" not in comms


def test_user_input_is_rendered_inert(agent, database):
    cid = add(database, "<script>alert(1)</script>", "X", note="<img src=x onerror=alert(1)>")
    html = agent.get(f"/contacts/{cid}").get_data(as_text=True)
    assert "<script>alert(1)" not in html and "&lt;script&gt;alert(1)" in html
    assert "<img src=x" not in html


# -- export -----------------------------------------------------------------------------------------
def read_export(data: bytes):
    assert data.startswith(b"\xef\xbb\xbf")
    return list(csv.reader(io.StringIO(data.decode("utf-8-sig"))))


def test_export_has_bom_slots_and_neutralised_formulas(agent, database):
    with database.session() as s:
        CF.create(s, "ID number", "id_number")
    add(database, "=HYPERLINK(\"http://evil\")", "Nowak", "+cmd|' /C calc'!A0",
        emails=["a@x.pl", "b@x.pl", "c@x.pl"], phones=["+48601234567", "+48221234567"],
        custom={"id_number": "@SUM(1)"}, note="-2+3")
    add(database, "Ewa", "Żółć", "'quoted", phones=["+49 151 12345678"])
    r = agent.get("/contacts/export")
    assert r.status_code == 200 and r.mimetype == "text/csv"
    assert "attachment" in r.headers["Content-Disposition"]
    rows = read_export(r.data)
    assert rows[0] == ["First name", "Last name", "Organisation", "Email 1", "Email 1 type", "Email 2",
                       "Email 2 type", "Email 3", "Email 3 type", "Phone 1", "Phone 1 type", "Phone 2",
                       "Phone 2 type", "Address", "Note", "ID number"]
    first = dict(zip(rows[0], rows[1]))
    assert first["First name"] == "'=HYPERLINK(\"http://evil\")"
    assert first["Organisation"].startswith("'+cmd")
    assert first["Note"] == "'-2+3" and first["ID number"] == "'@SUM(1)"
    assert first["Phone 1"] == "+48601234567" and first["Phone 2"] == "+48221234567"   # valid numbers stay
    assert first["Email 3"] == "c@x.pl"
    second = dict(zip(rows[0], rows[2]))
    assert second["Last name"] == "Żółć" and second["Organisation"] == "''quoted"
    assert second["Phone 1"] == "+4915112345678" and second["Email 1"] == ""


# -- custom fields ------------------------------------------------------------------------------------
def test_custom_fields_settings_admin_only_and_used_in_contact_form(admin, agent, database):
    assert agent.get("/settings/custom-fields").status_code == 403
    assert agent.post("/settings/custom-fields", data={"csrf_token": csrf(agent, "/contacts"),
                                                       "name": "X", "key": "x"}).status_code == 403
    token = csrf(admin, "/settings/custom-fields")
    r = admin.post("/settings/custom-fields", data={"csrf_token": token, "name": "ID number", "key": "id_number",
                                                    "kind": "short", "applies_to": "contact"})
    assert r.status_code == 302
    admin.post("/settings/custom-fields", data={"csrf_token": token, "name": "History", "key": "history",
                                                "kind": "long", "applies_to": "contact"})
    admin.post("/settings/custom-fields", data={"csrf_token": token, "name": "Ticket", "key": "ticket",
                                                "kind": "short", "applies_to": "task"})
    r = admin.post("/settings/custom-fields", data={"csrf_token": token, "name": "Again", "key": "id_number",
                                                    "kind": "short", "applies_to": "contact"})
    assert r.status_code == 422 and "A field with this key already exists." in r.get_data(as_text=True)
    r = admin.post("/settings/custom-fields", data={"csrf_token": token, "name": "Bad", "key": "Bad Key!",
                                                    "applies_to": "contact"})
    assert r.status_code == 422
    html = admin.get("/settings/custom-fields").get_data(as_text=True)
    assert "id_number" in html and "ticket" in html
    form = agent.get("/contacts/new").get_data(as_text=True)
    assert 'name="custom_id_number"' in form and "<textarea id=\"custom_history\"" in form
    assert "custom_ticket" not in form        # a task field is not on the contact form
    r = contact_form(agent, "/contacts/new", first_name="Jan", custom_id_number="ABC 123",
                     custom_history="line 1\nline 2")
    cid = int(re.search(r"/contacts/(\d+)", r.headers["Location"]).group(1))
    with database.session() as s:
        assert s.get(Contact, cid).custom == {"id_number": "ABC 123", "history": "line 1\nline 2"}
    assert "ABC 123" in agent.get(f"/contacts/{cid}").get_data(as_text=True)
    with database.session() as s:
        fid = s.scalar(select(CustomField.id).where(CustomField.key == "history"))
    r = admin.post(f"/settings/custom-fields/{fid}", data={"csrf_token": token, "name": "Past", "kind": "short"})
    assert r.status_code == 302
    r = admin.post(f"/settings/custom-fields/{fid}/delete", data={"csrf_token": token})
    assert r.status_code == 302
    with database.session() as s:
        assert [f.key for f in CF.fields(s)] == ["id_number", "ticket"]


def test_custom_field_key_rules(database):
    with database.session() as s:
        CF.create(s, "Ticket", "ticket", "short", "task")
        CF.create(s, "Ticket", "ticket", "short", "contact")   # the same key on the other kind of record
        for key, msg in (("first_name", "built-in"), ("9x", "lower-case"), ("ticket", "already")):
            with pytest.raises(CF.FieldError, match=msg):
                CF.create(s, "X", key, "short", "contact")
        with pytest.raises(CF.FieldError):
            CF.create(s, "X", "ok_key", "huge", "contact")
        assert CF.clean_values(s, {"ticket": " 12 "}, "task") == {"ticket": "12"}
        with pytest.raises(CF.FieldError):
            CF.clean_values(s, {"nope": "1"}, "task")


def test_search_index_follows_edits_deletes_and_imports(app, database, tmp_path):
    from centrala import contact_import as I

    cid = add(database, "Jan", "Kowalski", phones=["601 234 567"])
    with database.session() as s:
        c = s.get(Contact, cid)
        C.update(s, c, C.ContactData(first_name="Jan", last_name="Nowak", phones=[("500 600 700", "work")]))
    with database.session() as s:
        assert C.search(s, "kowalski")[1] == 0 and C.search(s, "nowak")[1] == 1
        assert C.search(s, "601 234 567")[1] == 0 and C.search(s, "500600700")[1] == 1
        C.delete_contact(s, s.get(Contact, cid))
    with database.session() as s:
        assert C.search(s, "nowak")[1] == 0
        imp = I.create_import(s, tmp_path, io.BytesIO("First name,Last name,Phone\r\nAla,Makota,+48 22 111 22 33\r\n"
                                                      .encode()), "a.csv", None)
        iid = imp.id
    assert I.claim(database, tmp_path, iid, "verify")
    I.verify(database, tmp_path, iid)
    assert I.claim(database, tmp_path, iid, "commit")
    I.commit(database, tmp_path, iid)
    with database.session() as s:
        assert C.search(s, "makota")[1] == 1 and C.search(s, "22 111 22 33")[1] == 1
        c = C.find_by_phone(s, "+48221112233")
        C.update(s, c, C.ContactData(first_name="Ala", last_name="Kotowska"))
    with database.session() as s:
        assert C.search(s, "makota")[1] == 0 and C.search(s, "kotowska")[1] == 1


def test_search_with_very_common_terms(app, database, monkeypatch):
    """More index matches than C.FTS_MATERIALISE: the search scans instead; same answers."""
    for i in range(5):
        add(database, f"Anna{i}", "Kowalska", emails=[f"a{i}@example.com"])
    add(database, "Jan", "Nowak", emails=["jan@other.org"])
    monkeypatch.setattr(C, "FTS_MATERIALISE", 2)
    with database.session() as s:
        rows, total = C.search(s, "example", per_page=2)
        assert total == 5 and [r.first_name for r in rows] == ["Anna0", "Anna1"]
        assert C.search(s, "kowalska anna3")[1] == 1
        assert C.search(s, "other.org")[1] == 1
