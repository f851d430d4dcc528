"""Input the API and the panel's sockets refuse with a clear answer instead of a 500 (issue 12, defect 8)."""
import pytest
from sqlalchemy import select

from centrala.models_tasks import Task
from web.routing import MAX_ID

from .test_api import auth, tokens  # noqa: F401  (the API's token fixture)
from .web_helpers import login

pytestmark = pytest.mark.db
HUGE = 2 ** 63          # one past SQLite's integer (PostgreSQL's ends at 2**31 - 1)
NS = "/agent"


def int_rules(app):
    """Every URL rule with an <int:…> part, as a URL with that part replaced by ``value``."""
    import re

    for rule in app.url_map.iter_rules():
        if "<int:" not in rule.rule:
            continue
        url = re.sub(r"<int:[^>]+>", str(HUGE), rule.rule)
        url = re.sub(r"<any\(([^,)]+)[^>]*>", r"\1", url)
        url = re.sub(r"<(?:string:)?[^>]+>", "x", url)
        for method in sorted(rule.methods - {"HEAD", "OPTIONS"}):
            yield method, url


def test_ids_beyond_the_databases_are_404_on_every_int_route(app, tokens, make_user):
    api = app.test_client()
    panel = app.test_client()
    make_user("third@example.com", role="admin")
    assert login(panel, "third@example.com").status_code == 302
    anonymous = app.test_client()
    answers = {}
    for method, url in int_rules(app):
        for who, client, headers in (("api", api, auth(tokens["admin"])), ("admin", panel, {}),
                                     ("anonymous", anonymous, {})):
            answers[method, url, who] = client.open(url, method=method, headers=headers).status_code
    assert len(answers) > 100
    assert {k: v for k, v in answers.items() if v != 404} == {}


def test_huge_id_on_the_api_is_a_json_404(app, tokens):
    r = app.test_client().get(f"/api/v1/tasks/{HUGE}", headers=auth(tokens["agent"]))
    assert r.status_code == 404 and r.json["error"]["code"] == 404
    # the largest id every database can hold is still an ordinary "no such" answer; one more is a 404 too
    r = app.test_client().get(f"/api/v1/tasks/{MAX_ID}", headers=auth(tokens["agent"]))
    assert r.status_code == 404 and r.json["error"]["message"] == "No such task."
    r = app.test_client().get(f"/api/v1/tasks/{MAX_ID + 1}", headers=auth(tokens["agent"]))
    assert r.status_code == 404 and r.json["error"]["code"] == 404


@pytest.mark.parametrize("channels", [[{}], [[]], "chat", [1]])
def test_user_channels_of_the_wrong_shape_are_422(app, tokens, channels):
    c = app.test_client()
    r = c.post("/api/v1/users", json={"email": "ewa@example.com", "name": "Ewa", "channels": channels},
               headers=auth(tokens["admin"]))
    assert r.status_code == 422 and any(f.startswith("channels") for f in r.json["error"]["fields"]), r.json
    me = c.get("/api/v1/users/me", headers=auth(tokens["admin"])).json
    r = c.patch(f"/api/v1/users/{me['id']}", json={"channels": channels}, headers=auth(tokens["admin"]))
    assert r.status_code == 422 and any(f.startswith("channels") for f in r.json["error"]["fields"]), r.json


def test_task_title_must_be_a_string(app, tokens, database):
    c = app.test_client()
    r = c.post("/api/v1/tasks", json={"title": ["x"]}, headers=auth(tokens["agent"]))
    assert r.status_code == 422 and r.json["error"]["fields"]["title"] == "Input should be a valid string"
    with database.session() as s:
        assert s.scalars(select(Task)).all() == []
    r = c.post("/api/v1/tasks", json={"title": "Call back"}, headers=auth(tokens["agent"]))
    assert r.status_code == 201 and r.json["title"] == "Call back"


def test_every_error_under_api_is_json(app, tokens):
    """Statuses the app has no message for (415, 500, …) come back as the API's JSON error too."""
    from werkzeug.exceptions import UnsupportedMediaType

    def boom():
        raise RuntimeError("a bug")

    def unsupported():
        raise UnsupportedMediaType()

    app.add_url_rule("/api/v1/test-boom", "test_boom", boom)
    app.add_url_rule("/api/v1/test-415", "test_415", unsupported)
    app.config["PROPAGATE_EXCEPTIONS"] = False   # as in production: the error handler answers
    c = app.test_client()
    r = c.get("/api/v1/test-boom")
    assert r.status_code == 500 and r.is_json
    assert r.json == {"error": {"code": 500, "message": "Something went wrong."}}
    r = c.get("/api/v1/test-415")
    assert r.status_code == 415 and r.is_json and r.json["error"]["code"] == 415
    assert "Traceback" not in r.get_data(as_text=True)


@pytest.fixture
def agent_socket(app, make_user):
    def connect(email, role="agent"):
        make_user(email, role=role)
        http = app.test_client()
        assert login(http, email).status_code == 302
        return app.extensions["socketio"].test_client(app, namespace=NS, flask_test_client=http)

    return connect


@pytest.mark.parametrize("bad", ["abc", HUGE, [1], {"x": 1}, 1.5, None])
def test_notification_events_with_a_bad_id_answer_not_raise(agent_socket, bad):
    sock = agent_socket("agent@example.com")
    for event in ("notification:answer", "notification:ignore"):
        ack = sock.emit(event, {"id": bad}, namespace=NS, callback=True)
        assert ack["ok"] is False, (event, ack)
    assert sock.emit("notification:answer", "not an object", namespace=NS, callback=True)["ok"] is False


@pytest.mark.parametrize("bad", ["abc", HUGE, [1], 1.5])
def test_presence_set_with_a_bad_user_id_answers_not_raise(agent_socket, bad):
    sock = agent_socket("boss@example.com", role="admin")
    ack = sock.emit("presence:set", {"user_id": bad, "status": "offline"}, namespace=NS, callback=True)
    assert ack["ok"] is False and "user_id" in ack["error"], ack


def test_history_filters_with_ids_beyond_the_databases_are_refused_not_500(app, tokens, make_user):
    r = app.test_client().get(f"/api/v1/communications?agent_id={HUGE}", headers=auth(tokens["agent"]))
    assert r.status_code == 400 and r.json["error"]["message"] == "agent_id must be an integer."
    panel = app.test_client()
    make_user("ann@example.com")
    assert login(panel, "ann@example.com").status_code == 302
    assert panel.get(f"/history?agent={HUGE}&contact={HUGE}").status_code == 200


def test_unknown_query_arguments_are_refused(app, tokens):
    """A misspelt filter would otherwise return everything."""
    r = app.test_client().get("/api/v1/tasks?lsit=overdue", headers=auth(tokens["agent"]))
    assert r.status_code == 400 and r.json["error"]["fields"] == {"lsit": "unknown field"}
    r = app.test_client().get("/api/v1/tasks?list=", headers=auth(tokens["agent"]))
    assert r.status_code == 400 and "list" in r.json["error"]["fields"]


def test_panel_json_endpoints_refuse_bodies_that_are_not_objects(app, make_user, database):
    from centrala.models import Communication

    from .web_helpers import csrf

    uid = make_user("ann@example.com")
    with database.session() as s:
        call = Communication(channel="voice", direction="inbound", outcome="in_progress", remote="+48221234567",
                             agent_id=uid, answered_at=__import__("datetime").datetime.now())
        s.add(call)
        s.flush()
        call_id = call.id
    c = app.test_client()
    assert login(c, "ann@example.com").status_code == 302
    h = {"X-CSRFToken": csrf(c, "/")}
    for url in ("/calls", f"/calls/{call_id}/transfer", f"/history/{call_id}/note", "/contacts/quick"):
        for body in ([1], "text", 5):
            r = c.post(url, json=body, headers=h)
            assert r.status_code < 500, (url, body, r.status_code)
    # the panel's transfer and the API's refuse the same ids
    r = c.post(f"/calls/{call_id}/transfer", json={"user_id": HUGE}, headers=h)
    assert r.status_code == 422, r.get_data(as_text=True)


@pytest.mark.parametrize("bad", [["online"], "online", {"status": ["online"]}, {"status": "busy"}])
def test_status_set_with_a_bad_payload_answers_not_raise(agent_socket, bad):
    sock = agent_socket("agent@example.com")
    ack = sock.emit("status:set", bad, namespace=NS, callback=True)
    assert ack == {"ok": False, "error": "invalid status"}


def test_nul_characters_are_refused_by_field(app, tokens, database):
    """PostgreSQL cannot store them (the fuzzing suite's 500 there); SQLite would keep them."""
    c = app.test_client()
    r = c.post("/api/v1/tasks", json={"title": "a\x00b"}, headers=auth(tokens["agent"]))
    assert r.status_code == 422 and r.json["error"]["fields"] == {"title": "must not contain NUL characters"}
    r = c.post("/api/v1/contacts", json={"first_name": "A", "emails": ["x\x00@example.com"]},
               headers=auth(tokens["agent"]))
    assert r.status_code == 422 and r.json["error"]["field"] == "emails"
    r = c.get("/api/v1/contacts?q=%00", headers=auth(tokens["agent"]))
    assert r.status_code == 400 and r.json["error"]["fields"] == {"q": "must not contain NUL characters"}
    with database.session() as s:
        assert s.scalars(select(Task)).all() == []
