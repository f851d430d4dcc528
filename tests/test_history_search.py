"""History search and filters (HIS-2): in the panel and in the REST API."""
from datetime import datetime, timezone

import pytest

from centrala.models import Communication, User
from centrala.tokens import create_api_token

from .web_helpers import csrf, login

pytestmark = pytest.mark.db


def at(day: str, hour: int) -> datetime:
    return datetime.fromisoformat(f"{day}T{hour:02d}:00:00+00:00").astimezone(timezone.utc)


@pytest.fixture
def history(app, make_user, database):
    """Ann, Bob, the contact Jan Kowalski (+48 600 100 200) and seven communications."""
    from centrala.contacts import ContactData, create
    from centrala.models_chat import ChatMessage

    ann, bob = make_user("ann@example.com", name="Ann Agent"), make_user("bob@example.com", name="Bob Agent")
    with database.session() as s:
        jan = create(s, ContactData(first_name="Jan", last_name="Kowalski", organisation="Okna Sp. z o.o.",
                                    phones=[("600 100 200", "mobile")], emails=[("jan@okna.pl", "work")]))
        rows = {
            # the carrier sent Jan's number without '+': still his
            "jan_call": Communication(channel="voice", direction="inbound", outcome="answered", remote="48600100200",
                                      agent_id=ann, agents_rung=[ann], note="", started_at=at("2026-11-02", 9)),
            "jan_missed": Communication(channel="voice", direction="inbound", outcome="missed",
                                        remote="+48600100200", agents_rung=[bob], note="",
                                        started_at=at("2026-11-20", 10)),
            "invoice": Communication(channel="voice", direction="outbound", outcome="answered", remote="+48500999888",
                                     agent_id=bob, agents_rung=[bob], note="Asked about invoice 100%_paid",
                                     started_at=at("2026-11-21", 12)),
            "chat": Communication(channel="chat", direction="inbound", outcome="answered", remote="Ewa",
                                  agent_id=ann, agents_rung=[ann], note="", started_at=at("2026-11-22", 8)),
            # stored as the pbx controller stores a voicemail: a voice call whose outcome is voicemail
            "voicemail": Communication(channel="voice", direction="inbound", outcome="voicemail",
                                       remote="+48700111222", agents_rung=[], note="", started_at=at("2026-11-23", 22)),
            # the chat's contact form while nobody was Online (CHT-6)
            "offline": Communication(channel="chat", direction="inbound", outcome="offline_form",
                                     remote="Ola <ola@example.com>", agents_rung=[], note="",
                                     started_at=at("2026-11-24", 7), ended_at=at("2026-11-24", 7)),
            # 23:30 UTC on the 29th is already the 30th in Warsaw (UTC+1)
            "late": Communication(channel="voice", direction="inbound", outcome="missed", remote="+48700111333",
                                  agents_rung=[], note="", started_at=at("2026-11-29", 23) .replace(minute=30)),
        }
        s.add_all(rows.values())
        s.flush()
        s.add(ChatMessage(communication_id=rows["chat"].id, sender="visitor", body="Where is my parcel?"))
        ids = {k: v.id for k, v in rows.items()}
        token = create_api_token(s, s.get(User, ann), "test")
        jan_id = jan.id
    return {"ids": ids, "ann": ann, "bob": bob, "jan": jan_id, "token": token}


def listed(client, query: str) -> set[int]:
    html = client.get("/history" + query).get_data(as_text=True)
    import re
    return {int(i) for i in re.findall(r'<tr data-id="(\d+)"', html)}


def names(ids, history) -> set[str]:
    back = {v: k for k, v in history["ids"].items()}
    return {back[i] for i in ids}


def test_search_finds_numbers_contacts_notes_and_chat_text(app, history):
    c = app.test_client()
    login(c, "ann@example.com")
    assert names(listed(c, ""), history) == set(history["ids"])
    # a contact's name finds their calls whatever form the carrier sent the number in
    assert names(listed(c, "?q=Kowalski"), history) == {"jan_call", "jan_missed"}
    assert names(listed(c, "?q=okna"), history) == {"jan_call", "jan_missed"}   # organisation
    # a number typed as people type it
    assert names(listed(c, "?q=600+100+200"), history) == {"jan_call", "jan_missed"}
    assert names(listed(c, "?q=%2B48+700+111"), history) == {"voicemail", "late"}
    # the note and a chat's messages; LIKE wildcards are plain characters
    assert names(listed(c, "?q=invoice"), history) == {"invoice"}
    assert names(listed(c, "?q=100%25_paid"), history) == {"invoice"}
    assert names(listed(c, "?q=0%25_"), history) == {"invoice"}
    assert names(listed(c, "?q=PARCEL"), history) == {"chat"}
    html = c.get("/history?q=nothing-like-this").get_data(as_text=True)
    assert "Nothing matches these filters" in html and "Clear filters" in html


def test_filters_combine_and_the_pager_keeps_them(app, history, database):
    c = app.test_client()
    login(c, "ann@example.com")
    ann, bob = history["ann"], history["bob"]
    assert names(listed(c, "?channel=chat"), history) == {"chat", "offline"}
    # History's Voicemail type finds a real voicemail (a voice call that ended in a message)
    assert names(listed(c, "?channel=voicemail"), history) == {"voicemail"}
    assert names(listed(c, "?channel=voice&direction=inbound&outcome=missed"), history) == {"jan_missed", "late"}
    # the offline form's outcome is one the filter knows (its chip too)
    assert names(listed(c, "?outcome=offline_form"), history) == {"offline"}
    assert 'href="/history?outcome=offline_form"' in c.get("/history").get_data(as_text=True)
    assert names(listed(c, "?direction=outbound"), history) == {"invoice"}
    assert names(listed(c, f"?agent={ann}"), history) == {"jan_call", "chat"}
    assert names(listed(c, f"?agent={bob}&channel=voice"), history) == {"invoice"}
    assert names(listed(c, f"?contact={history['jan']}"), history) == {"jan_call", "jan_missed"}
    assert names(listed(c, f"?contact={history['jan']}&outcome=missed"), history) == {"jan_missed"}
    # whole days in the account's time zone (Europe/Warsaw), both ends included
    assert names(listed(c, "?from=2026-11-20&to=2026-11-22"), history) == {"jan_missed", "invoice", "chat"}
    assert names(listed(c, "?from=2026-11-30"), history) == {"late"}
    assert names(listed(c, "?to=2026-11-29"), history) == set(history["ids"]) - {"late"}
    # an outcome chip keeps the other filters, the contact chip can be removed
    html = c.get(f"/history?contact={history['jan']}&q=jan").get_data(as_text=True)
    assert f'href="/history?outcome=missed&amp;q=jan&amp;contact={history["jan"]}"' in html \
        or f'href="/history?outcome=missed&amp;contact={history["jan"]}&amp;q=jan"' in html
    assert "Contact: Jan Kowalski" in html
    with database.session() as s:
        s.add_all([Communication(channel="voice", direction="inbound", outcome="missed", remote=f"+4860010{i:04d}",
                                 agents_rung=[], note="", started_at=at("2026-11-10", 12)) for i in range(30)])
    html = c.get("/history?q=4860010&channel=voice&from=2026-11-01").get_data(as_text=True)
    assert "Page 1 of 2" in html
    assert "page=2" in html and "q=4860010" in html and "channel=voice" in html and "from=2026-11-01" in html


def test_bad_filters_are_explained_and_ignored(app, history):
    c = app.test_client()
    login(c, "ann@example.com")
    r = c.get("/history?from=30.11.2026&to=2026-11-01")
    html = r.get_data(as_text=True)
    assert r.status_code == 200 and "Enter a date as YYYY-MM-DD." in html
    assert names(listed(c, "?from=2026-11-25&to=2026-11-01"), history) == {"late"}   # the end: ignored
    html = c.get("/history?from=2026-11-25&to=2026-11-01").get_data(as_text=True)
    assert "The end date is before the start date." in html
    assert "Search for at most 100 characters." in c.get("/history?q=" + "x" * 101).get_data(as_text=True)
    assert "Choose from the list." in c.get("/history?channel=fax").get_data(as_text=True)
    assert c.post("/language", data={"lang": "pl", "csrf_token": csrf(c, "/history")}).status_code == 302
    html = c.get("/history?from=jutro").get_data(as_text=True)
    assert "Wpisz datę w formacie RRRR-MM-DD." in html


def test_contact_page_links_to_their_history(app, history):
    c = app.test_client()
    login(c, "ann@example.com")
    html = c.get(f"/contacts/{history['jan']}").get_data(as_text=True)
    assert f'href="/history?contact={history["jan"]}"' in html


def test_api_searches_and_filters(app, history):
    c = app.test_client()
    h = {"Authorization": f"Bearer {history['token']}"}

    def ids(query):
        r = c.get("/api/v1/communications" + query, headers=h)
        assert r.status_code == 200, r.json
        return names({i["id"] for i in r.json["items"]}, history)

    assert ids("?q=kowalski") == {"jan_call", "jan_missed"}
    assert ids(f"?contact_id={history['jan']}&direction=inbound&outcome=answered") == {"jan_call"}
    assert ids(f"?agent_id={history['bob']}") == {"invoice"}
    assert ids("?from=2026-11-23&to=2026-11-23") == {"voicemail"}
    assert ids("?channel=voicemail") == {"voicemail"} and ids("?outcome=offline_form") == {"offline"}
    assert ids("?channel=chat&outcome=offline_form") == {"offline"}
    r = c.get("/api/v1/communications?channel=voicemail", headers=h).json["items"][0]
    assert (r["channel"], r["type"], r["outcome"]) == ("voice", "voicemail", "voicemail")
    for query, message in (("?from=yesterday", "from must be a date (YYYY-MM-DD)."),
                           ("?from=2026-11-02&to=2026-11-01", "to must not be before from."),
                           ("?agent_id=ann", "agent_id must be an integer."),
                           ("?channel=fax", "channel must be one of: voice, voicemail, chat, email")):
        r = c.get("/api/v1/communications" + query, headers=h)
        assert r.status_code == 400 and r.json["error"]["message"] == message, (query, r.json)


def test_detail_names_the_contact_or_offers_to_add_one(app, history):
    c = app.test_client()
    login(c, "ann@example.com")
    html = c.get(f"/history/{history['ids']['jan_call']}").get_data(as_text=True)
    assert f'<a href="/contacts/{history["jan"]}">Jan Kowalski</a>' in html
    html = c.get(f"/history/{history['ids']['voicemail']}").get_data(as_text=True)
    assert 'href="/contacts/new?phone=%2B48700111222">Add to contacts</a>' in html
