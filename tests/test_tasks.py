"""Tasks tab (TSK-1…4) over HTTP and Socket.IO: create / edit / delete with every field, lists Mine,
All, Overdue, who may change what, the assignee's drawer item, the live badge, attachments,
custom fields, the REST API."""
import io
import re
from datetime import datetime, timedelta, timezone

import pytest
from sqlalchemy import select

from centrala.models import Communication, Notification, User
from centrala.models_contacts import Contact, CustomField
from centrala.models_files import StoredFile
from centrala.models_tasks import Task
from centrala.tokens import create_api_token

from .helpers import wait_for
from .web_helpers import csrf, login

pytestmark = pytest.mark.db
NS = "/agent"


def client_for(app, make_user, email, role="agent", name=None):
    uid = make_user(email, role=role, name=name)
    c = app.test_client()
    assert login(c, email).status_code == 302
    return uid, c


def form(client, **values):
    data = {"csrf_token": csrf(client, "/tasks/new"), "title": "Raport dla Pani Iwonki", "due": "",
            "tz_offset": "0", "priority": "normal", "status": "new", "assignee_id": "", "communication_id": "",
            "contact": "", "description": ""}
    data.update({k: v for k, v in values.items()})
    return data


def create(client, **values):
    return client.post("/tasks/new", data=form(client, **values), content_type="multipart/form-data")


def task_id_of(response) -> int:
    return int(re.search(r"/tasks/(\d+)$", response.headers["Location"]).group(1))


def test_tasks_need_login(app):
    anon = app.test_client()
    for path in ("/tasks", "/tasks/new", "/tasks/1", "/tasks/contacts?q=a"):
        r = anon.get(path)
        assert r.status_code == 302 and "/login" in r.headers["Location"], path


def test_create_with_every_field_and_view(app, make_user, database):
    me, c = client_for(app, make_user, "adam@example.com", name="Adam Kowalski")
    colleague = make_user("ewa@example.com", name="Ewa Nowak")
    with database.session() as s:
        comm = Communication(channel="voice", direction="inbound", remote="+48600100200", outcome="answered")
        contact = Contact(first_name="Iwona", last_name="Zielińska", organisation="ACME", search="iwona zielińska acme")
        s.add_all([comm, contact])
        s.add(CustomField(key="id_number", name="ID number", kind="short", applies_to="task"))
        s.add(CustomField(key="shoe", name="Shoe size", kind="short", applies_to="contact"))
        s.flush()
        comm_id, contact_id = comm.id, contact.id
    page = c.get("/tasks/new").get_data(as_text=True)
    assert 'name="custom_id_number"' in page and "ID number" in page and "custom_shoe" not in page
    assert f'<option value="{me}" selected>' in page   # assigned to me by default
    # the contact picker's suggestions
    items = c.get("/tasks/contacts?q=zieli").json["items"]
    assert items == [{"id": contact_id, "label": f"Iwona Zielińska — ACME (#{contact_id})"}]
    r = create(c, title="Raport dla Pani Iwonki", due="2030-04-01T16:25", tz_offset="-120",
               assignee_id=str(colleague), priority="urgent", status="in_progress",
               communication_id=str(comm_id), contact=items[0]["label"], description="Numer dowodu\n<b>ABC</b>",
               custom_id_number="ABC123456")
    assert r.status_code == 303
    tid = task_id_of(r)
    with database.session() as s:
        t = s.get(Task, tid)
        assert (t.title, t.priority, t.status, t.assignee_id, t.created_by) == \
            ("Raport dla Pani Iwonki", "urgent", "in_progress", colleague, me)
        assert t.due_at.replace(tzinfo=timezone.utc) == datetime(2030, 4, 1, 14, 25, tzinfo=timezone.utc)  # 16:25 at UTC+2
        assert (t.communication_id, t.contact_id, t.custom) == (comm_id, contact_id, {"id_number": "ABC123456"})
    html = c.get(f"/tasks/{tid}").get_data(as_text=True)
    assert "Raport dla Pani Iwonki" in html and "Ewa Nowak" in html and "Iwona Zielińska" in html
    assert "&lt;b&gt;ABC&lt;/b&gt;" in html and "<b>ABC</b>" not in html   # inert
    assert "ABC123456" in html and "Urgent" in html and "In progress" in html
    assert f"/history/{comm_id}" in html
    # the edit form comes back with the values (the contact as the picker shows it)
    edit = c.get(f"/tasks/{tid}/edit").get_data(as_text=True)
    assert f"Iwona Zielińska — ACME (#{contact_id})" in edit and 'value="ABC123456"' in edit


def test_validation_keeps_what_was_typed(app, make_user, database):
    _, c = client_for(app, make_user, "adam@example.com")
    r = create(c, title="", due="jutro", priority="whenever", contact="Nobody (#999)", description="keep me")
    assert r.status_code == 400
    html = r.get_data(as_text=True)
    assert "Enter a title." in html and "Enter a date and time" in html and "Choose a priority." in html
    assert "Choose a contact from the list." in html and "keep me" in html and 'value="jutro"' in html
    with database.session() as s:
        assert s.scalars(select(Task)).all() == []


def test_lists_mine_all_overdue(app, make_user, database):
    me, c = client_for(app, make_user, "adam@example.com")
    other = make_user("ewa@example.com", name="Ewa Nowak")
    past = (datetime.now(timezone.utc) - timedelta(hours=2)).strftime("%Y-%m-%dT%H:%M")
    future = (datetime.now(timezone.utc) + timedelta(days=2)).strftime("%Y-%m-%dT%H:%M")
    create(c, title="Mine late", due=past, assignee_id=str(me))
    create(c, title="Mine later", due=future, assignee_id=str(me))
    create(c, title="Hers late", due=past, assignee_id=str(other))
    create(c, title="Mine done late", due=past, assignee_id=str(me), status="done")

    def titles(kind):
        html = c.get(f"/tasks?list={kind}").get_data(as_text=True)
        return re.findall(r'class="task-title">([^<]+)<', html)

    assert titles("mine") == ["Mine late", "Mine later", "Mine done late"]   # open first, by due date
    assert set(titles("all")) == {"Mine late", "Mine later", "Hers late", "Mine done late"}
    assert titles("overdue") == ["Mine late", "Hers late"]
    assert c.get("/tasks").get_data(as_text=True).count('class="task-title"') == 3   # Mine is the default
    html = c.get("/tasks?list=overdue").get_data(as_text=True)
    assert "pill-overdue" in html
    # search by title within a list
    html = c.get("/tasks?list=all&q=LATE").get_data(as_text=True)
    assert set(re.findall(r'class="task-title">([^<]+)<', html)) == {"Mine late", "Mine later", "Hers late", "Mine done late"}
    html = c.get("/tasks?list=all&q=hers").get_data(as_text=True)
    assert re.findall(r'class="task-title">([^<]+)<', html) == ["Hers late"]
    assert "Nothing matches" in c.get("/tasks?list=all&q=zzz").get_data(as_text=True)


def test_who_may_change_and_delete(app, make_user, database):
    author, a = client_for(app, make_user, "author@example.com")
    assignee, b = client_for(app, make_user, "assignee@example.com")
    _, outsider = client_for(app, make_user, "outsider@example.com")
    _, boss = client_for(app, make_user, "boss@example.com", role="admin")
    tid = task_id_of(create(a, title="Call back", assignee_id=str(assignee)))
    # everybody in the team sees it
    assert "Call back" in outsider.get("/tasks?list=all").get_data(as_text=True)
    assert outsider.get(f"/tasks/{tid}").status_code == 200
    # an outsider may neither edit, nor change the status, nor delete
    assert outsider.get(f"/tasks/{tid}/edit").status_code == 403
    assert outsider.post(f"/tasks/{tid}/edit", data=form(outsider, title="Hijacked")).status_code == 403
    assert outsider.post(f"/tasks/{tid}/status", data={"csrf_token": csrf(outsider, "/tasks"), "status": "done"}).status_code == 403
    assert outsider.post(f"/tasks/{tid}/delete", data={"csrf_token": csrf(outsider, "/tasks")}).status_code == 403
    # the status form goes back to a page of ours only
    for evil in ("//evil.example/", "/\\evil.example/", "https://evil.example/"):
        r = b.post(f"/tasks/{tid}/status", data={"csrf_token": csrf(b, "/tasks"), "status": "in_progress", "next": evil})
        assert r.headers["Location"].endswith(f"/tasks/{tid}"), evil
    r = b.post(f"/tasks/{tid}/status", data={"csrf_token": csrf(b, "/tasks"), "status": "new", "next": "/tasks?list=all"})
    assert r.headers["Location"].endswith("/tasks?list=all")
    # the assignee may change it (status) but not delete it
    assert b.post(f"/tasks/{tid}/status", data={"csrf_token": csrf(b, "/tasks"), "status": "done"}).status_code == 303
    assert b.post(f"/tasks/{tid}/delete", data={"csrf_token": csrf(b, "/tasks")}).status_code == 403
    with database.session() as s:
        t = s.get(Task, tid)
        assert t.title == "Call back" and t.status == "done" and t.done_at is not None
    # CSRF is required
    assert a.post(f"/tasks/{tid}/delete").status_code == 400
    # an administrator may delete anyone's
    assert boss.post(f"/tasks/{tid}/delete", data={"csrf_token": csrf(boss, "/tasks")}).status_code == 303
    from centrala.models import AuditEntry

    with database.session() as s:
        assert s.get(Task, tid) is None
        entry = s.scalar(select(AuditEntry).where(AuditEntry.action == "task.deleted"))
        assert (entry.actor_email, entry.target) == ("boss@example.com", "Call back")


def test_edit_reassigns_and_notifies_the_new_assignee(app, make_user, database):
    me, c = client_for(app, make_user, "adam@example.com")
    ewa = make_user("ewa@example.com", name="Ewa Nowak")
    with database.session() as s:
        s.get(User, ewa).language = "en"
    tid = task_id_of(create(c, title="For me", assignee_id=str(me)))
    with database.session() as s:   # assigning to yourself notifies nobody
        assert s.scalars(select(Notification)).all() == []
    r = c.post(f"/tasks/{tid}/edit", data=form(c, title="For Ewa", assignee_id=str(ewa)),
               content_type="multipart/form-data")
    assert r.status_code == 303
    with database.session() as s:
        n = s.scalar(select(Notification).where(Notification.user_id == ewa))
        assert (n.channel, n.title, n.link, n.state) == ("task", "New task: For Ewa", f"/tasks/{tid}", "new")


def test_attachments_from_files_and_uploaded(app, make_user, database, web_settings):
    me, c = client_for(app, make_user, "adam@example.com")
    c.post("/files/upload", data={"csrf_token": csrf(c, "/files"), "file": (io.BytesIO(b"cennik"), "cennik.pdf")},
           content_type="multipart/form-data")
    with database.session() as s:
        cennik = s.scalar(select(StoredFile.id))
    assert "cennik.pdf" in c.get("/tasks/new").get_data(as_text=True)
    data = form(c, title="Send the price list", file_ids=[str(cennik)],
                upload=(io.BytesIO(b"scan"), "dowod.png"))
    tid = task_id_of(c.post("/tasks/new", data=data, content_type="multipart/form-data"))
    with database.session() as s:
        t = s.get(Task, tid)
        assert sorted(f.name for f in t.files) == ["cennik.pdf", "dowod.png"]
        dowod = next(f for f in t.files if f.name == "dowod.png")
        from centrala.models_files import Folder
        assert s.get(Folder, dowod.folder_id).name == "Task attachments"
        dowod_id = dowod.id
    html = c.get(f"/tasks/{tid}").get_data(as_text=True)
    assert f"/files/{dowod_id}/download" in html and f"/files/{cennik}/download" in html
    # remove one on edit
    r = c.post(f"/tasks/{tid}/edit", data=form(c, title="Send the price list", remove_file_ids=[str(cennik)]),
               content_type="multipart/form-data")
    assert r.status_code == 303
    with database.session() as s:
        assert [f.name for f in s.get(Task, tid).files] == ["dowod.png"]
        assert s.get(StoredFile, cennik) is not None   # still in Files
    # deleting the file in Files takes it off the task
    c.post(f"/files/{dowod_id}/delete", data={"csrf_token": csrf(c, "/files")})
    with database.session() as s:
        assert s.get(Task, tid).files == []
    # an attachment over the size limit: the task is saved, the refusal is said
    r = c.post(f"/tasks/{tid}/edit", data=form(c, title="Send the price list",
                                               upload=(io.BytesIO(b"x" * (26 * 1024 * 1024)), "huge.bin")),
               content_type="multipart/form-data")
    assert r.status_code == 303
    assert "The file is too large" in c.get(f"/tasks/{tid}").get_data(as_text=True)


def test_badge_counts_open_tasks_live(app, make_user, database):
    """The top bar's badge (Socket.IO /agent 'badges') follows assigning and finishing."""
    boss_id, boss = client_for(app, make_user, "boss@example.com", role="admin")
    agent_id, agent_http = client_for(app, make_user, "agent@example.com")
    sio = app.extensions["socketio"]
    sock = sio.test_client(app, namespace=NS, flask_test_client=agent_http)
    snap = [e["args"][0] for e in sock.get_received(NS) if e["name"] == "snapshot"][0]
    assert snap["badges"]["tasks"] == 0

    def tasks_badges():
        return [e["args"][0]["tasks"] for e in sock.get_received(NS) if e["name"] == "badges"]

    tid = task_id_of(create(boss, title="Oddzwoń do klienta", assignee_id=str(agent_id)))
    seen = wait_for(tasks_badges, 2.0, what="badges after assigning")
    assert seen[-1] == 1
    second = task_id_of(create(boss, title="Second", assignee_id=str(agent_id)))
    assert wait_for(tasks_badges, 2.0, what="second badge")[-1] == 2
    # the drawer item arrived too
    with database.session() as s:
        assert s.scalar(select(Notification).where(Notification.user_id == agent_id)).channel == "task"
    agent_http.post(f"/tasks/{tid}/status", data={"csrf_token": csrf(agent_http, "/tasks"), "status": "done"})
    assert wait_for(tasks_badges, 2.0, what="badges after done")[-1] == 1
    # the author hears that it is done
    with database.session() as s:
        done = s.scalar(select(Notification).where(Notification.user_id == boss_id))
        assert done.channel == "task" and done.title.endswith("Oddzwoń do klienta") and done.link == f"/tasks/{tid}"
    # reassigning away from the agent lowers their badge too
    boss.post(f"/tasks/{second}/edit", data=form(boss, title="Second", assignee_id=str(boss_id)),
              content_type="multipart/form-data")
    assert wait_for(tasks_badges, 2.0, what="badges after reassigning")[-1] == 0
    # and the snapshot on reconnect agrees
    assert sock.emit("resync", namespace=NS, callback=True)["badges"]["tasks"] == 0


def test_tasks_rest_api(app, make_user, database):
    me = make_user("agent@example.com")
    other = make_user("other@example.com")
    with database.session() as s:
        h = {"Authorization": f"Bearer {create_api_token(s, s.get(User, me), 't')}"}
        ho = {"Authorization": f"Bearer {create_api_token(s, s.get(User, other), 't')}"}
        s.add(CustomField(key="ref", name="Reference", kind="short", applies_to="task"))
    c = app.test_client()
    assert c.get("/api/v1/tasks").status_code == 401
    r = c.post("/api/v1/tasks", json={"title": "API task", "due_at": "2020-01-01T10:00:00+01:00",
                                      "priority": "critical", "custom": {"ref": "R-1"}}, headers=h)
    assert r.status_code == 201, r.json
    t = r.json
    assert t["assignee_id"] == me and t["due_at"].startswith("2020-01-01T09:00:00") and t["overdue"] is True
    assert t["custom"] == {"ref": "R-1"} and t["status"] == "new"
    assert [x["id"] for x in c.get("/api/v1/tasks?list=overdue", headers=h).json["items"]] == [t["id"]]
    assert c.get("/api/v1/tasks?list=mine", headers=ho).json["items"] == []
    r = c.post("/api/v1/tasks", json={"title": "", "priority": "meh"}, headers=h)
    assert r.status_code == 422 and set(r.json["error"]["fields"]) == {"title", "priority"}
    assert c.patch(f"/api/v1/tasks/{t['id']}", json={"status": "done"}, headers=ho).status_code == 403
    r = c.patch(f"/api/v1/tasks/{t['id']}", json={"status": "done"}, headers=h)
    assert r.status_code == 200 and r.json["status"] == "done" and r.json["overdue"] is False
    assert r.json["title"] == "API task" and r.json["custom"] == {"ref": "R-1"}   # partial update
    assert c.get("/api/v1/tasks?list=overdue", headers=h).json["items"] == []
    assert c.delete(f"/api/v1/tasks/{t['id']}", headers=ho).status_code == 403
    assert c.delete(f"/api/v1/tasks/{t['id']}", headers=h).status_code == 204
    assert c.get(f"/api/v1/tasks/{t['id']}", headers=h).status_code == 404


def test_openapi_has_tasks_and_files(app):
    from openapi_spec_validator import validate

    doc = app.test_client().get("/api/v1/openapi.json").json
    validate(doc)
    assert {"/tasks", "/tasks/{id}", "/files", "/files/{id}", "/files/{id}/content", "/folders"} <= set(doc["paths"])


def test_history_detail_lists_the_communications_tasks(app, make_user, database):
    me, c = client_for(app, make_user, "adam@example.com")
    with database.session() as s:
        comm = Communication(channel="voice", direction="inbound", remote="+48600100200", outcome="answered")
        contact = Contact(first_name="Jan", last_name="Nowak", search="jan nowak")
        s.add_all([comm, contact])
        s.flush()
        comm_id, contact_id = comm.id, contact.id
    html = c.get(f"/history/{comm_id}").get_data(as_text=True)
    assert 'id="related-tasks"' in html and f"/tasks/new?communication_id={comm_id}" in html
    page = c.get(f"/tasks/new?communication_id={comm_id}&contact_id={contact_id}").get_data(as_text=True)
    assert f'<option value="{comm_id}" selected>' in page and f"Jan Nowak (#{contact_id})" in page
    create(c, title="Oddzwonić", communication_id=str(comm_id))
    assert "Oddzwonić" in c.get(f"/history/{comm_id}").get_data(as_text=True)


def test_tasks_for_a_contact_for_the_contact_view(app, make_user, database):
    """centrala.tasks.tasks_for_contact is what the contact view asks for (open first)."""
    from centrala.tasks import tasks_for_communication, tasks_for_contact

    _, c = client_for(app, make_user, "adam@example.com")
    with database.session() as s:
        contact = Contact(first_name="Jan", last_name="Nowak", search="jan nowak")
        s.add(contact)
        s.flush()
        cid = contact.id
    create(c, title="Done one", contact=str(cid), status="done")
    create(c, title="Later", contact=str(cid), due="2031-01-01T10:00")
    create(c, title="Sooner", contact=str(cid), due="2030-01-01T10:00")
    create(c, title="Someone else's")
    with database.session() as s:
        assert [t.title for t in tasks_for_contact(s, cid)] == ["Sooner", "Later", "Done one"]
        assert tasks_for_communication(s, 12345) == []


def test_contact_view_lists_the_contacts_tasks(app, make_user, database):
    _, c = client_for(app, make_user, "adam@example.com")
    with database.session() as s:
        contact = Contact(first_name="Jan", last_name="Nowak", search="jan nowak")
        s.add(contact)
        s.flush()
        cid = contact.id
    create(c, title="Oddzwonić do Jana", contact=str(cid), due="2020-01-01T10:00")
    html = c.get(f"/contacts/{cid}").get_data(as_text=True)
    with database.session() as s:
        task_id = s.scalar(select(Task.id).where(Task.title == "Oddzwonić do Jana"))
    # linked, with its status and the overdue mark; a new task starts with this contact
    assert f'<a href="/tasks/{task_id}" class="task-title">Oddzwonić do Jana</a>' in html
    assert "pill-overdue" in html and f'href="/tasks/new?contact_id={cid}"' in html


def test_contact_picker_finds_by_phone_however_typed(app, make_user, database):
    from centrala import contacts

    _, c = client_for(app, make_user, "adam@example.com")
    with database.session() as s:
        contact = contacts.create(s, contacts.ContactData(first_name="Anna", last_name="Lis",
                                                          phones=[("+48 600 100 200", "mobile")]))
        s.flush()
        cid = contact.id
    for q in ("600100200", "600 100 200", "Lis"):
        assert [i["id"] for i in c.get(f"/tasks/contacts?q={q}").json["items"]] == [cid], q
