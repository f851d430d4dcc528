"""Authorization matrix generated from the URL map (issue 12): every route × every method is sent
as anonymous, as an agent on another agent's object, as that object's owner (an agent) and as an
administrator, and each answer is compared with the rule written once per route in ``RULES``.

A route missing from ``RULES`` fails the test: a new route must say who may use it.

Rules: ``public`` (anyone), ``login`` (any signed-in user, another agent's object included),
``owner`` (signed-in; another agent's object only for its owner or an administrator), ``self``
(the owner only, not even an administrator), ``admin``, ``visitor`` (a website visitor's own
chat token, which no one here holds); ``open``: signing in and out, and health
(anyone, any answer; 503 is health's "not ready").
A ``:kind`` names the object an ``<int:…>`` of the route refers to (default: guessed from the
parameter's name, see ``KIND_OF_PARAM``).

"Refused" is 401/403, the panel's redirect to the login page, or 404 for another agent's object
(hidden); "allowed" is any other answer below 500.  A 5xx fails whoever gets it.

Every non-GET request runs against its own copy of the seeded database, so what one request
changes or deletes does not decide another's answer.  SQLite only (SQLite's backup API copies).
"""
from __future__ import annotations

import io
import os
import re
import sqlite3

import pytest

from centrala.db import Database
from centrala.models import Communication, Number, Trunk, User
from centrala.tokens import create_api_token

from .web_helpers import csrf, login

pytestmark = [pytest.mark.authz,
              pytest.mark.skipif(bool(os.environ.get("CENTRALA_TEST_DATABASE_URL")),
                                 reason="copies the seeded database with SQLite's backup API")]

RULES = {
    # -- public ------------------------------------------------------------------------------
    "static": "public", "health.healthz": "open", "auth.login": "open", "auth.logout": "open",
    "auth.forgot_password": "public", "auth.set_password": "public", "api.openapi": "public",
    "auth.legacy_password_link": "public", "auth.logout_everywhere": "open",
    "panel.set_language": "public",
    "chat.loader": "public", "chat.frame": "public", "chat.logo": "public", "chat.avatar": "public:user",
    "chat.attachment": "public", "chat.visitor_upload": "visitor",
    # -- any signed-in user ------------------------------------------------------------------
    "panel.dashboard": "login", "panel.placeholder": "login",
    "panel.set_status": "login", "profile.profile": "login", "profile.upload_avatar": "login",
    "profile.avatar": "login:user",
    "calls.place_call": "login", "calls.transfer_targets": "login", "calls.call_action": "owner:comm",
    "chat.index": "login", "chat.view": "owner:chat", "chat.agent_upload": "self:chat",
    "history.index": "login", "history.detail": "login:comm", "history.note": "owner:comm",
    "history.recording": "login:comm",
    "contacts.index": "login", "contacts.view": "login", "contacts.delete": "login", "contacts.edit": "login",
    "contacts.save": "login", "contacts.add_note_line": "login", "contacts.export": "login",
    "contacts.imports": "login", "contacts.upload": "login", "contacts.upload_page": "login",
    "contacts.match": "login", "contacts.new": "login", "contacts.create": "login",
    "contacts.quick_create": "login", "contacts.import_status": "login:import",
    "contacts.configure": "owner:import", "contacts.save_mapping": "owner:import",
    "contacts.delete_import": "owner:import", "contacts.original": "owner:import",
    "contacts.run_import": "owner:import", "contacts.report": "owner:import",
    "files.index": "login", "files.picker": "login", "files.upload": "login", "files.new_folder": "login",
    "files.download": "login", "files.open_file": "login", "files.delete": "owner",
    "files.move_file": "owner", "files.rename_file": "owner", "files.delete_folder": "owner",
    "files.move_folder": "owner", "files.rename_folder": "owner",
    "tasks.index": "login", "tasks.detail": "login", "tasks.contact_options": "login", "tasks.create": "login",
    "tasks.edit": "owner", "tasks.set_status": "owner", "tasks.delete": "owner",
    "supervisor.queue": "admin", "supervisor.queue_json": "admin",
    # -- Settings: administrators -------------------------------------------------------------
    "settings.index": "admin", "settings.audit_log": "admin", "settings.save_region": "admin",
    "settings.users": "admin", "settings.edit_user": "admin:user", "settings.deactivate_user": "admin:user",
    "settings.resend_invitation": "admin:user", "settings.reactivate_user": "admin:user",
    "settings.new_user": "admin",
    "chat.chat_settings": "admin", "chat.delete_template": "admin", "chat.general": "admin",
    "chat.upload_logo": "admin", "chat.delete_logo": "admin", "chat.triggers": "admin",
    "contacts.custom_fields": "admin", "contacts.add_custom_field": "admin",
    "contacts.save_custom_field": "admin", "contacts.delete_custom_field": "admin",
    "voice.index": "admin", "voice.general": "admin", "voice.numbers": "admin", "voice.edit_number": "admin",
    "voice.delete_number": "admin", "voice.new_number": "admin", "voice.prompts": "admin",
    "voice.set_mode": "admin", "voice.upload": "admin", "voice.preview": "admin", "voice.delete": "admin",
    "voice.original": "admin", "voice.trunks": "admin", "voice.edit_trunk": "admin",
    "voice.delete_trunk": "admin", "voice.new_trunk": "admin", "voice.trunk_registrations": "admin",
    "voice.channel_users": "admin",
    "webhooks.index": "admin", "webhooks.view": "admin", "webhooks.toggle": "admin", "webhooks.delete": "admin",
    "webhooks.edit": "admin", "webhooks.regenerate": "admin", "webhooks.test": "admin", "webhooks.new": "admin",
    # -- REST API (bearer tokens) ---------------------------------------------------------------
    "api.me": "login", "api.my_status": "login", "api.list_users": "admin", "api.add_user": "admin",
    "api.get_user": "admin:user", "api.update_user": "admin:user", "api.place_call": "login",
    "api.communications": "login", "api.update_communication": "owner:comm", "api.hangup": "owner:comm",
    "api.hold": "owner:comm", "api.transfer": "owner:comm", "api.transfer_step": "owner:comm",
    "api.communication_recording": "login:comm",
    "chat_api.embed": "admin",
    "conversations_api.messages": "owner:comm", "conversations_api.reply": "owner:comm",
    "contacts_api.list_contacts": "login", "contacts_api.create_contact": "login",
    "contacts_api.get_contact": "login", "contacts_api.put_contact": "login",
    "contacts_api.delete_contact": "login", "contacts_api.contact_communications": "login",
    "contacts_api.export_contacts": "login", "contacts_api.list_imports": "login",
    "contacts_api.create_import": "login", "contacts_api.get_import": "login:import",
    "contacts_api.delete_import": "owner:import", "contacts_api.commit_import": "owner:import",
    "contacts_api.put_mapping": "owner:import", "contacts_api.verify_import": "owner:import",
    "contacts_api.list_fields": "login", "contacts_api.create_field": "admin", "contacts_api.patch_field": "admin",
    "contacts_api.delete_field": "admin",
    "files_api.list_files": "login", "files_api.upload": "login", "files_api.get_file": "login",
    "files_api.change_file": "owner", "files_api.delete_file": "owner", "files_api.content": "login",
    "files_api.usage": "login", "files_api.create_folder": "login", "files_api.change_folder": "owner",
    "files_api.delete_folder": "owner",
    "tasks_api.list_tasks": "login", "tasks_api.create_task": "login", "tasks_api.get_task": "login",
    "tasks_api.update_task": "owner", "tasks_api.delete_task": "owner",
    "voice_api.list_numbers": "admin", "voice_api.add_number": "admin", "voice_api.get_number": "admin",
    "voice_api.update_number": "admin", "voice_api.delete_number": "admin", "voice_api.list_trunks": "admin",
    "voice_api.add_trunk": "admin", "voice_api.get_trunk": "admin", "voice_api.update_trunk": "admin",
    "voice_api.delete_trunk": "admin",
    # -- email settings (issue 13): administrators; an agent's own personal mailbox on My profile --
    "email_settings.index": "admin", "email_settings.states": "admin", "email_settings.new_mailbox": "admin",
    "email_settings.edit_mailbox": "admin", "email_settings.toggle_mailbox": "admin",
    "email_settings.delete_mailbox": "admin", "email_settings.test": "admin", "email_settings.add_template": "admin",
    "email_settings.edit_template": "admin:email_template", "email_settings.delete_template": "admin:email_template",
    "email_settings.oauth_start": "admin", "email_settings.oauth_callback": "login",
    "profile_mailbox.mailbox": "login", "profile_mailbox.test": "login", "profile_mailbox.delete": "login",
    "profile_mailbox.oauth_start": "login",
    "mailboxes_api.list_mailboxes": "admin", "mailboxes_api.add_mailbox": "admin",
    "mailboxes_api.get_mailbox": "admin", "mailboxes_api.update_mailbox": "admin",
    "mailboxes_api.delete_mailbox": "admin", "mailboxes_api.test_mailbox": "admin",
    # -- email (issue 13): an email conversation is seen by its agent (or its mailbox's agents) --
    "emails.view": "owner:email", "emails.state": "owner:email", "emails.accept": "owner:email",
    "emails.reply": "owner:email", "emails.close": "owner:email", "emails.body": "owner:email_msg",
    "emails.retry": "owner:email_msg", "emails.attachment": "owner:email_att",
    "emails.new": "login", "emails.send_new": "login", "emails.contacts": "login", "emails.files": "login",
    "emails_api.start": "login",
}

# Known and open elsewhere: the rule above is the intended one; the answer today differs.
# Remove an entry when its fix lands (the test fails while an entry is no longer needed).
KNOWN_OPEN: set = set()   # none today (issue 12's import owner rule landed)

KIND_OF_PARAM = {"task_id": "task", "file_id": "file", "folder_id": "folder", "comm_id": "comm",
                 "chat_id": "chat", "contact_id": "contact", "import_id": "import", "user_id": "user",
                 "field_id": "field", "number_id": "number", "trunk_id": "trunk", "webhook_id": "webhook",
                 "tid": "template", "mailbox_id": "mailbox"}
# the voice prompts' files are PromptFiles, not Files
KIND_OF_ENDPOINT = {"voice.preview": "prompt", "voice.delete": "prompt", "voice.original": "prompt"}


def _seed(app, database, make_user) -> dict:
    """The users, and one object of every kind; the agents' objects belong to Ewa."""
    from centrala import contact_import
    from centrala import files as store
    from centrala.models_chat import ChatConversation, ChatTemplate, ChatVisitor
    from centrala.models_contacts import Contact, CustomField
    from centrala.models_email import EmailTemplate, Mailbox
    from centrala.models_files import Folder
    from centrala.models_tasks import Task
    from centrala.models_webhooks import Webhook
    from web.files import services as file_services

    ids = {"admin": make_user("boss@example.com", role="admin"), "agent": make_user("agent@example.com"),
           "owner": make_user("ewa@example.com")}
    ewa = ids["owner"]
    settings = app.extensions["centrala.settings"]
    with database.session() as s:
        tokens = {role: create_api_token(s, s.get(User, uid), "authz") for role, uid in ids.items()}
        objects = {"user": ewa}
        t = Task(title="Ewa's", created_by=ewa, assignee_id=ewa)
        folder = Folder(name="Ewa's", created_by=ewa)
        call = Communication(channel="voice", direction="inbound", outcome="in_progress", remote="+48221234567",
                             agent_id=ewa)
        chat = Communication(channel="chat", direction="inbound", outcome="in_progress", remote="visitor",
                             agent_id=ewa)
        visitor = ChatVisitor(token_hash="x" * 64)
        contact = Contact(first_name="Jan", last_name="Nowak")
        field = CustomField(key="ref", name="Ref")
        trunk = Trunk(name="carrier", host="127.0.0.2", port=5060, enabled=True)
        hook = Webhook(url="https://example.com/hook", events=[], secret="s", created_by=ids["admin"])
        template = ChatTemplate(title="Hi", body="Hello")
        mailbox = Mailbox(kind="personal", label="Ewa's", address="ewa@example.com", username="ewa@example.com",
                          imap_host="127.0.0.1", imap_port=1, smtp_host="127.0.0.1", smtp_port=1, user_id=ewa)
        email_template = EmailTemplate(title="Hi", body="<p>Hello</p>")
        s.add_all([t, folder, call, chat, visitor, contact, field, trunk, hook, template, mailbox, email_template])
        s.flush()
        s.add(ChatConversation(communication_id=chat.id, visitor_id=visitor.id))
        number = Number(number="+48221234567", trunk_id=trunk.id, kind="gsm", label="Main", enabled=True)
        s.add(number)
        with app.app_context():
            f = store.store(s, settings.files_dir, io.BytesIO(b"hello"), "ewa.txt", None, ewa,
                            file_services.limits())
        imp = contact_import.create_import(s, settings.data_dir, io.BytesIO(b"first,last\nA,B\n"), "ewa.csv", ewa)
        s.flush()
        objects.update(task=t.id, folder=folder.id, comm=call.id, chat=chat.id, contact=contact.id,
                       field=field.id, trunk=trunk.id, webhook=hook.id, template=template.id, number=number.id,
                       mailbox=mailbox.id, email_template=email_template.id,
                       file=f.id, import_=imp.id, prompt=1)
        objects["import"] = objects.pop("import_")
        objects.update(_email_seed(s, settings, ewa))
    return {"ids": ids, "tokens": tokens, "objects": objects}


def _email_seed(s, settings, ewa: int) -> dict:
    """Ewa's email conversation with a message and an attachment (issue 13)."""
    from centrala.models_email import EmailAttachment, EmailConversation, EmailMessage, Mailbox

    mb = Mailbox(label="Office", address="office@example.com", username="office@example.com", imap_host="127.0.0.1",
                 smtp_host="127.0.0.1")
    email = Communication(channel="email", direction="inbound", outcome="in_progress", remote="jan@example.net",
                          agent_id=ewa)
    s.add_all([mb, email])
    s.flush()
    s.add(EmailConversation(communication_id=email.id, mailbox_id=mb.id, token="authz001", subject="Hi",
                            customer="jan@example.net"))
    msg = EmailMessage(communication_id=email.id, mailbox_id=mb.id, direction="inbound", message_id="m@x",
                       dedup_key="m", from_addr="jan@example.net", text="Hi", html="<p>Hi</p>")
    s.add(msg)
    s.flush()
    att = EmailAttachment(message_id=msg.id, name="a.txt", content_type="text/plain", size=2, stored_name="b" * 32)
    s.add(att)
    s.flush()
    (settings.data_dir / "email").mkdir(parents=True, exist_ok=True)
    (settings.data_dir / "email" / ("b" * 32)).write_bytes(b"hi")
    return {"email": email.id, "email_msg": msg.id, "email_att": att.id}


def _url(rule, endpoint: str, objects: dict, widget_key: str) -> str:
    def part(m):
        converter, name = m.group(1) or "", m.group(2)
        if converter.startswith("int"):
            kind = KIND_OF_ENDPOINT.get(endpoint) or RULES[endpoint].partition(":")[2] or KIND_OF_PARAM[name]
            return str(objects[kind])
        if converter.startswith("any("):
            return converter[4:].split(",")[0].strip(" )'\"")
        return {"key": widget_key, "kind": "welcome", "filename": "panel.js"}.get(name, "x")

    return re.sub(r"<(?:([^:>]+):)?([^>]+)>", part, rule.rule)


EMAILS = {"admin": "boss@example.com", "agent": "agent@example.com", "owner": "ewa@example.com"}


def _allowed(who: str, access: str) -> bool:
    """The rule: may ``who`` use a route of this access (on the object of the route, Ewa's)?"""
    return {"anonymous": access == "public", "agent": access in ("public", "login"),
            "owner": access in ("public", "login", "owner", "self"),
            "admin": access not in ("self", "visitor")}[who]


def _refused(r, who: str, access: str) -> bool:
    if r.status_code in (401, 403):
        return True
    if r.status_code == 404 and who == "agent" and access in ("owner", "self"):
        return True   # another agent's object may also be hidden
    return who == "anonymous" and r.status_code in (301, 302, 303) and "/login" in r.headers.get("Location", "")


def test_every_route_answers_as_its_rule_says(app, database, make_user, tmp_path):
    seed = _seed(app, database, make_user)
    from web.chat import services as chat_services

    with app.app_context():
        from web.extensions import dbs

        widget_key = chat_services.get_settings(dbs())["key"]
        dbs().commit()
    app.config["PROPAGATE_EXCEPTIONS"] = False   # a bug is the 500 a user would get
    panel, tokens = {}, {}
    for role, email in EMAILS.items():
        c = app.test_client()
        assert login(c, email).status_code == 302
        panel[role] = (c, csrf(c, "/"))
        tokens[role] = {"Authorization": f"Bearer {seed['tokens'][role]}"}
    anonymous = app.test_client()
    anonymous = (anonymous, csrf(anonymous, "/login"))
    base = database.engine.url.database
    missing = sorted(r.endpoint for r in app.url_map.iter_rules() if r.endpoint not in RULES)
    assert missing == [], "add these endpoints to RULES"
    assert sorted(set(RULES) - {r.endpoint for r in app.url_map.iter_rules()}) == [], "stale RULES entries"

    wrong, fixed = [], []
    copies = 0
    # reads first, deletions last: the database copies do not cover the files on disk a delete removes
    requests = sorted(((rule, method) for rule in app.url_map.iter_rules()
                       for method in rule.methods - {"HEAD", "OPTIONS"}),
                      key=lambda rm: (rm[1] != "GET", rm[1] == "DELETE" or rm[0].rule.endswith("/delete"),
                                      rm[0].rule, rm[1]))
    for rule, method in requests:
        access = RULES[rule.endpoint].partition(":")[0]
        url = _url(rule, rule.endpoint, seed["objects"], widget_key)
        api = rule.rule.startswith("/api/")
        answers = {}
        for who in ("anonymous", "agent", "owner", "admin"):
            app.extensions["centrala.db"] = database
            if method != "GET":   # a copy of the seeded database for what this request changes
                copies += 1
                fresh = tmp_path / f"copy{copies}.db"
                with sqlite3.connect(base) as src, sqlite3.connect(fresh) as dst:
                    src.backup(dst)   # (a file copy would miss what is still in the WAL)
                app.extensions["centrala.db"] = Database(f"sqlite:///{fresh}", secret_box=database.secret_box)
            if who == "anonymous":   # with a CSRF token: refused for being anonymous, not for the form
                client, token = anonymous
            elif api:
                client, token = app.test_client(), None
            elif rule.endpoint in ("auth.logout", "auth.logout_everywhere"):   # end sessions: one of its own
                client = app.test_client()
                login(client, EMAILS[who])
                token = csrf(client, "/")
            else:
                client, token = panel[who]
            headers = tokens[who] if api and who != "anonymous" else {"X-CSRFToken": token} if token else {}
            kwargs = {} if method == "GET" else {"json": {}} if api else {"data": {"csrf_token": token}}
            answers[who] = client.open(url, method=method, headers=headers, **kwargs)
            if method != "GET":
                app.extensions["centrala.db"].dispose()
        got = {who: r.status_code for who, r in answers.items()}
        ok = access == "open" or all(_refused(r, who, access) != _allowed(who, access) for who, r in answers.items())
        ok = ok and all(r.status_code < 500 or (access == "open" and r.status_code == 503)
                        for r in answers.values())
        if (rule.endpoint, method) in KNOWN_OPEN:
            if ok:
                fixed.append((rule.endpoint, method))
            continue
        if not ok:
            wrong.append(f"{method} {url} [{rule.endpoint}: {RULES[rule.endpoint]}] answered {got}")
    app.extensions["centrala.db"] = database
    assert wrong == [], "\n".join(wrong)
    assert fixed == [], f"fixed now, remove from KNOWN_OPEN: {fixed}"
