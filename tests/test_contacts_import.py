"""Contact import (CON-3) through the REST API flow and the panel wizard, and the export → import
round trip (CON-2).  Files in every accepted encoding and dialect, broken rows, a file over
10 MB, a header-only file, formula-looking cells, numbers that lost their '+'."""
import io
import re

import pytest
from sqlalchemy import func, select

from centrala import contacts as C
from centrala import custom_fields as CF
from centrala.models import User
from centrala.models_contacts import Contact, ContactEmail, ContactImport, ContactPhone
from centrala.tokens import create_api_token

from .helpers import wait_for
from .web_helpers import csrf

pytestmark = pytest.mark.db

HEADER = ["Imię", "Nazwisko", "Firma", "Email 1", "Email 2", "Telefon 1", "Telefon 2", "Notatka"]
ROWS = [
    ["Łukasz", "Żółć", "Źdźbło S.A.", "lukasz@example.com", "", "601 234 567", "", "pierwszy"],
    ["Anna", "Nowak", "ACME; Ltd", "anna@example.com", "anna@home.pl", "+48 22 123 45 67", "+49 151 12345678",
     "line one\nline two, with \"quotes\""],
    ["Ewa", "Ćma", "", "", "", "0048 500 600 700", "", ""],
]


def csv_bytes(rows, sep=",", encoding="utf-8", bom=False, newline="\r\n"):
    import csv

    buf = io.StringIO()
    w = csv.writer(buf, delimiter=sep, lineterminator=newline)
    for r in rows:
        w.writerow(r)
    data = buf.getvalue().encode(encoding)
    return (b"\xef\xbb\xbf" + data) if bom else data


@pytest.fixture
def api(app, make_user, database):
    uid = make_user("integrator@example.com", role="agent")
    with database.session() as s:
        token = create_api_token(s, s.get(User, uid), "import")
    client = app.test_client()
    client.environ_base["HTTP_AUTHORIZATION"] = f"Bearer {token}"
    return client


def upload(api, data: bytes, name="contacts.csv"):
    return api.post("/api/v1/contacts/imports", data={"file": (io.BytesIO(data), name)},
                    content_type="multipart/form-data")


def wait_status(api, iid, statuses=("verified", "done", "failed")):
    box = {}

    def done():
        box["r"] = api.get(f"/api/v1/contacts/imports/{iid}").json
        return box["r"]["status"] in statuses

    wait_for(done, 20, what=f"import {iid} in {statuses}")
    return box["r"]


def run_import(api, data: bytes, mapping=None, has_header=True):
    r = upload(api, data)
    assert r.status_code == 201, r.json
    iid = r.json["id"]
    body = {"has_header": has_header, "columns": mapping if mapping is not None else r.json["mapping"]}
    m = api.put(f"/api/v1/contacts/imports/{iid}/mapping", json=body)
    assert m.status_code == 200, m.json
    assert api.post(f"/api/v1/contacts/imports/{iid}/verify").status_code == 202
    verified = wait_status(api, iid)
    assert verified["status"] == "verified", verified
    assert api.post(f"/api/v1/contacts/imports/{iid}/commit").status_code == 202
    return verified, wait_status(api, iid, ("done", "failed"))


def contacts_by_last(database):
    with database.session() as s:
        rows = s.scalars(select(Contact)).all()
        return {c.last_name: C.as_dict(c) for c in rows}


@pytest.mark.parametrize("sep,encoding,bom", [
    (",", "utf-8", False), (",", "utf-8", True), (";", "utf-8", True), ("\t", "utf-8", False),
    (";", "cp1250", False), (",", "cp1250", False), ("\t", "cp1250", False)])
def test_import_every_encoding_and_separator(api, database, sep, encoding, bom):
    data = csv_bytes([HEADER] + ROWS, sep, encoding, bom)
    r = upload(api, data)
    assert r.status_code == 201
    assert r.json["delimiter"] == sep
    assert r.json["encoding"] == {"cp1250": "cp1250", "utf-8": "utf-8-sig" if bom else "utf-8"}[encoding]
    assert r.json["preview"]["columns"][0]["header"] == "Imię"
    assert r.json["preview"]["rows"][0][:2] == ["Łukasz", "Żółć"]
    # the guessed mapping: Polish headers, numbered email / phone columns
    assert {(c["field"], c.get("slot")) for c in r.json["mapping"]} == {
        ("first_name", None), ("last_name", None), ("organisation", None), ("email", 1), ("email", 2),
        ("phone", 1), ("phone", 2), ("note", None)}
    verified, done = run_import(api, data)
    assert (verified["total"], verified["ok"], verified["error_count"]) == (3, 3, 0)
    assert (done["status"], done["ok"], done["total"], done["created"]) == ("done", 3, 3, 3)
    got = contacts_by_last(database)
    assert got["Żółć"]["organisation"] == "Źdźbło S.A."
    assert got["Nowak"]["note"] == 'line one\nline two, with "quotes"'      # quoted newline kept
    assert got["Nowak"]["organisation"] == "ACME; Ltd"
    assert [e["email"] for e in got["Nowak"]["emails"]] == ["anna@example.com", "anna@home.pl"]
    assert [p["number"] for p in got["Nowak"]["phones"]] == ["+48221234567", "+4915112345678"]
    assert got["Ćma"]["phones"][0]["number"] == "+48500600700"


def test_broken_rows_get_a_per_record_report_and_are_skipped(api, database):
    rows = [["First name", "Last name", "Email", "Phone"],
            ["Jan", "Dobry", "jan@example.com", "+48601234567"],
            ["Zły", "Mail", "not-an-email", ""],
            ["Zły", "Telefon", "", "12345"],
            ["", "", "", ""],                     # blank line: not a record
            ["", "", "nobody@example.com", ""],   # no name
            ["Krótki"],                            # short row: missing cells are empty
            ["Dawid", "Niemiec", "", "4915112345678"]]  # lost its '+'
    verified, done = run_import(api, csv_bytes(rows))
    assert verified["total"] == 6 and verified["ok"] == 2
    messages = [e["message"] for e in verified["errors"]]
    assert messages[0] == "Record 2: email 1 should match format \"email\" ('not-an-email')"
    assert messages[1].startswith('Record 3: phone 1 should match format "phone"')
    assert messages[2].startswith("Record 4: a first name, last name or organisation is required")
    assert "lost its leading \"+\"" in messages[3] and messages[3].startswith("Record 6")
    assert verified["warnings"] == [{"code": "lost_plus", "count": 1}]
    assert (done["ok"], done["total"]) == (2, 6)
    assert set(contacts_by_last(database)) == {"Dobry", ""}


def test_reimport_does_not_duplicate_and_updates(api, database):
    rows = [["First name", "Last name", "Email 1", "Phone 1", "Organisation"],
            ["Jan", "Kowalski", "jan@example.com", "601234567", "ACME"],
            ["Anna", "Nowak", "", "+48221234567", ""],
            ["Jan", "Kowalski", "JAN@example.com", "", "ACME 2"]]     # same person twice in one file
    _, first = run_import(api, csv_bytes(rows))
    assert (first["created"], first["ok"]) == (2, 3)
    rows[2][3] = "22 123 45 67"                  # the same number, written differently
    rows[2][2] = "anna@example.com"              # a new email for Anna
    _, again = run_import(api, csv_bytes(rows))
    assert (again["created"], again["updated"]) == (0, 2)
    with database.session() as s:
        assert s.scalar(select(func.count(Contact.id))) == 2
        anna = C.find_by_phone(s, "+48221234567")
        assert [e.email for e in anna.emails] == ["anna@example.com"]
        assert C.find_by_email(s, "jan@example.com").organisation == "ACME 2"


def test_header_only_file(api, database):
    r = upload(api, csv_bytes([["First name", "Last name", "Email"]]))
    assert r.status_code == 201 and r.json["preview"]["rows"] == []
    verified, done = run_import(api, csv_bytes([["First name", "Last name", "Email"]]))
    assert (verified["total"], verified["ok"]) == (0, 0)
    assert {"code": "no_records"} in verified["warnings"]
    assert done["status"] == "done" and done["created"] == 0


def test_empty_binary_and_too_large_files_are_refused(api, app, database):
    assert upload(api, b"").status_code == 400
    r = upload(api, b"\x00\x01\x02PK\x03\x04" * 10)
    assert r.status_code == 400 and "not a text" in r.json["error"]["message"]
    big = b"First name,Last name\r\n" + b"Jan,Kowalski\r\n" * (11 * 1024 * 1024 // 14)
    assert len(big) > 10 * 1024 * 1024
    r = upload(api, big)
    assert r.status_code == 413 and "10 MB" in r.json["error"]["message"]
    with database.session() as s:
        assert s.scalar(select(func.count(ContactImport.id))) == 0
    imports = app.extensions["centrala.settings"].data_dir / "uploads" / "imports"
    assert not imports.exists() or list(imports.iterdir()) == []   # nothing left behind


def test_formula_looking_cells_are_kept_as_text(api, database):
    rows = [["First name", "Last name", "Organisation", "Phone"],
            ["=HYPERLINK(\"http://evil\",\"x\")", "Nowak", "@SUM(A1)", "+48 601 234 567"],
            ["'=kept", "-Minus", "+cmd|' /C calc'!A0", ""]]
    _, done = run_import(api, csv_bytes(rows))
    assert done["ok"] == 2
    got = contacts_by_last(database)
    assert got["Nowak"]["first_name"] == '=HYPERLINK("http://evil","x")'
    assert got["Nowak"]["organisation"] == "@SUM(A1)"
    assert got["Nowak"]["phones"][0]["number"] == "+48601234567"
    assert got["-Minus"]["first_name"] == "=kept"       # the export's guard apostrophe is removed


def test_mapping_rules(api, database):
    iid = upload(api, csv_bytes([["Ala", "B", "q@y.pl", "r@y.pl"], ["Jan", "K", "x@y.pl", "z@y.pl"]])).json["id"]
    put = lambda cols, h=True: api.put(f"/api/v1/contacts/imports/{iid}/mapping",
                                       json={"has_header": h, "columns": cols})
    assert put([{"index": 9, "field": "first_name"}]).status_code == 422
    assert put([{"index": 0, "field": "shoe_size"}]).status_code == 422
    r = put([{"index": 2, "field": "email", "slot": 1}, {"index": 3, "field": "email", "slot": 1}])
    assert r.status_code == 422 and "number them" in r.json["error"]["message"]
    assert put([{"index": 0, "field": "first_name"}]).status_code == 200
    r = api.post(f"/api/v1/contacts/imports/{iid}/verify")
    assert r.status_code == 409 and "first_name and last_name" in r.json["error"]["message"]
    assert api.post(f"/api/v1/contacts/imports/{iid}/commit").status_code == 409   # not verified
    cols = [{"index": 0, "field": "first_name"}, {"index": 1, "field": "last_name"},
            {"index": 2, "field": "email", "slot": 2}, {"index": 3, "field": "email", "slot": 1}]
    assert put(cols, h=False).status_code == 200
    assert api.post(f"/api/v1/contacts/imports/{iid}/verify").status_code == 202
    v = wait_status(api, iid)
    assert (v["total"], v["ok"]) == (2, 2)   # no header: the first row is a record too
    assert api.post(f"/api/v1/contacts/imports/{iid}/commit").status_code == 202
    wait_status(api, iid, ("done",))
    assert put(cols).status_code == 409      # an imported file stays as it was
    with database.session() as s:
        jan = C.find_by_email(s, "z@y.pl")
        assert [e.email for e in jan.emails] == ["z@y.pl", "x@y.pl"]   # numbered order
    assert api.get("/api/v1/contacts/imports/999").status_code == 404


def test_export_import_round_trip_keeps_every_field(api, admin, database):
    with database.session() as s:
        CF.create(s, "ID number", "id_number", "short")
        CF.create(s, "History", "history", "long")
        C.create(s, C.ContactData(first_name="Łucja", last_name="=Kowalska", organisation="+ACME; \"Ltd\"",
                                  address="ul. Długa 1\r\n00-001 Warszawa", note="'quoted\n@mention -x",
                                  emails=[("l@x.pl", "home"), ("k@y.pl", "other"), ("z@z.pl", "work")],
                                  phones=[("+48601234567", "work"), ("+4915112345678", "fax")],
                                  custom={"id_number": "=1+1", "history": "a\nb"}))
        C.create(s, C.ContactData(first_name="", last_name="", organisation="Only Org",
                                  phones=[("+48221234567", "home")]))
        C.create(s, C.ContactData(first_name="Tab", last_name="Start", note="\tindented"))
    with database.session() as s:
        before = sorted((_strip(C.as_dict(c)) for c in s.scalars(select(Contact))), key=repr)
    exported = api.get("/api/v1/contacts/export")
    assert exported.status_code == 200
    with database.session() as s:     # start from an empty address book
        for c in s.scalars(select(Contact)):
            s.delete(c)
    _, done = run_import(api, exported.data)
    assert done["ok"] == 3, done
    with database.session() as s:
        after = sorted((_strip(C.as_dict(c)) for c in s.scalars(select(Contact))), key=repr)
    assert after == before


def _strip(d):
    return {k: v for k, v in d.items() if k not in ("id", "created_at", "updated_at")}


# -- the panel's wizard (HTTP) --------------------------------------------------------------------------------
def test_wizard_over_http(agent, database):
    token = csrf(agent, "/contacts/imports/new")
    data = csv_bytes([["Name", "Surname", "E-mail 1", "E-mail 2", "Phone"],
                      ["Adam", "F.", "a@wp.pl", "b@wp.pl", "+48601234567"],
                      ["Adam", "Zły", "", "", "48 60 12"]], sep=";")
    r = agent.post("/contacts/imports", data={"csrf_token": token, "file": (io.BytesIO(data), "kontakty.csv")},
                   content_type="multipart/form-data")
    assert r.status_code == 302 and "/configure" in r.headers["Location"]
    iid = int(re.search(r"/imports/(\d+)/", r.headers["Location"]).group(1))
    page = agent.get(r.headers["Location"]).get_data(as_text=True)
    assert "The first row of the imported file is headers" in page and "a@wp.pl" in page
    assert re.search(r'id="verify-btn"[^>]*disabled', page) is None     # Name/Surname guessed
    lst = agent.get("/contacts/imports").get_data(as_text=True)
    assert "kontakty.csv" in lst and "Configure" in lst and "updates that contact" in lst
    form = {"csrf_token": token, "has_header": "1", "field_0": "first_name", "field_1": "last_name",
            "field_2": "email", "slot_2": "1", "field_3": "email", "slot_3": "2", "field_4": "phone", "slot_4": "1",
            "action": "verify"}
    r = agent.post(f"/contacts/imports/{iid}/configure", data=form)
    assert r.status_code == 302 and r.headers["Location"].endswith("/contacts/imports")
    wait_for(lambda: agent.get(f"/contacts/imports/{iid}.json").json["status"] == "verified", 20, what="verified")
    lst = agent.get("/contacts/imports").get_data(as_text=True)
    assert "1/2" in lst and "Error report" in lst
    report = agent.get(f"/contacts/imports/{iid}/report").get_data(as_text=True)
    assert 'Record 2: Phone 1 should match format &#34;phone&#34;' in report
    full = agent.get(f"/contacts/imports/{iid}/report?download=1")
    assert full.status_code == 200 and b"Record 2" in full.data
    assert agent.get(f"/contacts/imports/{iid}/file").data == data
    r = agent.post(f"/contacts/imports/{iid}/import", data={"csrf_token": token})
    assert r.status_code == 302
    wait_for(lambda: agent.get(f"/contacts/imports/{iid}.json").json["status"] == "done", 20, what="done")
    with database.session() as s:
        adam = C.find_by_phone(s, "+48601234567")
        assert adam.last_name == "F." and [e.email for e in adam.emails] == ["a@wp.pl", "b@wp.pl"]
    # without first and last name mapped, Verify does nothing
    r = agent.post("/contacts/imports", data={"csrf_token": token, "file": (io.BytesIO(data), "k2.csv")},
                   content_type="multipart/form-data")
    iid2 = int(re.search(r"/imports/(\d+)/", r.headers["Location"]).group(1))
    r = agent.post(f"/contacts/imports/{iid2}/configure", data={"csrf_token": token, "has_header": "1",
                                                                "field_0": "first_name", "action": "verify"})
    assert r.status_code == 302 and "configure" in r.headers["Location"]
    assert agent.get(f"/contacts/imports/{iid2}.json").json["status"] == "uploaded"


def test_wizard_refuses_large_file(agent, database):
    token = csrf(agent, "/contacts/imports/new")
    big = b"a,b\r\n" + b"x" * (10 * 1024 * 1024 + 10)
    r = agent.post("/contacts/imports", data={"csrf_token": token, "file": (io.BytesIO(big), "big.csv")},
                   content_type="multipart/form-data")
    assert r.status_code == 413 and "larger than 10 MB" in r.get_data(as_text=True)
    r = agent.post("/contacts/imports", data={"csrf_token": token, "file": (io.BytesIO(big), "big.csv")},
                   content_type="multipart/form-data", headers={"Accept": "application/json"})
    assert r.status_code == 413 and "10 MB" in r.json["error"]["message"]


def test_upload_cap_is_enforced_while_copying(tmp_path):
    """Without a Content-Length (chunked upload) the copy itself stops at the limit."""
    from centrala import contact_import as I

    with pytest.raises(I.ImportError_) as exc:
        I.save_upload(tmp_path, io.BytesIO(b"x" * 5000), limit=4096)
    assert exc.value.code == "too_large"
    assert list(I.imports_dir(tmp_path).iterdir()) == []
    stored, size = I.save_upload(tmp_path, io.BytesIO(b"a,b\r\n1,2\r\n"), limit=4096)
    assert size == 10 and (I.imports_dir(tmp_path) / f"{stored}.csv").read_bytes() == b"a,b\r\n1,2\r\n"


def test_delimiter_and_encoding_detection(tmp_path):
    from centrala import contact_import as I

    cases = {
        b"a;b;c\r\n\"x;y\";2;3\r\n": ("utf-8", ";"),
        b"a\tb\r\n1\t2\r\n": ("utf-8", "\t"),
        "imię,nazwisko\r\nŁ,Ż\r\n".encode("cp1250"): ("cp1250", ","),
        b"\xef\xbb\xbfname;x\r\n1;2\r\n": ("utf-8-sig", ";"),
        b"\"Nowak, Jan\";\"a\nb\";3\r\n\"Kowal, Ewa\";x;4\r\n": ("utf-8", ";"),
    }
    for i, (data, (enc, sep)) in enumerate(cases.items()):
        path = tmp_path / f"{i}.csv"
        path.write_bytes(data)
        assert I.detect_encoding(path) == enc, data
        assert I.detect_delimiter(path, enc) == sep, data


def test_a_step_interrupted_by_a_restart_can_run_again(api, agent, database):
    """A verify or import whose process died stays 'running' until its heartbeat is old; then
    the status list says so and it can be started again without duplicates."""
    from datetime import datetime, timedelta, timezone

    from centrala import contact_import as I

    data = csv_bytes([["First name", "Last name", "Phone"], ["Jan", "Kowalski", "+48601234567"],
                      ["Anna", "Nowak", "+48221234567"]])
    verified, _ = run_import(api, data)
    iid = verified["id"]
    with database.session() as s:        # as if the import died after its first contact
        imp = s.get(ContactImport, iid)
        imp.status, imp.finished_at = "importing", None
        imp.heartbeat_at = datetime.now(timezone.utc) - timedelta(seconds=5)
        c = C.find_by_phone(s, "+48221234567")
        s.delete(c)
        staged = I.staged_path(api.application.extensions["centrala.settings"].data_dir, imp)
    staged.write_text('{"f":"Jan","l":"Kowalski","o":"","a":"","n":"","e":[],"p":[["+48601234567","mobile"]],"c":{}}\n'
                      '{"f":"Anna","l":"Nowak","o":"","a":"","n":"","e":[],"p":[["+48221234567","mobile"]],"c":{}}\n')
    assert api.post(f"/api/v1/contacts/imports/{iid}/commit").status_code == 409   # still fresh: running
    assert "Interrupted" not in agent.get("/contacts/imports").get_data(as_text=True)
    with database.session() as s:
        s.get(ContactImport, iid).heartbeat_at = datetime.now(timezone.utc) - timedelta(seconds=I.STALE_SECONDS + 5)
    assert api.get(f"/api/v1/contacts/imports/{iid}").json["stale"] is True
    assert "Interrupted" in agent.get("/contacts/imports").get_data(as_text=True)
    assert api.post(f"/api/v1/contacts/imports/{iid}/commit").status_code == 202
    done = wait_status(api, iid, ("done",))
    assert (done["created"], done["updated"]) == (1, 1)
    with database.session() as s:
        assert s.scalar(select(func.count(Contact.id))) == 2


# -- deleting an import (CON-3) ----------------------------------------------------------------------
def _files_of(app, iid, database):
    from centrala import contact_import as I

    data_dir = app.extensions["centrala.settings"].data_dir
    with database.session() as s:
        imp = s.get(ContactImport, iid)
        return [I.original_path(data_dir, imp), I.staged_path(data_dir, imp), I.report_path(data_dir, imp)]


def test_delete_an_import_over_the_api_keeps_its_contacts(api, app, make_user, database):
    from datetime import datetime, timedelta, timezone

    from centrala import contact_import as I
    from centrala.models import AuditEntry

    data = csv_bytes([["First name", "Last name", "Phone"], ["Jan", "Kowalski", "+48601234567"],
                      ["Zły", "Numer", "12"]])
    verified, done = run_import(api, data)
    iid = verified["id"]
    assert done["created"] == 1 and done["created_by"] is not None
    original, staged, report = _files_of(app, iid, database)
    assert original.is_file() and report.is_file()

    # while verify or import runs it stays, with a clear 409; an interrupted one may go
    with database.session() as s:
        s.get(ContactImport, iid).status = "importing"
        s.get(ContactImport, iid).heartbeat_at = datetime.now(timezone.utc)
    r = api.delete(f"/api/v1/contacts/imports/{iid}")
    assert r.status_code == 409 and "running" in r.json["error"]["message"]
    assert api.get(f"/api/v1/contacts/imports/{iid}").status_code == 200 and original.is_file()

    # someone else (not an administrator) may not; the uploader may
    other = make_user("other@example.com")
    with database.session() as s:
        other_token = create_api_token(s, s.get(User, other), "t")
        s.get(ContactImport, iid).heartbeat_at = datetime.now(timezone.utc) - timedelta(seconds=I.STALE_SECONDS + 5)
    r = api.delete(f"/api/v1/contacts/imports/{iid}", headers={"Authorization": f"Bearer {other_token}"})
    assert r.status_code == 403
    assert api.delete(f"/api/v1/contacts/imports/{iid}").status_code == 204
    assert api.get(f"/api/v1/contacts/imports/{iid}").status_code == 404
    assert not original.exists() and not staged.exists() and not report.exists()
    assert api.delete(f"/api/v1/contacts/imports/{iid}").status_code == 404
    with database.session() as s:     # the contact it created stays, only the link to the import goes
        jan = C.find_by_phone(s, "+48601234567")
        assert jan is not None and jan.import_id is None
        entry = s.scalar(select(AuditEntry).where(AuditEntry.action == "contact_import.deleted"))
        assert (entry.actor_email, entry.target) == ("integrator@example.com", "contacts.csv")
    # an administrator may delete anyone's import
    iid2 = upload(api, data).json["id"]
    admin_id = make_user("boss@example.com", role="admin")
    with database.session() as s:
        admin_token = create_api_token(s, s.get(User, admin_id), "t")
    assert api.delete(f"/api/v1/contacts/imports/{iid2}",
                      headers={"Authorization": f"Bearer {admin_token}"}).status_code == 204
    spec = api.get("/api/v1/openapi.json").json
    assert "delete" in spec["paths"]["/contacts/imports/{id}"]


def test_delete_refuses_a_step_started_after_the_record_was_read(api, app, database):
    """The check and the delete are one statement: a verify claimed in between wins."""
    from centrala import contact_import as I

    iid = upload(api, csv_bytes([["First name", "Last name"], ["Jan", "Kowalski"]])).json["id"]
    data_dir = app.extensions["centrala.settings"].data_dir
    s = database.sessions()
    try:
        imp = s.get(ContactImport, iid)          # read while "uploaded"
        assert I.claim(database, data_dir, iid, "verify")       # someone starts Verify
        with pytest.raises(I.ImportError_) as exc:
            I.delete_import(s, data_dir, imp)
        assert exc.value.code == "running"
        s.rollback()
    finally:
        s.close()
    with database.session() as s:
        assert s.get(ContactImport, iid).status == "verifying"


def test_delete_an_import_in_the_panel(app, agent, admin, make_user, database):
    from datetime import datetime, timezone

    from .web_helpers import login

    token = csrf(agent, "/contacts/imports/new")
    data = csv_bytes([["First name", "Last name", "Email"], ["Ewa", "Nowak", "ewa@example.com"]])
    r = agent.post("/contacts/imports", data={"csrf_token": token, "file": (io.BytesIO(data), "lista.csv")},
                   content_type="multipart/form-data")
    iid = int(re.search(r"/imports/(\d+)/", r.headers["Location"]).group(1))
    original = _files_of(app, iid, database)[0]
    page = agent.get("/contacts/imports").get_data(as_text=True)
    # the confirmation says what goes and what stays
    assert f'action="/contacts/imports/{iid}/delete"' in page
    assert ("Delete the import of lista.csv with its original file and error report? Contacts it created or "
            "updated are not deleted.") in page
    # a running one: no button, and a post is refused with a clear message
    with database.session() as s:
        s.get(ContactImport, iid).status = "verifying"
        s.get(ContactImport, iid).heartbeat_at = datetime.now(timezone.utc)
    assert f'/contacts/imports/{iid}/delete' not in agent.get("/contacts/imports").get_data(as_text=True)
    r = agent.post(f"/contacts/imports/{iid}/delete", data={"csrf_token": token})
    assert r.status_code == 302
    assert "This import is running and cannot be deleted now." in agent.get("/contacts/imports").get_data(as_text=True)
    with database.session() as s:
        s.get(ContactImport, iid).status = "verified"
    # another agent sees no button and gets 403; without CSRF nothing happens
    make_user("olga@example.com")
    olga = app.test_client()
    login(olga, "olga@example.com")
    assert f'/contacts/imports/{iid}/delete' not in olga.get("/contacts/imports").get_data(as_text=True)
    assert olga.post(f"/contacts/imports/{iid}/delete", data={"csrf_token": csrf(olga, "/contacts")}).status_code == 403
    assert agent.post(f"/contacts/imports/{iid}/delete").status_code == 400
    assert original.is_file()
    # the uploader deletes it (in Polish here)
    agent.post("/language", data={"csrf_token": token, "lang": "pl"})
    r = agent.post(f"/contacts/imports/{iid}/delete", data={"csrf_token": token})
    assert r.status_code == 302 and r.headers["Location"].endswith("/contacts/imports")
    page = agent.get("/contacts/imports").get_data(as_text=True)
    assert "Usunięto import lista.csv. Kontakty, które utworzył lub zaktualizował, pozostają." in page
    assert not original.exists()
    with database.session() as s:
        assert s.get(ContactImport, iid) is None
    # administrators see the button on everyone's imports
    r = agent.post("/contacts/imports", data={"csrf_token": token, "file": (io.BytesIO(data), "b.csv")},
                   content_type="multipart/form-data")
    iid = int(re.search(r"/imports/(\d+)/", r.headers["Location"]).group(1))
    assert f'/contacts/imports/{iid}/delete' in admin.get("/contacts/imports").get_data(as_text=True)
