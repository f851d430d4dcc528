"""The contact side panel's endpoints (COM-4): match by phone or email, quick create, add a note."""
from datetime import datetime, timedelta, timezone

import pytest
from sqlalchemy import select

from centrala import contacts as C
from centrala.models import Communication, User
from centrala.models_contacts import Contact, CustomField
from centrala.models_tasks import Task

from .web_helpers import csrf, login

pytestmark = pytest.mark.db


def jan(database, **kw):
    with database.session() as s:
        s.add(CustomField(key="vip", name="VIP level", kind="short", applies_to="contact"))
        s.flush()
        c = C.create(s, C.ContactData(first_name="Jan", last_name="Kowalski", organisation="ACME",
                                      emails=[("jan@acme.pl", "work")], phones=[("601 234 567", "mobile")],
                                      note="Prefers mornings", custom={"vip": "gold"}, **kw))
        return c.id


def token(client):
    return {"X-CSRFToken": csrf(client, "/")}


def test_match_by_any_phone_form_with_communications_and_open_tasks(agent, database):
    cid = jan(database)
    now = datetime.now(timezone.utc)
    with database.session() as s:
        for i in range(7):   # the carrier's forms of the number; the panel shows the last 5
            s.add(Communication(channel="voice", direction="inbound", outcome="answered",
                                remote=("48601234567", "+48601234567", "601234567")[i % 3],
                                started_at=now - timedelta(hours=i)))
        s.add(Communication(channel="voice", direction="inbound", outcome="missed", remote="+48500000000",
                            started_at=now))                         # someone else's call
        s.add(Task(title="Send the offer", contact_id=cid, status="new", due_at=now - timedelta(days=1)))
        s.add(Task(title="Old call back", contact_id=cid, status="done"))
    for form in ("601234567", "601 234 567", "+48 601 234 567", "+48601234567", "0048601234567", "48601234567"):
        r = agent.get("/contacts/match", query_string={"phone": form})
        assert r.status_code == 200
        c = r.get_json()["contact"]
        assert c and c["id"] == cid, form
    assert c["name"] == "Jan Kowalski" and c["organisation"] == "ACME" and c["note"] == "Prefers mornings"
    assert c["phones"] == [{"number": "+48 601 234 567", "e164": "+48601234567", "type": "Mobile"}]
    assert c["emails"] == [{"email": "jan@acme.pl", "type": "Work"}]
    assert c["custom"] == [{"name": "VIP level", "value": "gold"}]
    assert len(c["communications"]) == 5 and all(m["outcome"] == "answered" for m in c["communications"])
    assert c["communications"][0]["channel"] == "Inbound call"
    assert [t["title"] for t in c["tasks"]] == ["Send the offer"] and c["tasks"][0]["overdue"] is True
    assert c["edit_url"] == f"/contacts/{cid}/edit"


def test_match_by_email_and_no_match(agent, database):
    cid = jan(database)
    assert agent.get("/contacts/match?email=JAN@acme.pl").get_json()["contact"]["id"] == cid
    for qs in ("email=nobody@acme.pl", "phone=500600700", "phone=abc", ""):
        r = agent.get("/contacts/match?" + qs)
        assert r.status_code == 200 and r.get_json() == {"contact": None}, qs


def test_logged_out_is_refused(app, database):
    cid = jan(database)
    c = app.test_client()
    assert c.get("/contacts/match?phone=601234567").status_code == 302
    assert c.post("/contacts/quick", json={"first_name": "X"}).status_code in (302, 400)
    assert c.post(f"/contacts/{cid}/note-line", json={"text": "x"}).status_code in (302, 400)
    with database.session() as s:
        assert s.scalar(select(Contact).where(Contact.first_name == "X")) is None
        assert s.get(Contact, cid).note == "Prefers mornings"


def test_writes_need_the_csrf_token(agent, database):
    cid = jan(database)
    assert agent.post("/contacts/quick", json={"first_name": "Anna"}).status_code == 400
    assert agent.post(f"/contacts/{cid}/note-line", json={"text": "hello"}).status_code == 400
    with database.session() as s:
        assert s.scalar(select(Contact).where(Contact.first_name == "Anna")) is None
        assert s.get(Contact, cid).note == "Prefers mornings"


def test_quick_create_prefilled_from_a_call(agent, database):
    h = token(agent)
    r = agent.post("/contacts/quick", headers=h, json={"first_name": " Anna ", "last_name": "Nowak", "organisation": "",
                                                       "phone": "+48 500 999 888", "email": "Anna@Example.com"})
    assert r.status_code == 201
    c = r.get_json()["contact"]
    assert c["name"] == "Anna Nowak" and c["phones"][0]["e164"] == "+48500999888"
    assert c["emails"][0]["email"] == "anna@example.com" and c["communications"] == [] and c["tasks"] == []
    with database.session() as s:
        row = s.get(Contact, c["id"])
        assert row.created_by == s.scalar(select(User.id).where(User.email == "agent@example.com"))
    assert agent.get("/contacts/match?phone=500999888").get_json()["contact"]["id"] == c["id"]


@pytest.mark.parametrize("lang, name_msg, email_msg, phone_msg", [
    ("en", "Enter a first name, a last name or an organisation.", "Enter a valid email address.",
     "This number lost its leading +."),
    ("pl", "Wpisz imię, nazwisko lub organizację.", "Podaj poprawny adres email.", "Ten numer utracił znak + na początku."),
])
def test_quick_create_errors_in_the_agents_language(app, make_user, database, lang, name_msg, email_msg, phone_msg):
    uid = make_user("agent@example.com")
    with database.session() as s:
        s.get(User, uid).language = lang
    client = app.test_client()
    assert login(client, "agent@example.com").status_code == 302
    r = client.post("/contacts/quick", headers=token(client),
                    json={"first_name": "", "last_name": "", "phone": "4915112345678", "email": "not-an-email"})
    assert r.status_code == 422
    errors = r.get_json()["errors"]
    assert set(errors) == {"first_name", "email", "phone"}
    assert errors["first_name"] == name_msg and errors["email"] == email_msg
    assert errors["phone"].startswith(phone_msg)
    r = client.post("/contacts/quick", headers=token(client), json={"organisation": "x" * 301})
    assert r.status_code == 422 and set(r.get_json()["errors"]) == {"organisation"}
    assert client.post("/contacts/quick", headers=token(client), data="[1]",
                       content_type="application/json").status_code == 400
    with database.session() as s:
        assert s.scalar(select(Contact)) is None


def test_add_a_dated_note_line(agent, database):
    cid = jan(database)
    h = token(agent)
    r = agent.post(f"/contacts/{cid}/note-line", headers=h, json={"text": "  Wants a call\nback on Friday "})
    assert r.status_code == 200
    note = r.get_json()["note"]
    first, second = note.split("\n")
    assert first == "Prefers mornings"
    assert second.endswith(" Adam Agent: Wants a call back on Friday")
    datetime.strptime(second[:16], "%Y-%m-%d %H:%M")
    with database.session() as s:
        assert s.get(Contact, cid).note == note
    # empty, too long, or a note that would pass its 10,000 characters: refused, nothing lost
    r = agent.post(f"/contacts/{cid}/note-line", headers=h, json={"text": "   "})
    assert r.status_code == 422 and r.get_json()["error"] == "Write the note first."
    r = agent.post(f"/contacts/{cid}/note-line", headers=h, json={"text": "x" * 1001})
    assert r.status_code == 422 and "1000" in r.get_json()["error"]
    with database.session() as s:
        s.get(Contact, cid).note = "y" * 9990
    r = agent.post(f"/contacts/{cid}/note-line", headers=h, json={"text": "one more"})
    assert r.status_code == 422 and "full" in r.get_json()["error"]
    with database.session() as s:
        assert s.get(Contact, cid).note == "y" * 9990
    assert agent.post("/contacts/99999/note-line", headers=h, json={"text": "x"}).status_code == 404
