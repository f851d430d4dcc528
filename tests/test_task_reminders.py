"""Task due-date reminders (TSK-1): the Remind choice on the form and in the API, the sweeper that
sends each reminder once (drawer item + Socket.IO for the desktop notification), re-arming on
edit, nothing for Done tasks, two sweepers at once, the drawer keeping it for a later login.

The sweeper is driven with a given "now" (``sweep(app, now)``) or, for the background loop, with
a due time a second ahead and a short interval — never by sleeping through real minutes.
"""
import re
import threading
from datetime import datetime, timedelta, timezone

import pytest
from sqlalchemy import func, select

from agents import events
from centrala.db import Database
from centrala.models import Notification, User
from centrala.models_tasks import Task
from centrala.tokens import create_api_token
from web.background import stop as stop_background
from web.tasks import sweeper

from .helpers import EventRecorder, wait_for
from .web_helpers import csrf, login

pytestmark = pytest.mark.db
NS = "/agent"
UTC = timezone.utc


@pytest.fixture
def app(web_settings, database):
    """The app without its background loops: each test drives the sweeper itself."""
    from web import create_app

    application = create_app(web_settings, db=database, start_background=False)
    application.config["TESTING"] = True
    yield application
    stop_background(application)


def client_for(app, make_user, email, name=None, language="en"):
    uid = make_user(email, name=name)
    with app.extensions["centrala.db"].session() as s:
        s.get(User, uid).language = language
    c = app.test_client()
    assert login(c, email).status_code == 302
    return uid, c


def form(client, **values):
    data = {"csrf_token": csrf(client, "/tasks/new"), "title": "Oddzwonić do klienta", "due": "",
            "tz_offset": "0", "time_zone": "", "remind": "15m", "priority": "normal", "status": "new",
            "assignee_id": "", "communication_id": "", "contact": "", "description": ""}
    data.update(values)
    return data


def create(client, **values) -> int:
    r = client.post("/tasks/new", data=form(client, **values), content_type="multipart/form-data")
    assert r.status_code == 303, r.get_data(as_text=True)
    return int(re.search(r"/tasks/(\d+)$", r.headers["Location"]).group(1))


def local(dt: datetime) -> str:
    """A UTC moment as the datetime-local field sends it with tz_offset 0."""
    return dt.astimezone(UTC).strftime("%Y-%m-%dT%H:%M")


def soon(minutes: float) -> datetime:
    return (datetime.now(UTC) + timedelta(minutes=minutes)).replace(second=0, microsecond=0)


def task(database, tid) -> Task:
    with database.session() as s:
        return s.get(Task, tid)


def aware(dt):
    return dt if dt is None or dt.tzinfo else dt.replace(tzinfo=UTC)


def reminders_of(database, user_id) -> list[Notification]:
    with database.session() as s:
        return list(s.scalars(select(Notification).where(Notification.user_id == user_id,
                                                         Notification.title.like("Reminder:%"))
                              .order_by(Notification.id)))


def socket_for(app, http_client):
    sock = app.extensions["socketio"].test_client(app, namespace=NS, flask_test_client=http_client)
    assert sock.is_connected(NS)
    sock.get_received(NS)   # the snapshot
    return sock


# -- the form ---------------------------------------------------------------------------------
def test_form_offers_remind_default_15_minutes_and_validates_in_both_languages(app, make_user, database):
    me, c = client_for(app, make_user, "adam@example.com")
    page = c.get("/tasks/new").get_data(as_text=True)
    select_html = re.search(r'<select id="remind".*?</select>', page, re.S).group(0)
    assert re.findall(r'<option value="([^"]+)"', select_html) == ["none", "at_due", "15m", "1h", "1d"]
    assert '<option value="15m" selected>15 minutes before</option>' in select_html
    assert 'name="time_zone"' in page and "Reminders need a due date." in page

    r = c.post("/tasks/new", data=form(c, remind="5m", description="keep me"), content_type="multipart/form-data")
    assert r.status_code == 400
    html = r.get_data(as_text=True)
    assert "Choose when to remind: no reminder, at the due time, 15 minutes, 1 hour or 1 day before." in html
    assert "keep me" in html and 'id="remind-error"' in html
    with database.session() as s:
        s.get(User, me).language = "pl"
        assert s.scalar(select(func.count()).select_from(Task)) == 0
    html = c.post("/tasks/new", data=form(c, remind="5m"), content_type="multipart/form-data").get_data(as_text=True)
    assert "Wybierz, kiedy przypomnieć: bez przypomnienia, w chwili terminu, 15 minut, 1 godzinę lub 1 dzień przed." in html
    page = c.get("/tasks/new").get_data(as_text=True)
    assert "15 minut przed" in page and "Przypomnij" in page


def test_form_reads_the_due_time_in_the_browsers_zone_and_one_day_before_across_summer_time(app, make_user, database):
    me, c = client_for(app, make_user, "adam@example.com")
    # Sunday 2030-03-31 10:00 in Warsaw is summer time (08:00 UTC); Saturday 10:00 was winter time
    tid = create(c, title="Przegląd umowy", due="2030-03-31T10:00", tz_offset="-120", time_zone="Europe/Warsaw",
                 remind="1d", assignee_id=str(me))
    t = task(database, tid)
    assert aware(t.due_at) == datetime(2030, 3, 31, 8, 0, tzinfo=UTC)
    assert aware(t.remind_at) == datetime(2030, 3, 30, 9, 0, tzinfo=UTC)   # 23 hours before
    assert (t.remind, t.time_zone, t.reminded_at) == ("1d", "Europe/Warsaw", None)
    # an unknown zone from the browser falls back to its offset
    tid = create(c, title="Bez strefy", due="2030-03-31T10:00", tz_offset="-120", time_zone="Mars/Olympus",
                 remind="1h", assignee_id=str(me))
    t = task(database, tid)
    assert t.time_zone is None and aware(t.remind_at) == datetime(2030, 3, 31, 7, 0, tzinfo=UTC)
    # the task view says when it will be reminded; the edit form comes back with the choice
    html = c.get(f"/tasks/{tid}").get_data(as_text=True)
    assert re.search(r'id="task-reminder">1 hour before<br><span class="muted small"><time datetime="2030-03-31T07:00', html)
    assert '<option value="1h" selected>' in c.get(f"/tasks/{tid}/edit").get_data(as_text=True)


def test_no_reminder_without_a_due_date_or_with_a_due_date_already_past(app, make_user, database):
    me, c = client_for(app, make_user, "adam@example.com")
    no_due = create(c, title="Kiedyś", assignee_id=str(me))
    past = create(c, title="Zaległe", due=local(soon(-60)), assignee_id=str(me))
    for tid in (no_due, past):
        t = task(database, tid)
        assert (t.remind, t.remind_at) == ("15m", None)
    assert sweeper.sweep(app, datetime.now(UTC) + timedelta(days=400)) == []


# -- the sweeper ------------------------------------------------------------------------------
def test_sweeper_reminds_the_assignee_once_in_the_drawer_and_live(app, make_user, database):
    boss_id, boss = client_for(app, make_user, "boss@example.com", name="Barbara Boss")
    ewa_id, ewa = client_for(app, make_user, "ewa@example.com", name="Ewa Nowak")
    recorder = EventRecorder(app.extensions["centrala.bus"])
    due = soon(60)
    tid = create(boss, title="Oddzwonić do Iwony", due=local(due), assignee_id=str(ewa_id))
    remind_at = aware(task(database, tid).remind_at)
    assert remind_at == due - timedelta(minutes=15)
    sock = socket_for(app, ewa)

    assert sweeper.sweep(app, remind_at - timedelta(seconds=1)) == []   # not yet
    assert sweeper.sweep(app, remind_at) == [tid]
    got = [e["args"][0] for e in sock.get_received(NS) if e["name"] == "notification"]
    assert len(got) == 1
    title = f"Reminder: Oddzwonić do Iwony, due {due.strftime('%Y-%m-%d %H:%M')} UTC"
    assert (got[0]["channel"], got[0]["title"], got[0]["link"]) == ("task", title, f"/tasks/{tid}")
    recorder.wait(events.TASK_REMINDED, 1.0, task_id=tid, user_id=ewa_id)
    # once only: later sweeps find nothing, whatever the time
    assert sweeper.sweep(app, remind_at + timedelta(minutes=1)) == []
    assert sweeper.sweep(app, due + timedelta(days=2)) == []
    assert [n.title for n in reminders_of(database, ewa_id)] == [title]
    assert aware(task(database, tid).reminded_at) == remind_at
    assert reminders_of(database, boss_id) == []
    # the task view says it was sent
    assert re.search(r'id="task-reminder">15 minutes before<br><span class="muted small">Sent <time',
                     ewa.get(f"/tasks/{tid}").get_data(as_text=True))


def test_reminder_in_the_assignees_language_and_zone(app, make_user, database):
    me, c = client_for(app, make_user, "adam@example.com")
    ewa_id, _ = client_for(app, make_user, "ewa@example.com", language="pl")
    tid = create(c, title="Raport", due="2030-01-15T16:25", tz_offset="-60", time_zone="Europe/Warsaw",
                 remind="at_due", assignee_id=str(ewa_id))
    assert sweeper.sweep(app, datetime(2030, 1, 15, 15, 25, tzinfo=UTC)) == [tid]
    assert [n.title for n in reminders_of(database, ewa_id)] == []   # Polish: "Przypomnienie: …"
    with database.session() as s:
        n = s.scalar(select(Notification).where(Notification.user_id == ewa_id, Notification.title.like("Przypomnienie%")))
        assert n.title == "Przypomnienie: Raport, termin 2030-01-15 16:25 CET"
        assert n.body == "Termin: 2030-01-15 16:25 CET"


def test_the_reminder_waits_in_the_drawer_for_an_assignee_with_no_panel_open(app, make_user, database):
    _, boss = client_for(app, make_user, "boss@example.com")
    ewa_id = make_user("ewa@example.com", name="Ewa Nowak")
    with database.session() as s:
        s.get(User, ewa_id).language = "en"
    tid = create(boss, title="Umowa do podpisu", due=local(soon(30)), remind="1h", assignee_id=str(ewa_id))
    assert sweeper.sweep(app) == [tid]   # due in 30 minutes, "1 hour before": at once
    # Ewa logs in later: the snapshot of her first panel holds the reminder
    ewa = app.test_client()
    assert login(ewa, "ewa@example.com").status_code == 302
    sock = app.extensions["socketio"].test_client(app, namespace=NS, flask_test_client=ewa)
    snap = [e["args"][0] for e in sock.get_received(NS) if e["name"] == "snapshot"][0]
    titles = [n["title"] for n in snap["notifications"]]
    assert any(t.startswith("Reminder: Umowa do podpisu, due ") for t in titles), titles
    assert snap["badges"]["incoming"] == 2   # the new-task item and the reminder


def test_done_tasks_are_not_reminded_and_unassigned_ones_wait_for_an_assignee(app, make_user, database):
    me, c = client_for(app, make_user, "adam@example.com")
    due = soon(60)
    done = create(c, title="Zrobione", due=local(due), assignee_id=str(me))
    c.post(f"/tasks/{done}/status", data={"csrf_token": csrf(c, "/tasks"), "status": "done"})
    nobody = create(c, title="Niczyje", due=local(due), assignee_id="")
    at = due - timedelta(minutes=10)
    assert sweeper.sweep(app, at) == []
    assert task(database, done).reminded_at is None and task(database, nobody).reminded_at is None
    # assigned later: reminded on the next sweep (its moment has come)
    c.post(f"/tasks/{nobody}/edit", data=form(c, title="Niczyje", due=local(due), assignee_id=str(me)),
           content_type="multipart/form-data")
    assert sweeper.sweep(app, at) == [nobody]
    # Done between the claim query and the claim: the atomic UPDATE checks the status itself
    late = create(c, title="Za późno", due=local(due), assignee_id=str(me))
    with database.session() as s:
        s.get(Task, late).status = "done"
    assert sweeper._remind(app, database.sessions(), late, at) is False


def test_changing_the_due_date_or_the_choice_re_arms_the_reminder(app, make_user, database):
    me, c = client_for(app, make_user, "adam@example.com")
    due = soon(60)
    tid = create(c, title="Spotkanie", due=local(due), assignee_id=str(me))
    assert sweeper.sweep(app, due) == [tid]
    # an edit that changes neither the due date nor the choice: nothing new
    c.post(f"/tasks/{tid}/edit", data=form(c, title="Spotkanie z klientem", due=local(due), assignee_id=str(me)),
           content_type="multipart/form-data")
    t = task(database, tid)
    assert t.reminded_at is not None and sweeper.sweep(app, due + timedelta(minutes=1)) == []
    # a new due date: armed again, reminded again at its new moment
    later = due + timedelta(days=1)
    c.post(f"/tasks/{tid}/edit", data=form(c, title="Spotkanie z klientem", due=local(later), assignee_id=str(me)),
           content_type="multipart/form-data")
    t = task(database, tid)
    assert t.reminded_at is None and aware(t.remind_at) == later - timedelta(minutes=15)
    assert sweeper.sweep(app, later - timedelta(minutes=16)) == []
    assert sweeper.sweep(app, later - timedelta(minutes=15)) == [tid]
    # another choice: armed again for its own moment
    c.post(f"/tasks/{tid}/edit", data=form(c, title="Spotkanie z klientem", due=local(later), remind="1h",
                                           assignee_id=str(me)), content_type="multipart/form-data")
    t = task(database, tid)
    assert t.reminded_at is None and aware(t.remind_at) == later - timedelta(hours=1)
    # "No reminder": disarmed
    c.post(f"/tasks/{tid}/edit", data=form(c, title="Spotkanie z klientem", due=local(later), remind="none",
                                           assignee_id=str(me)), content_type="multipart/form-data")
    t = task(database, tid)
    assert (t.remind, t.remind_at) == ("none", None)
    assert sweeper.sweep(app, later) == []
    assert len(reminders_of(database, me)) == 2


def test_two_sweepers_at_once_send_each_reminder_once(app, make_user, database, database_url, web_settings):
    """Two web processes (own engines and connection pools) sweep the same due reminders at once."""
    from web import create_app

    me, c = client_for(app, make_user, "adam@example.com")
    due = soon(60)
    ids = [create(c, title=f"Zadanie {i}", due=local(due), assignee_id=str(me)) for i in range(12)]
    other_db = Database(database_url)
    other = create_app(web_settings, db=other_db, start_background=False)
    try:
        at = due - timedelta(minutes=5)
        barrier = threading.Barrier(2)
        results, errors = {}, []

        def run(name, application):
            try:
                barrier.wait(5)
                results[name] = sweeper.sweep(application, at)
            except Exception as e:  # noqa: BLE001
                errors.append(e)

        threads = [threading.Thread(target=run, args=(n, a)) for n, a in (("a", app), ("b", other))]
        for t in threads:
            t.start()
        for t in threads:
            t.join(30)
        assert not errors, errors
        assert sorted(results["a"] + results["b"]) == sorted(ids)   # every reminder sent, none twice
        assert not set(results["a"]) & set(results["b"])
        assert len(reminders_of(database, me)) == len(ids)
        with database.session() as s:
            assert s.scalar(select(func.count()).select_from(Task).where(Task.reminded_at.is_(None))) == 0
    finally:
        stop_background(other)
        other_db.dispose()


def test_the_background_sweeper_reminds_when_the_moment_comes(app, make_user, database):
    """The loop itself, with a short interval and a due time a second ahead (API seconds)."""
    me = make_user("adam@example.com")
    ewa_id, ewa = client_for(app, make_user, "ewa@example.com")
    with database.session() as s:
        h = {"Authorization": f"Bearer {create_api_token(s, s.get(User, me), 't')}"}
    sock = socket_for(app, ewa)
    sweeper.start(app, interval=0.05)
    due = datetime.now(UTC) + timedelta(seconds=1.5)
    r = app.test_client().post("/api/v1/tasks", headers=h, json={
        "title": "Za chwilę", "due_at": due.isoformat(), "remind": "at_due", "assignee_id": ewa_id})
    assert r.status_code == 201, r.json

    def reminder():
        return [e["args"][0] for e in sock.get_received(NS)
                if e["name"] == "notification" and e["args"][0]["title"].startswith("Reminder: Za chwilę")]

    got = wait_for(reminder, 10.0, what="the reminder over Socket.IO")
    assert len(got) == 1
    t = task(database, r.json["id"])
    assert aware(t.reminded_at) >= aware(t.due_at)   # not before its moment
    assert datetime.now(UTC) - aware(t.due_at) < timedelta(seconds=5)


# -- the REST API ------------------------------------------------------------------------------
def test_api_round_trip_of_the_reminder(app, make_user, database):
    me = make_user("agent@example.com")
    with database.session() as s:
        h = {"Authorization": f"Bearer {create_api_token(s, s.get(User, me), 't')}"}
    c = app.test_client()
    # a due time without an offset is read in the time zone given
    r = c.post("/api/v1/tasks", headers=h, json={"title": "API", "due_at": "2030-03-31T10:00:00",
                                                  "time_zone": "Europe/Warsaw", "remind": "1d"})
    assert r.status_code == 201, r.json
    t = r.json
    assert t["due_at"] == "2030-03-31T08:00:00+00:00" and t["remind"] == "1d" and t["time_zone"] == "Europe/Warsaw"
    assert t["remind_at"] == "2030-03-30T09:00:00+00:00" and t["reminded_at"] is None
    assert c.get(f"/api/v1/tasks/{t['id']}", headers=h).json["remind_at"] == t["remind_at"]
    # the default is 15 minutes before
    r = c.post("/api/v1/tasks", headers=h, json={"title": "Default", "due_at": "2030-05-01T12:00:00Z"})
    assert (r.json["remind"], r.json["remind_at"]) == ("15m", "2030-05-01T11:45:00+00:00")
    # change the choice; the task's zone reads a new offset-less due time
    r = c.patch(f"/api/v1/tasks/{t['id']}", headers=h, json={"remind": "1h"})
    assert r.status_code == 200 and r.json["remind_at"] == "2030-03-31T07:00:00+00:00"
    r = c.patch(f"/api/v1/tasks/{t['id']}", headers=h, json={"due_at": "2030-07-01T09:30:00"})
    assert r.json["due_at"] == "2030-07-01T07:30:00+00:00" and r.json["remind_at"] == "2030-07-01T06:30:00+00:00"
    r = c.patch(f"/api/v1/tasks/{t['id']}", headers=h, json={"remind": "none"})
    assert (r.json["remind"], r.json["remind_at"]) == ("none", None)
    # refusals name the field, in English, and change nothing
    r = c.patch(f"/api/v1/tasks/{t['id']}", headers=h, json={"remind": "5m", "time_zone": "Mars/Olympus"})
    assert r.status_code == 422 and set(r.json["error"]["fields"]) == {"remind", "time_zone"}
    assert "Unknown time zone" in r.json["error"]["fields"]["time_zone"]
    assert c.get(f"/api/v1/tasks/{t['id']}", headers=h).json["remind"] == "none"
    # the OpenAPI document describes it
    from openapi_spec_validator import validate

    doc = c.get("/api/v1/openapi.json").json
    validate(doc)
    props = doc["components"]["schemas"]["Task"]["properties"]
    assert props["remind"]["enum"] == ["none", "at_due", "15m", "1h", "1d"]
    assert {"remind_at", "reminded_at", "time_zone"} <= set(props)


# -- overdue is marked in every list -----------------------------------------------------------
def test_overdue_tasks_are_marked_in_the_lists(app, make_user, database):
    from centrala.models import Communication

    me, c = client_for(app, make_user, "adam@example.com")
    with database.session() as s:
        comm = Communication(channel="voice", direction="inbound", remote="+48600100200", outcome="answered")
        s.add(comm)
        s.flush()
        comm_id = comm.id
    create(c, title="Po terminie", due=local(soon(-30)), communication_id=str(comm_id), assignee_id=str(me))
    create(c, title="W terminie", due=local(soon(60)), communication_id=str(comm_id), assignee_id=str(me))
    html = c.get("/tasks").get_data(as_text=True)
    assert html.count('class="pill pill-overdue"') == 1 and "task-overdue" in html
    # the History detail's related tasks too
    html = c.get(f"/history/{comm_id}").get_data(as_text=True)
    assert html.count('class="pill pill-overdue"') == 1
