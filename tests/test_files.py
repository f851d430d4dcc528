"""Files tab (FIL-1, FIL-2) over HTTP: folders, upload, open/download headers, search, details,
delete permissions, the size limit and the quota, refusing path tricks in names; the REST API."""
import io
import re

import pytest
from sqlalchemy import select

from centrala.models import User
from centrala.models_files import Folder, StoredFile
from centrala.tokens import create_api_token

from .helpers import instance_settings
from .web_helpers import csrf, login

pytestmark = pytest.mark.db
MB = 1024 * 1024


@pytest.fixture
def web_settings(tmp_path, database_url, smtp_server):
    """Small limits: 1 MB per file, 2 MB for everybody."""
    return instance_settings(tmp_path / "data", database_url, CENTRALA_SMTP_PORT=smtp_server.port,
                             CENTRALA_FILES_MAX_UPLOAD_MB=1, CENTRALA_FILES_QUOTA_MB=2)


def upload(client, name, data: bytes, folder_id=None):
    return client.post("/files/upload", data={
        "csrf_token": csrf(client, "/files"), "folder_id": str(folder_id or ""),
        "file": (io.BytesIO(data), name)}, content_type="multipart/form-data")


def new_folder(client, name, parent_id=None):
    return client.post("/files/folders", data={"csrf_token": csrf(client, "/files"), "name": name,
                                               "parent_id": str(parent_id or "")})


def rows(database):
    with database.session() as s:
        return {f.name: (f.id, f.folder_id, f.size_bytes, f.storage_key) for f in s.scalars(select(StoredFile))}


def stored_paths(settings):
    return sorted(p for p in settings.files_dir.rglob("*") if p.is_file())


def test_files_need_login(app, agent, database):
    upload(agent, "secret.txt", b"top secret")
    file_id = rows(database)["secret.txt"][0]
    anon = app.test_client()
    for path in ("/files", f"/files/{file_id}/download", f"/files/{file_id}/open", f"/files?folder=1"):
        r = anon.get(path)
        assert r.status_code == 302 and "/login" in r.headers["Location"], path
        assert b"top secret" not in r.data
    r = anon.post("/files/upload", data={"file": (io.BytesIO(b"x"), "x.txt")}, content_type="multipart/form-data")
    assert r.status_code in (302, 400)
    assert set(rows(database)) == {"secret.txt"}


def test_folders_upload_breadcrumbs_search_and_details(agent, database, web_settings):
    r = agent.get("/files")
    assert r.status_code == 200
    html = r.get_data(as_text=True)
    assert "You are using 0 B of 2 MB." in html and "This folder is empty" in html
    assert new_folder(agent, "Umowy").status_code == 303
    with database.session() as s:
        umowy = s.scalar(select(Folder).where(Folder.name == "Umowy")).id
    assert new_folder(agent, "2026", umowy).status_code == 303
    with database.session() as s:
        sub = s.scalar(select(Folder).where(Folder.name == "2026")).id
    r = upload(agent, "umowa Kowalski.pdf", b"%PDF-1.4 test", sub)
    assert r.status_code == 303 and r.headers["Location"].endswith(f"/files?folder={sub}")
    html = agent.get(f"/files?folder={sub}").get_data(as_text=True)
    crumbs = re.search(r'<nav class="breadcrumbs".*?</nav>', html, re.S).group(0)
    assert [m for m in re.findall(r">([^<>]+)</a>", crumbs)] == ["Files", "Umowy", "2026"]
    assert "umowa Kowalski.pdf" in html and 'data-type="application/pdf"' in html
    assert 'data-who="Adam Agent"' in html and 'data-size="13 B"' in html
    assert "You are using 13 B of 2 MB." in html
    # the top level shows the folder, not the file inside it
    top = agent.get("/files").get_data(as_text=True)
    assert "Umowy" in top and "umowa Kowalski.pdf" not in top
    # search by name finds it wherever it is, with its folder path
    found = agent.get("/files?q=KOWAL").get_data(as_text=True)
    assert "umowa Kowalski.pdf" in found and "Umowy / 2026" in found
    assert "Nothing matches" in agent.get("/files?q=nothing-like-this").get_data(as_text=True)
    # the same name again in the same folder is kept under a new name
    upload(agent, "umowa Kowalski.pdf", b"%PDF-1.4 second", sub)
    assert "umowa Kowalski (2).pdf" in rows(database)
    # a folder name twice in one place is refused with a clear message
    r = new_folder(agent, "umowy")
    assert r.status_code == 303
    assert "already here" in agent.get("/files").get_data(as_text=True)


def test_open_and_download_headers(agent, database):
    upload(agent, "notes.txt", "zażółć".encode())
    upload(agent, "page.html", b"<script>alert(1)</script>")
    upload(agent, "logo.svg", b'<svg xmlns="http://www.w3.org/2000/svg" onload="alert(1)"/>')
    upload(agent, "raport.pdf", b"%PDF-1.4")
    ids = {name: v[0] for name, v in rows(database).items()}
    r = agent.get(f"/files/{ids['notes.txt']}/open")
    assert r.status_code == 200 and r.data == "zażółć".encode()
    assert r.headers["Content-Type"].startswith("text/plain")
    assert r.headers["Content-Disposition"].startswith("inline")
    assert r.headers["X-Content-Type-Options"] == "nosniff"
    for name in ("page.html", "logo.svg"):   # never rendered in the panel's origin
        r = agent.get(f"/files/{ids[name]}/open")
        assert r.headers["Content-Disposition"].startswith("attachment"), name
        assert r.headers["X-Content-Type-Options"] == "nosniff"
        assert "sandbox" in r.headers["Content-Security-Policy"]
    assert agent.get(f"/files/{ids['page.html']}/open").headers["Content-Type"].startswith("text/html")
    r = agent.get(f"/files/{ids['raport.pdf']}/download")
    assert r.headers["Content-Type"] == "application/pdf"
    assert r.headers["Content-Disposition"] == "attachment; filename=raport.pdf"
    assert agent.get("/files/999/download").status_code == 404


def test_a_big_folder_is_paged(agent, database, monkeypatch):
    from web.files import http as files_http

    monkeypatch.setattr(files_http, "PER_PAGE", 2)
    for name in ("c.txt", "a.txt", "b.txt"):
        upload(agent, name, b"x")
    new_folder(agent, "Zeta")
    page1 = agent.get("/files").get_data(as_text=True)
    page2 = agent.get("/files?page=2").get_data(as_text=True)
    names = lambda html: re.findall(r'data-kind="file" data-id="\d+" data-name="([^"]+)"', html)  # noqa: E731
    assert names(page1) == ["a.txt", "b.txt"] and names(page2) == ["c.txt"]
    assert "Zeta" in page1 and "Zeta" in page2 and "Page 1 of 2" in page1


def test_names_are_rendered_inert(agent, database):
    upload(agent, "<img src=x onerror=alert(1)>.txt", b"x")
    new_folder(agent, "<b>bold</b>")
    html = agent.get("/files").get_data(as_text=True)
    assert "<img src=x" not in html and "<b>bold</b>" not in html
    assert "&lt;img src=x onerror=alert(1)&gt;.txt" in html and "&lt;b&gt;bold&lt;/b&gt;" in html


def test_non_ascii_name_download(agent, database):
    upload(agent, "Umowa – Łódź.txt", b"abc")
    file_id = rows(database)["Umowa – Łódź.txt"][0]
    r = agent.get(f"/files/{file_id}/download")
    assert "filename*=UTF-8''Umowa%20%E2%80%93%20%C5%81%C3%B3d%C5%BA.txt" in r.headers["Content-Disposition"]


BAD_NAMES = ["../../etc/passwd", "..\\..\\secrets.json", "a/b.txt", "..", ".", "x\x00.txt", "bad\nname.txt", ""]


@pytest.mark.parametrize("name", ["../../etc/passwd", "a/b.txt", "..", "/etc/passwd"])
def test_path_tricks_in_uploaded_names_are_refused(agent, database, web_settings, name):
    """(Backslashes and control characters do not survive the test client's multipart
    encoding; the folder form and the API below send them as plain fields.)"""
    before = stored_paths(web_settings)
    r = upload(agent, name, b"payload")
    assert r.status_code == 303
    assert "is not a valid name" in agent.get("/files").get_data(as_text=True)
    assert rows(database) == {} and stored_paths(web_settings) == before
    assert not (web_settings.data_dir.parent / "etc").exists()


@pytest.mark.parametrize("name", BAD_NAMES)
def test_path_tricks_in_folder_names_are_refused(agent, database, name):
    new_folder(agent, name)
    html = agent.get("/files").get_data(as_text=True)
    assert "is not a valid name" in html
    with database.session() as s:
        assert s.scalars(select(Folder)).all() == []


def test_path_tricks_in_api_names_are_refused(app, make_user, database, web_settings):
    uid = make_user("agent@example.com")
    with database.session() as s:
        h = {"Authorization": f"Bearer {create_api_token(s, s.get(User, uid), 't')}"}
    c = app.test_client()
    for name in BAD_NAMES[:-1]:
        r = c.post("/api/v1/files", data={"file": (io.BytesIO(b"x"), "ok.txt"), "name": name}, headers=h,
                   content_type="multipart/form-data")
        assert r.status_code == 400 and "Invalid name" in r.json["error"]["message"], name
        assert c.post("/api/v1/folders", json={"name": name}, headers=h).status_code == 400, name
    assert rows(database) == {} and stored_paths(web_settings) == []


def test_bytes_are_stored_under_a_server_chosen_name(agent, database, web_settings):
    upload(agent, "report.txt", b"hello")
    (file_id, _, size, key), = rows(database).values()
    assert re.fullmatch(r"[0-9a-f]{32}", key) and size == 5
    paths = stored_paths(web_settings)
    assert paths == [web_settings.files_dir / key[:2] / key] and paths[0].read_bytes() == b"hello"


def test_size_limit_and_quota_refused_with_clear_errors(agent, database, web_settings):
    r = upload(agent, "big.bin", b"x" * (MB + 1))
    assert r.status_code == 303
    html = agent.get("/files").get_data(as_text=True)
    assert "The file is too large: at most 1 MB per file." in html
    assert rows(database) == {} and stored_paths(web_settings) == []
    # exactly the limit is fine; two of them fill the 2 MB quota
    assert upload(agent, "a.bin", b"a" * MB).status_code == 303
    assert upload(agent, "b.bin", b"b" * (MB - 10)).status_code == 303
    assert "You are using 2 MB of 2 MB." in agent.get("/files").get_data(as_text=True)
    upload(agent, "c.bin", b"c" * 11)
    html = agent.get("/files").get_data(as_text=True)
    assert "Not enough storage: 2 MB of 2 MB used, the file needs 11 B." in html
    assert set(rows(database)) == {"a.bin", "b.bin"} and len(stored_paths(web_settings)) == 2
    # a smaller one still fits
    upload(agent, "d.bin", b"d" * 10)
    assert "d.bin" in rows(database)


def test_delete_permissions(app, agent, make_user, database, web_settings):
    upload(agent, "mine.txt", b"mine")
    new_folder(agent, "Folder")
    ids = {n: v[0] for n, v in rows(database).items()}
    make_user("other@example.com", name="Olga Other")
    other = app.test_client()
    login(other, "other@example.com")
    # another agent sees and downloads it but may not delete it
    assert other.get(f"/files/{ids['mine.txt']}/download").data == b"mine"
    assert "mine.txt" in other.get("/files").get_data(as_text=True)
    r = other.post(f"/files/{ids['mine.txt']}/delete", data={"csrf_token": csrf(other, "/files")})
    assert r.status_code == 403
    with database.session() as s:
        folder_id = s.scalar(select(Folder.id))
    assert other.post(f"/files/folders/{folder_id}/delete", data={"csrf_token": csrf(other, "/files")}).status_code == 403
    # without the CSRF token nothing happens either
    assert agent.post(f"/files/{ids['mine.txt']}/delete").status_code == 400
    # the uploader may; the bytes go too
    r = agent.post(f"/files/{ids['mine.txt']}/delete", data={"csrf_token": csrf(agent, "/files")})
    assert r.status_code == 303 and rows(database) == {} and stored_paths(web_settings) == []
    from centrala.models import AuditEntry

    with database.session() as s:   # in the audit log
        entry = s.scalar(select(AuditEntry).where(AuditEntry.action == "file.deleted"))
        assert (entry.actor_email, entry.target) == ("agent@example.com", "mine.txt")
    # a folder with something in it stays
    upload(agent, "inside.txt", b"x", folder_id)
    agent.post(f"/files/folders/{folder_id}/delete", data={"csrf_token": csrf(agent, "/files")})
    assert "is not empty" in agent.get(f"/files?folder={folder_id}").get_data(as_text=True)
    # an administrator may delete anyone's file
    make_user("boss@example.com", role="admin")
    boss = app.test_client()
    login(boss, "boss@example.com")
    inside = rows(database)["inside.txt"][0]
    assert boss.post(f"/files/{inside}/delete", data={"csrf_token": csrf(boss, "/files")}).status_code == 303
    assert boss.post(f"/files/folders/{folder_id}/delete", data={"csrf_token": csrf(boss, "/files")}).status_code == 303
    with database.session() as s:
        assert s.scalars(select(Folder)).all() == []


def test_files_rest_api(app, make_user, database, web_settings):
    uid = make_user("agent@example.com")
    other = make_user("other@example.com")
    with database.session() as s:
        token = create_api_token(s, s.get(User, uid), "t")
        other_token = create_api_token(s, s.get(User, other), "t")
    h = {"Authorization": f"Bearer {token}"}
    c = app.test_client()
    assert c.get("/api/v1/files").status_code == 401
    r = c.post("/api/v1/folders", json={"name": "Docs"}, headers=h)
    assert r.status_code == 201
    folder = r.json["id"]
    assert c.post("/api/v1/folders", json={"name": "../x"}, headers=h).status_code == 400
    r = c.post("/api/v1/files", data={"file": (io.BytesIO(b"abc"), "a.txt"), "folder_id": str(folder)},
               headers=h, content_type="multipart/form-data")
    assert r.status_code == 201 and r.json["size"] == 3 and r.json["folder_id"] == folder
    fid = r.json["id"]
    listing = c.get(f"/api/v1/files?folder_id={folder}", headers=h).json
    assert [f["name"] for f in listing["files"]] == ["a.txt"] and listing["path"][0]["name"] == "Docs"
    assert listing["usage"] == {"used": 3, "quota": 2 * MB, "max_upload": MB}
    assert [f["id"] for f in c.get("/api/v1/files?q=A.T", headers=h).json["files"]] == [fid]
    assert listing["total_files"] == 1
    assert c.get(f"/api/v1/files?folder_id={folder}&offset=1", headers=h).json["files"] == []
    r = c.get(f"/api/v1/files/{fid}/content", headers=h)
    assert r.data == b"abc" and r.headers["X-Content-Type-Options"] == "nosniff"
    assert r.headers["Content-Disposition"].startswith("attachment")
    assert c.get(f"/api/v1/files/{fid}/content").status_code == 401
    r = c.post("/api/v1/files", data={"file": (io.BytesIO(b"x" * (MB + 1)), "big.bin")}, headers=h,
               content_type="multipart/form-data")
    assert r.status_code == 413 and "too large" in r.json["error"]["message"]
    c.post("/api/v1/files", data={"file": (io.BytesIO(b"x" * MB), "one.bin")}, headers=h,
           content_type="multipart/form-data")
    r = c.post("/api/v1/files", data={"file": (io.BytesIO(b"x" * MB), "two.bin")}, headers=h,
               content_type="multipart/form-data")
    assert r.status_code == 507 and "quota" in r.json["error"]["message"]
    r = c.post("/api/v1/files", data={"file": (io.BytesIO(b"x"), "x.txt"), "name": "../../x.txt"}, headers=h,
               content_type="multipart/form-data")
    assert r.status_code == 400
    r = c.patch(f"/api/v1/files/{fid}", json={"name": "b.csv"}, headers=h)
    assert r.status_code == 200 and r.json["name"] == "b.csv" and r.json["content_type"] == "text/csv"
    assert c.patch(f"/api/v1/files/{fid}", json={"name": "a/b"}, headers=h).status_code == 400
    assert c.patch(f"/api/v1/folders/{folder}", json={"name": "Papers"}, headers=h).json["name"] == "Papers"
    assert c.patch(f"/api/v1/folders/{folder}", json={"name": "X"},
                   headers={"Authorization": f"Bearer {other_token}"}).status_code == 403
    assert c.delete(f"/api/v1/folders/{folder}", headers=h).status_code == 409
    assert c.delete(f"/api/v1/files/{fid}", headers={"Authorization": f"Bearer {other_token}"}).status_code == 403
    assert c.delete(f"/api/v1/files/{fid}", headers=h).status_code == 204
    assert c.delete(f"/api/v1/folders/{folder}", headers=h).status_code == 204


def test_rename_files_and_folders(app, agent, make_user, database):
    upload(agent, "draft.txt", b"x")
    upload(agent, "other.txt", b"y")
    new_folder(agent, "Old")
    new_folder(agent, "Taken")
    ids = {n: v[0] for n, v in rows(database).items()}
    with database.session() as s:
        folders = {f.name: f.id for f in s.scalars(select(Folder))}
    token = csrf(agent, "/files")
    r = agent.post(f"/files/{ids['draft.txt']}/rename", data={"csrf_token": token, "name": "final.pdf"})
    assert r.status_code == 303
    with database.session() as s:
        f = s.get(StoredFile, ids["draft.txt"])
        assert (f.name, f.content_type) == ("final.pdf", "application/pdf")
    agent.post(f"/files/{ids['draft.txt']}/rename", data={"csrf_token": token, "name": "OTHER.txt"})
    assert "A file named “OTHER.txt” is already here." in agent.get("/files").get_data(as_text=True)
    agent.post(f"/files/{ids['draft.txt']}/rename", data={"csrf_token": token, "name": "../x"})
    assert "is not a valid name" in agent.get("/files").get_data(as_text=True)
    agent.post(f"/files/folders/{folders['Old']}/rename", data={"csrf_token": token, "name": "taken"})
    assert "already here" in agent.get("/files").get_data(as_text=True)
    agent.post(f"/files/folders/{folders['Old']}/rename", data={"csrf_token": token, "name": "New"})
    with database.session() as s:
        assert s.get(Folder, folders["Old"]).name == "New"
    # someone else may not
    make_user("other@example.com")
    other = app.test_client()
    login(other, "other@example.com")
    assert other.post(f"/files/{ids['other.txt']}/rename",
                      data={"csrf_token": csrf(other, "/files"), "name": "mine.txt"}).status_code == 403
    # the page offers renaming only where it is allowed
    assert 'data-rename=' in agent.get("/files").get_data(as_text=True)
    assert 'data-rename=' not in other.get("/files").get_data(as_text=True)


# -- moving between folders (FIL-1) ------------------------------------------------------------
def folder_ids(database):
    with database.session() as s:
        return {f.name: f.id for f in s.scalars(select(Folder))}


def parents(database):
    with database.session() as s:
        return ({f.name: f.parent_id for f in s.scalars(select(Folder))},
                {f.name: f.folder_id for f in s.scalars(select(StoredFile))})


def move(client, kind, item_id, target):
    path = f"/files/{item_id}/move" if kind == "file" else f"/files/folders/{item_id}/move"
    return client.post(path, data={"csrf_token": csrf(client, "/files"), "folder_id": "" if target is None else target})


def test_move_files_and_folders_in_the_panel(agent, database):
    new_folder(agent, "Umowy")
    new_folder(agent, "Archiwum")
    f = folder_ids(database)
    new_folder(agent, "2025", f["Umowy"])
    f = folder_ids(database)
    upload(agent, "cennik.txt", b"cennik")
    upload(agent, "umowa.pdf", b"%PDF", f["2025"])
    files = {n: v[0] for n, v in rows(database).items()}

    # a file into a folder: the flash names the target, the file is there and nowhere else
    r = move(agent, "file", files["cennik.txt"], f["Umowy"])
    assert r.status_code == 303 and r.headers["Location"].endswith("/files")
    assert "Moved “cennik.txt” to “Umowy”." in agent.get("/files").get_data(as_text=True)
    assert parents(database)[1]["cennik.txt"] == f["Umowy"]
    # a folder with what is inside it, then back to the top level
    assert move(agent, "folder", f["2025"], f["Archiwum"]).status_code == 303
    assert parents(database)[0]["2025"] == f["Archiwum"]
    assert parents(database)[1]["umowa.pdf"] == f["2025"]
    move(agent, "folder", f["2025"], None)
    assert parents(database)[0]["2025"] is None
    assert "Moved “2025” to “Files”." in agent.get("/files").get_data(as_text=True)

    # into itself, or into a folder inside it: refused, nothing changes
    move(agent, "folder", f["Archiwum"], f["Umowy"])
    before = parents(database)
    move(agent, "folder", f["Umowy"], f["Umowy"])
    assert "“Umowy” cannot be moved into itself or into a folder inside it." in agent.get("/files").get_data(as_text=True)
    move(agent, "folder", f["Umowy"], f["Archiwum"])
    assert "cannot be moved into itself" in agent.get("/files").get_data(as_text=True)
    assert parents(database) == before

    # the same name in the target: a clear error, in Polish too, and nothing moves or is renamed
    upload(agent, "CENNIK.TXT", b"other")
    files = {n: v[0] for n, v in rows(database).items()}
    r = move(agent, "file", files["CENNIK.TXT"], f["Umowy"])
    page = agent.get("/files").get_data(as_text=True)
    assert "“Umowy” already has a file named “CENNIK.TXT”. Nothing was moved: rename one of them first." in page
    new_folder(agent, "Archiwum")          # a top-level "Archiwum" while Umowy/Archiwum exists
    move(agent, "folder", _top(database, "Archiwum"), f["Umowy"])
    assert "“Umowy” already has a folder named “Archiwum”." in agent.get("/files").get_data(as_text=True)
    agent.post("/language", data={"csrf_token": csrf(agent, "/files"), "lang": "pl"})
    move(agent, "file", files["CENNIK.TXT"], f["Umowy"])
    assert "„Umowy” ma już plik o nazwie „CENNIK.TXT”." in agent.get("/files").get_data(as_text=True)
    assert parents(database)[1]["CENNIK.TXT"] is None and set(rows(database)) == {"cennik.txt", "umowa.pdf",
                                                                                "CENNIK.TXT"}
    # a target that does not exist
    move(agent, "file", files["CENNIK.TXT"], 99999)
    assert parents(database)[1]["CENNIK.TXT"] is None
    # without the CSRF token nothing happens
    assert agent.post(f"/files/{files['CENNIK.TXT']}/move", data={"folder_id": f["Umowy"]}).status_code == 400


def _top(database, name):
    with database.session() as s:
        return s.scalar(select(Folder.id).where(Folder.name == name, Folder.parent_id.is_(None)))


def test_move_permission_is_the_rename_permission(app, agent, make_user, database):
    upload(agent, "mine.txt", b"x")
    new_folder(agent, "Mine")
    new_folder(agent, "Target")
    f = folder_ids(database)
    file_id = rows(database)["mine.txt"][0]
    make_user("other@example.com")
    other = app.test_client()
    login(other, "other@example.com")
    assert move(other, "file", file_id, f["Target"]).status_code == 403
    assert move(other, "folder", f["Mine"], f["Target"]).status_code == 403
    assert parents(database) == ({"Mine": None, "Target": None}, {"mine.txt": None})
    # only rows one may move are offered for moving
    assert "data-move=" not in other.get("/files").get_data(as_text=True)
    assert "data-move=" in agent.get("/files").get_data(as_text=True)
    make_user("boss@example.com", role="admin")
    boss = app.test_client()
    login(boss, "boss@example.com")
    assert move(boss, "file", file_id, f["Mine"]).status_code == 303
    assert parents(database)[1]["mine.txt"] == f["Mine"]


def test_folder_picker_json(agent, database):
    new_folder(agent, "A")
    a = folder_ids(database)["A"]
    new_folder(agent, "B", a)
    b = folder_ids(database)["B"]
    top = agent.get("/files/picker").json
    assert top == {"id": None, "path": [], "folders": [{"id": a, "name": "A"}]}
    inner = agent.get(f"/files/picker?folder={a}").json
    assert inner["path"] == [{"id": a, "name": "A"}] and inner["folders"] == [{"id": b, "name": "B"}]
    assert agent.get("/files/picker?folder=424242").status_code == 404


def test_move_cannot_make_a_cycle_even_when_two_moves_race(database):
    """A into B and B into A, each checked before the other commits: the second one is refused
    (PostgreSQL: the advisory lock; SQLite: the check under the write lock)."""
    import threading

    from centrala import files as store

    with database.session() as s:
        a = store.create_folder(s, "A", None, None)
        b = store.create_folder(s, "B", None, None)
        ids = a.id, b.id
    results = {}
    first_moved = threading.Event()
    second_checked = threading.Event()

    def first():
        s = database.sessions()
        try:
            store.move(s, s.get(Folder, ids[0]), ids[1])    # A into B, flushed, not committed yet
            first_moved.set()
            second_checked.wait(1)     # the other may have read the tree meanwhile (SQLite: it waits on the lock)
            s.commit()
            results["first"] = "moved"
        except store.FileError as e:
            s.rollback()
            results["first"] = e.code
        finally:
            s.close()

    def second():
        first_moved.wait(5)
        s = database.sessions()
        try:
            folder = s.get(Folder, ids[1])
            second_checked.set()
            store.move(s, folder, ids[0])                   # B into A
            s.commit()
            results["second"] = "moved"
        except store.FileError as e:
            s.rollback()
            results["second"] = e.code
        except Exception as e:  # noqa: BLE001 - e.g. SQLite busy: refused, not a cycle
            s.rollback()
            results["second"] = type(e).__name__
        finally:
            s.close()

    threads = [threading.Thread(target=first), threading.Thread(target=second)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    assert results["first"] == "moved" and results["second"] == "into_itself", results
    with database.session() as s:
        assert {f.name: f.parent_id for f in s.scalars(select(Folder))} == {"A": ids[1], "B": None}


def test_move_over_the_rest_api(app, make_user, database, web_settings):
    uid = make_user("agent@example.com")
    other = make_user("other@example.com")
    with database.session() as s:
        h = {"Authorization": f"Bearer {create_api_token(s, s.get(User, uid), 't')}"}
        oh = {"Authorization": f"Bearer {create_api_token(s, s.get(User, other), 't')}"}
    c = app.test_client()
    docs = c.post("/api/v1/folders", json={"name": "Docs"}, headers=h).json["id"]
    old = c.post("/api/v1/folders", json={"name": "Old", "parent_id": docs}, headers=h).json["id"]
    fid = c.post("/api/v1/files", data={"file": (io.BytesIO(b"abc"), "a.txt")}, headers=h,
                 content_type="multipart/form-data").json["id"]
    # a file into a folder, and renamed on the way in one change
    r = c.patch(f"/api/v1/files/{fid}", json={"folder_id": old, "name": "b.txt"}, headers=h)
    assert r.status_code == 200 and (r.json["folder_id"], r.json["name"]) == (old, "b.txt")
    # back to the top level with null
    assert c.patch(f"/api/v1/files/{fid}", json={"folder_id": None}, headers=h).json["folder_id"] is None
    # a folder into itself / its own descendant: 422, nothing changes
    r = c.patch(f"/api/v1/folders/{docs}", json={"parent_id": old}, headers=h)
    assert r.status_code == 422 and "into itself" in r.json["error"]["message"]
    assert c.patch(f"/api/v1/folders/{docs}", json={"parent_id": docs}, headers=h).status_code == 422
    # a clash: 409, and neither the move nor the rename sent with it happens
    c.post("/api/v1/files", data={"file": (io.BytesIO(b"x"), "c.txt"), "folder_id": str(old)}, headers=h,
           content_type="multipart/form-data")
    r = c.patch(f"/api/v1/files/{fid}", json={"folder_id": old, "name": "C.TXT"}, headers=h)
    assert r.status_code == 409 and r.json["error"]["message"] == \
        "The folder 'Old' already has a file named 'C.TXT'; nothing was changed."
    got = c.get(f"/api/v1/files/{fid}", headers=h).json
    assert (got["folder_id"], got["name"]) == (None, "b.txt")
    c.post("/api/v1/folders", json={"name": "old"}, headers=h)
    r = c.patch(f"/api/v1/folders/{old}", json={"parent_id": None}, headers=h)
    assert r.status_code == 409 and "The top level already has a folder named 'Old'" in r.json["error"]["message"]
    # the folder moves with what is inside it
    r = c.patch(f"/api/v1/folders/{old}", json={"parent_id": None, "name": "Older"}, headers=h)
    assert r.status_code == 200 and (r.json["parent_id"], r.json["name"]) == (None, "Older")
    listing = c.get(f"/api/v1/files?folder_id={old}", headers=h).json
    assert [f["name"] for f in listing["files"]] == ["c.txt"]
    # bad requests, unknown target, permission
    assert c.patch(f"/api/v1/files/{fid}", json={}, headers=h).status_code == 400
    assert c.patch(f"/api/v1/files/{fid}", json={"folder_id": "x"}, headers=h).status_code == 400
    assert c.patch(f"/api/v1/files/{fid}", json={"folder_id": True}, headers=h).status_code == 400
    assert c.patch(f"/api/v1/files/{fid}", json={"folder_id": 99999}, headers=h).status_code == 404
    assert c.patch(f"/api/v1/files/{fid}", json={"folder_id": docs}, headers=oh).status_code == 403
    assert c.patch(f"/api/v1/folders/{old}", json={"parent_id": docs}, headers=oh).status_code == 403
    assert c.get(f"/api/v1/files/{fid}", headers=h).json["folder_id"] is None
    # documented
    spec = c.get("/api/v1/openapi.json").json

    def properties(path):   # the body's schema is a component generated from the route's model
        ref = spec["paths"][path]["patch"]["requestBody"]["content"]["application/json"]["schema"]["$ref"]
        return spec["components"]["schemas"][ref.rsplit("/", 1)[1]]["properties"]

    assert "folder_id" in properties("/files/{id}")
    assert "parent_id" in properties("/folders/{id}")
