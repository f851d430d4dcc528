"""The default phone region (CON-4) set in Settings / General: names in the panel's language with
calling codes, validated against phonenumbers' regions, admin only, audited, announced to the
pbx controller, and used wherever a number without a country code is read."""
import io
import re

import pytest
from sqlalchemy import select

from agents import events
from centrala import account
from centrala import contacts as C
from centrala.models import AuditEntry, User
from centrala.models_contacts import Contact
from centrala.tokens import create_api_token
from tests.helpers import EventRecorder, wait_for

from .web_helpers import csrf

pytestmark = pytest.mark.db


def set_region(client, code):
    return client.post("/settings/general/region", data={"csrf_token": csrf(client, "/settings/general"),
                                                         "default_region": code})


def new_contact(client, last, phone):
    return client.post("/contacts/new", data={
        "csrf_token": csrf(client, "/contacts/new"), "first_name": "Jan", "last_name": last, "organisation": "",
        "address": "", "note": "", "email_0": "", "email_type_0": "work", "phone_0": phone,
        "phone_type_0": "mobile"})


def phones_of(database, last):
    with database.session() as s:
        c = s.scalar(select(Contact).where(Contact.last_name == last))
        return [p.number for p in c.phones]


def test_region_select_in_settings_general(admin, agent, database, web_settings):
    page = admin.get("/settings/general").get_data(as_text=True)
    # every region phonenumbers supports, by name, with its calling code; the server's default chosen
    options = re.findall(r'<option value="([A-Z]{2})"( selected)?>([^<]+)</option>',
                         page.split('id="default_region"')[1].split("</select>")[0])
    import phonenumbers

    assert {code for code, _, _ in options} == set(phonenumbers.SUPPORTED_REGIONS)
    assert ("PL", " selected", "Poland (+48)") in options and ("DE", "", "Germany (+49)") in options
    assert "Default of the server: Poland (+48)." in page
    # in Polish the names are Polish, sorted by name (Łotwa between Litwa and Luksemburg, not after Z)
    admin.post("/language", data={"csrf_token": csrf(admin, "/settings/general"), "lang": "pl"})
    page = admin.get("/settings/general").get_data(as_text=True)
    names = re.findall(r'<option value="[A-Z]{2}"(?: selected)?>([^<]+)</option>',
                       page.split('id="default_region"')[1].split("</select>")[0])
    assert "Niemcy (+49)" in names and "Polska (+48)" in names
    assert names.index("Litwa (+370)") < names.index("Łotwa (+371)") < names.index("Luksemburg (+352)")
    # agents may not see or change it
    assert agent.get("/settings/general").status_code == 403
    assert agent.post("/settings/general/region", data={"csrf_token": csrf(agent, "/contacts"),
                                                        "default_region": "DE"}).status_code == 403
    assert account.default_region(database.sessions(), web_settings) == "PL"


def test_only_supported_regions_are_accepted(admin, database, web_settings):
    for bad in ("XX", "", "001", "pl<script>", "POL"):
        r = set_region(admin, bad)
        assert r.status_code == 302
        assert "Choose a country from the list." in admin.get("/settings/general").get_data(as_text=True)
    with database.session() as s:
        assert account.default_region(s, web_settings) == "PL"
        assert account.saved(s).get("default_region") is None
    # lower case is fine
    set_region(admin, "de")
    with database.session() as s:
        assert account.default_region(s, web_settings) == "DE"
    with pytest.raises(account.SettingError):
        account.validate("default_region", "ZZ")


def test_contact_with_a_national_number_after_switching_to_germany_gets_49(app, admin, agent, database,
                                                                            web_settings):
    recorder = EventRecorder(app.extensions["centrala.bus"])
    new_contact(agent, "Polak", "601 234 567")
    assert phones_of(database, "Polak") == ["+48601234567"]
    r = set_region(admin, "DE")
    assert r.status_code == 302 and r.headers["Location"].endswith("/settings/general#region")
    assert ("Saved. Numbers without a country code are now read as numbers of: Germany (+49)."
            in admin.get("/settings/general").get_data(as_text=True))
    # the pbx controller hears of it (it forgets its cached routing facts on this event)
    recorder.wait(events.SETTINGS_CHANGED, 1, area="general", keys=["default_region"])
    with database.session() as s:
        entry = s.scalar(select(AuditEntry).where(AuditEntry.action == "settings.changed",
                                                  AuditEntry.target == "general"))
        assert entry.details == {"default_region": "DE"} and entry.actor_email == "boss@example.com"
    assert 'value="DE" selected' in admin.get("/settings/general").get_data(as_text=True)
    # the very next form, no restart: a Berlin number typed nationally
    assert new_contact(agent, "Berliner", "030 901820").status_code == 302
    assert phones_of(database, "Berliner") == ["+4930901820"]
    # what already had a country code keeps it; a Polish number needs +48 now
    assert phones_of(database, "Polak") == ["+48601234567"]
    assert new_contact(agent, "Nowak", "+48 22 123 45 67").status_code == 302
    assert phones_of(database, "Nowak") == ["+48221234567"]
    # the REST API reads it too
    with database.session() as s:
        token = create_api_token(s, s.scalar(select(User).where(User.email == "agent@example.com")), "t")
    r = app.test_client().post("/api/v1/contacts", json={"last_name": "Api", "phones": ["0151 12345678"]},
                               headers={"Authorization": f"Bearer {token}"})
    assert r.status_code == 201 and r.json["phones"][0]["number"] == "+4915112345678"
    # and so does matching a caller to a contact (the call card, VOI-2)
    with database.session() as s:
        assert C.find_by_phone(s, "030901820", account.default_region(s, web_settings)).last_name == "Berliner"
    # back to Poland: national numbers are Polish again
    set_region(admin, "PL")
    new_contact(agent, "Kowalski", "601 234 568")
    assert phones_of(database, "Kowalski") == ["+48601234568"]


def test_import_reads_national_numbers_in_the_region(app, admin, agent, database, web_settings):
    set_region(admin, "DE")
    token = csrf(agent, "/contacts/imports/new")
    data = "First name,Last name,Phone\r\nHans,Müller,030 901820\r\nAnna,Nowak,+48 601 234 567\r\n".encode()
    r = agent.post("/contacts/imports", data={"csrf_token": token, "file": (io.BytesIO(data), "de.csv")},
                   content_type="multipart/form-data")
    iid = int(re.search(r"/imports/(\d+)/", r.headers["Location"]).group(1))
    r = agent.post(f"/contacts/imports/{iid}/configure", data={
        "csrf_token": token, "has_header": "1", "field_0": "first_name", "field_1": "last_name",
        "field_2": "phone", "slot_2": "1", "action": "verify"})
    assert r.status_code == 302
    wait_for(lambda: agent.get(f"/contacts/imports/{iid}.json").json["status"] == "verified", 20, what="verified")
    assert agent.get(f"/contacts/imports/{iid}.json").json["error_count"] == 0
    agent.post(f"/contacts/imports/{iid}/import", data={"csrf_token": token})
    wait_for(lambda: agent.get(f"/contacts/imports/{iid}.json").json["status"] == "done", 20, what="done")
    assert phones_of(database, "Müller") == ["+4930901820"]
    assert phones_of(database, "Nowak") == ["+48601234567"]


def test_click_to_call_and_numbers_follow_the_region(app, admin, make_user, database, web_settings):
    from centrala import telephony
    from web.calls.services import request_call

    with database.session() as s:
        t = telephony.create_trunk(s, "carrier", "192.0.2.40", 5060)
        telephony.create_number(s, "+4930901820", t)
    set_region(admin, "DE")
    # Settings / Voice / Numbers takes a national number in the region
    with database.session() as s:
        n = telephony.create_number(s, "030 901821", s.scalar(select(telephony.Trunk)),
                                    region=account.default_region(s, web_settings))
        assert n.number == "+4930901821"
    uid = make_user("caller@example.com", channels=("voice_out",))
    with database.session() as s:
        u = s.get(User, uid)
        u.sip_username = "agentx"
        row = request_call(s, app.extensions["centrala.bus"], web_settings, u, "0151 12345678",
                           from_number="030 901820")
        assert (row.remote, row.our_number) == ("+4915112345678", "+4930901820")
    # the controller's routing facts carry the region
    policy = telephony.inbound_policy(database, web_settings)
    assert policy.region == "DE"
    assert telephony.decide_number(policy, "030901820").accepted is True
