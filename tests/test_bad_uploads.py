"""Suite "Bad uploads" (issue 12): hostile or broken files through HTTP — the panel's routes and
the REST API — each refused with a clear message (or, for names, safely renamed), with the
process's memory bounded and nothing written outside the data dir."""
from __future__ import annotations

import io
import time
import zipfile
from pathlib import Path

import pytest
from sqlalchemy import func, select

from centrala import contact_import as I
from centrala.models import User
from centrala.models_contacts import ContactImport
from centrala.tokens import create_api_token

from .helpers import wait_for
from .upload_helpers import files_under, peak_growth_mib
from .web_helpers import csrf

pytestmark = [pytest.mark.uploads, pytest.mark.db]

MEMORY_MIB = 64      # a refused or bounded upload may not raise the process's peak by more than this


@pytest.fixture
def api(app, make_user, database):
    uid = make_user("integrator@example.com")
    with database.session() as s:
        token = create_api_token(s, s.get(User, uid), "uploads")
    client = app.test_client()
    client.environ_base["HTTP_AUTHORIZATION"] = f"Bearer {token}"
    return client


def api_upload(api, source, name="contacts.csv"):
    """``source``: bytes, or a path streamed from disk (large files never sit in memory)."""
    if isinstance(source, bytes):
        return api.post("/api/v1/contacts/imports", data={"file": (io.BytesIO(source), name)},
                        content_type="multipart/form-data")
    with open(source, "rb") as fh:
        return api.post("/api/v1/contacts/imports", data={"file": (fh, name)}, content_type="multipart/form-data")


def panel_upload(client, source, name="contacts.csv", lang="en"):
    token = csrf(client, "/contacts/imports/new")
    fh = io.BytesIO(source) if isinstance(source, bytes) else open(source, "rb")
    with fh:
        return client.post("/contacts/imports", data={"csrf_token": token, "file": (fh, name)},
                           content_type="multipart/form-data", headers={"Accept-Language": lang})


def no_imports(database, web_settings):
    with database.session() as s:
        assert s.scalar(select(func.count(ContactImport.id))) == 0
    imports = web_settings.data_dir / "uploads" / "imports"
    assert not imports.exists() or list(imports.iterdir()) == [], "a refused file was left behind"


@pytest.fixture
def inputs(tmp_path_factory):
    """Where a test writes the files it uploads (not beside the data dir: see ``outside``)."""
    return tmp_path_factory.mktemp("inputs")


@pytest.fixture
def outside(tmp_path, web_settings):
    """Asserts at the end that nothing was written beside the data dir (in the test's own tmp)."""
    def snapshot():
        return {p for p in files_under(tmp_path) if not p.startswith(web_settings.data_dir.name + "/")
                and not p.endswith(("-journal", "-wal", "-shm"))}

    before = snapshot()
    yield
    assert snapshot() == before, "an upload wrote outside the data dir"


# -- CSV ------------------------------------------------------------------------------------------
def million_columns(path):
    """A 9 MB CSV whose header has 1,000,000 columns (the probe's file), written in chunks."""
    with open(path, "w", encoding="ascii") as f:
        for start in range(0, 1_000_000, 50_000):
            f.write(",".join(f"c{i}" for i in range(start, start + 50_000)))
            f.write("," if start + 50_000 < 1_000_000 else "\r\n")
        f.write("Jan,Kowalski\r\n")
    return path


def single_field(path, size):
    with open(path, "wb") as f:
        f.write(b"First name,Note\r\nJan,")
        chunk = b"x" * (1024 * 1024)
        for _ in range(size // len(chunk)):
            f.write(chunk)
        f.write(b"\r\n")
    return path


CSV_CASES = [
    # (name, bytes, status, English message starts with)
    ("empty", b"", 400, "The file is empty."),
    ("binary", bytes(range(256)) * 64, 400, "This is not a text (CSV) file."),
    ("utf16-bom", "\ufeffFirst name,Last name\r\nŁucja,Żak\r\n".encode("utf-16-le"), 400, "UTF-16 files are not supported"),
    ("utf16-no-bom", "First name,Last name\r\nLucja,Zak\r\n".encode("utf-16-le"), 400, "UTF-16 files are not supported"),
    ("utf16be-no-bom", "First name,Last name\r\nLucja,Zak\r\n".encode("utf-16-be"), 400, "UTF-16 files are not supported"),
]


@pytest.mark.parametrize("case", CSV_CASES, ids=[c[0] for c in CSV_CASES])
def test_broken_csv_files_are_refused_with_a_message(api, database, web_settings, outside, case):
    _name, data, status, message = case
    r = api_upload(api, data)
    assert r.status_code == status and r.json["error"]["message"].startswith(message), r.json
    no_imports(database, web_settings)


def test_a_zip_bomb_is_refused_without_being_opened(api, agent, database, web_settings, inputs, outside):
    bomb = inputs / "contacts.zip"
    with zipfile.ZipFile(bomb, "w", zipfile.ZIP_DEFLATED, compresslevel=9) as z:
        with z.open("contacts.csv", "w", force_zip64=True) as member:
            zeros = b"0" * (1024 * 1024)
            for _ in range(200):          # 200 MB of text inside, ~200 KB outside
                member.write(zeros)
    assert bomb.stat().st_size < 1024 * 1024
    r, grew = peak_growth_mib(lambda: api_upload(api, bomb, "contacts.csv"))
    assert r.status_code == 400 and "compressed archive or an Excel workbook" in r.json["error"]["message"]
    assert grew < MEMORY_MIB
    # an .xlsx is a zip too: the same advice, in Polish in the panel
    r = panel_upload(agent, bomb, "kontakty.xlsx", lang="pl")
    assert r.status_code == 400
    assert "To archiwum lub skoroszyt Excela, a nie plik CSV." in r.get_data(as_text=True)
    no_imports(database, web_settings)


def test_oversize_csv_is_refused_before_it_is_read(api, agent, database, web_settings, inputs, outside):
    big = single_field(inputs / "big.csv", 100 * 1024 * 1024)    # a 100 MB single field
    started = time.monotonic()
    r, grew = peak_growth_mib(lambda: api_upload(api, big))
    assert r.status_code == 413 and r.json["error"]["message"] == "The file is larger than 10 MB."
    r = panel_upload(agent, big)       # over the app's request limit: its own 413 page
    assert r.status_code == 413 and "The file is too large." in r.get_data(as_text=True)
    r = panel_upload(agent, single_field(inputs / "11.csv", 11 * 1024 * 1024))
    assert r.status_code == 413 and "The file is larger than 10 MB. Split it into smaller files." in r.get_data(as_text=True)
    assert time.monotonic() - started < 30 and grew < MEMORY_MIB
    no_imports(database, web_settings)


def test_a_million_columns_are_refused_quickly_with_flat_memory(api, agent, database, web_settings, inputs, outside):
    path = million_columns(inputs / "wide.csv")
    assert 5 * 1024 * 1024 < path.stat().st_size < 10 * 1024 * 1024
    started = time.monotonic()
    r, grew = peak_growth_mib(lambda: api_upload(api, path))
    took = time.monotonic() - started
    assert r.status_code == 400, r.status_code
    assert r.json["error"]["message"] == "Row 1 has more than 200 columns. Keep only the columns you want to import."
    assert len(r.data) < 1000
    assert took < 10 and grew < MEMORY_MIB, (took, grew)
    r = panel_upload(agent, path, lang="pl")
    assert r.status_code == 400
    assert "Wiersz 1 ma więcej niż 200 kolumn." in r.get_data(as_text=True)
    no_imports(database, web_settings)


def test_a_huge_single_field_is_refused(api, database, web_settings, inputs, outside):
    path = single_field(inputs / "field.csv", 9 * 1024 * 1024)     # under the file limit
    r, grew = peak_growth_mib(lambda: api_upload(api, path))
    assert r.status_code == 400
    assert r.json["error"]["message"] == "Row 2 has a field longer than 65,536 characters."
    assert grew < MEMORY_MIB
    no_imports(database, web_settings)


def test_a_record_longer_than_the_limit_is_refused(api, database, web_settings, outside):
    """Quoted newlines make one record of many lines: no line and no field is over a limit,
    the record is (1.2 million characters) and is refused before the reader has built it."""
    fields = ",".join(f'"{"z" * 60_000}\n"' for _ in range(20))
    r = api_upload(api, ("First name,Note\r\n" + fields + "\r\n").encode())
    assert r.status_code == 400
    assert r.json["error"]["message"] == "Row 2 is longer than 1,048,576 characters.", r.json
    no_imports(database, web_settings)
    # quoted newlines within the limits are fine
    fields = ",".join('"a\nb"' for _ in range(150))
    assert api_upload(api, ("First name,Last name\r\n" + fields + "\r\n").encode()).status_code == 201


def test_a_bad_row_after_the_preview_fails_the_verify_with_a_message(api, agent, database, web_settings):
    wide = ",".join(["x"] * 300)
    data = ("First name,Last name\r\n" + "Jan,Kowalski\r\n" * 50 + wide + "\r\n").encode()
    r = api_upload(api, data)
    assert r.status_code == 201
    iid = r.json["id"]
    assert api.post(f"/api/v1/contacts/imports/{iid}/verify").status_code == 202
    box = {}

    def failed():
        box["r"] = api.get(f"/api/v1/contacts/imports/{iid}").json
        return box["r"]["status"] == "failed"

    wait_for(failed, 20, what="verify failed")
    assert "Row 52 has more than 200 columns" in box["r"]["message"]
    # the status list says it in the panel's language
    agent.post("/language", data={"csrf_token": csrf(agent, "/contacts"), "lang": "pl"})
    assert "Wiersz 52 ma więcej niż 200 kolumn." in agent.get("/contacts/imports").get_data(as_text=True)


def test_previews_are_bounded(api, agent, database):
    header = ["First name", "Last name"] + [f"Note {i}" for i in range(148)]
    row = ["Jan", "Kowalski"] + ["a" * 5000] * 148
    data = (",".join(header) + "\r\n" + (",".join(row) + "\r\n") * 12).encode()
    assert len(data) < I.MAX_BYTES
    r = api_upload(api, data)
    assert r.status_code == 201, r.json
    pv = r.json["preview"]
    assert len(pv["columns"]) == 150 and len(pv["rows"]) == I.PREVIEW_ROWS
    assert max(len(c) for row in pv["rows"] for c in row) == I.PREVIEW_CHARS
    assert len(r.data) < 1024 * 1024
    # the configure page: one select per column, cells cut
    r = panel_upload(agent, data)
    iid = int(r.headers["Location"].split("/")[-2])
    page = agent.get(f"/contacts/imports/{iid}/configure")
    assert page.status_code == 200 and len(page.data) < 4 * 1024 * 1024


# -- images: avatars and the widget's logo -------------------------------------------------------
def png_bytes(size, mode="1", frames=1):
    from PIL import Image

    out = io.BytesIO()
    if frames == 1:
        Image.new(mode, size).save(out, "PNG", optimize=True)
    else:
        imgs = [Image.new(mode, size, i % 2) for i in range(frames)]
        imgs[0].save(out, "PNG", save_all=True, append_images=imgs[1:])
    return out.getvalue()


def gif_bytes(size, frames):
    from PIL import Image

    imgs = [Image.new("P", size, i % 2) for i in range(frames)]
    out = io.BytesIO()
    imgs[0].save(out, "GIF", save_all=True, append_images=imgs[1:], optimize=False, disposal=0)
    return out.getvalue()


def huge_png_header(width, height, frames=1) -> bytes:
    """A PNG that declares width × height pixels (and ``frames`` animation frames) and holds a
    few rows: its header is all a decoder needs to allocate the whole image."""
    import struct
    import zlib

    def chunk(kind, data):
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    rows = zlib.compress(b"\x00" * (width // 8 + 1) * 16)
    animation = chunk(b"acTL", struct.pack(">II", frames, 0)) if frames > 1 else b""
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", width, height, 1, 0, 0, 0, 0))
            + animation + chunk(b"IDAT", rows) + chunk(b"IEND", b""))


IMAGE_CASES = [
    # (id, bytes, English message)
    ("pixel-flood-8900", lambda: png_bytes((8900, 8900)), "The image has too many pixels: at most 25 megapixels."),
    ("pixel-flood-6000", lambda: png_bytes((6000, 6000)), "The image has too many pixels: at most 25 megapixels."),
    ("pixel-flood-header-only", lambda: huge_png_header(100_000, 100_000),
     "The image has too many pixels: at most 25 megapixels."),
    ("svg", lambda: b'<svg xmlns="http://www.w3.org/2000/svg" width="10" height="10">'
                    b'<script>alert(1)</script></svg>',
     "This file is not an image we can read. Use a PNG, JPEG, GIF or WebP image."),
    ("animated-gif-frames", lambda: gif_bytes((4, 4), 600), "The animation is too long: at most 500 frames."),
    ("animated-gif-pixels", lambda: gif_bytes((2500, 2500), 20), "The animation is too long: at most 500 frames."),
    ("animated-png-pixels", lambda: huge_png_header(4000, 4000, frames=8), "The animation is too long: at most 500 frames."),
    ("truncated-png", lambda: png_bytes((64, 64), "RGB")[:60],
     "This file is not an image we can read. Use a PNG, JPEG, GIF or WebP image."),
    ("empty", lambda: b"", "The file is empty."),
]


def flashed(client, page) -> str:
    return client.get(page).get_data(as_text=True)


@pytest.mark.filterwarnings("ignore::PIL.Image.DecompressionBombWarning")
@pytest.mark.parametrize("case", IMAGE_CASES, ids=[c[0] for c in IMAGE_CASES])
def test_hostile_images_are_refused_before_decoding(agent, admin, database, web_settings, outside, case):
    import html

    _id, make, message = case
    data = make()
    assert len(data) < 5 * 1024 * 1024
    before = files_under(web_settings.data_dir)
    # an agent's avatar, the administrator's widget logo
    for client, page, path, field, status in ((agent, "/profile", "/profile/avatar", "avatar", 303),
                                              (admin, "/settings/general", "/settings/general/logo", "logo", 302)):
        token = csrf(client, page)
        r, grew = peak_growth_mib(lambda: client.post(path, data={
            "csrf_token": token, field: (io.BytesIO(data), "image.png")}, content_type="multipart/form-data"))
        assert r.status_code == status
        assert message in html.unescape(flashed(client, page)), path
        assert grew < MEMORY_MIB, (path, grew)
    with database.session() as s:
        assert s.scalar(select(User.avatar).where(User.email == "agent@example.com")) is None
    assert files_under(web_settings.data_dir) == before


def test_images_within_the_limits_still_become_avatars(agent, database, web_settings):
    from PIL import Image

    for name, data in (("photo.png", png_bytes((5000, 5000), "RGB")), ("anim.gif", gif_bytes((64, 64), 100)),
                       ("anim.png", png_bytes((300, 200), "RGB", frames=3))):
        token = csrf(agent, "/profile")
        r = agent.post("/profile/avatar", data={"csrf_token": token, "avatar": (io.BytesIO(data), name)},
                       content_type="multipart/form-data")
        assert r.status_code == 303 and "Avatar updated." in flashed(agent, "/profile"), name
        with database.session() as s:
            stored = s.scalar(select(User.avatar).where(User.email == "agent@example.com"))
        with Image.open(web_settings.avatars_dir / stored) as img:
            assert (img.format, img.size) == ("PNG", (256, 256))


def test_image_refusals_in_polish(agent):
    token = csrf(agent, "/profile")
    agent.post("/profile/avatar", data={"csrf_token": token, "avatar": (io.BytesIO(png_bytes((8900, 8900))), "a.png")},
               content_type="multipart/form-data", headers={"Accept-Language": "pl"})
    assert "Obraz ma za dużo pikseli: najwyżej 25 megapikseli." in flashed(agent, "/profile")


# -- prompts (administrators' recordings) -----------------------------------------------------
PROMPTS = "/settings/voice/prompts"


def _ffmpeg(*args):
    import subprocess

    subprocess.run(["ffmpeg", "-nostdin", "-hide_banner", "-v", "error", "-y", *args], check=True, timeout=60)


@pytest.fixture(scope="module")
def recordings(tmp_path_factory):
    d = tmp_path_factory.mktemp("recordings")
    made = {}
    _ffmpeg("-f", "lavfi", "-i", "sine=frequency=440:duration=4", "-ar", "8000", str(d / "whole.wav"))
    _ffmpeg("-f", "lavfi", "-i", "sine=frequency=440:duration=4", str(d / "whole.mp3"))
    _ffmpeg("-f", "lavfi", "-i", "sine=frequency=300:duration=125:sample_rate=8000", "-ac", "1", str(d / "long.ogg"))
    for name, keep in (("whole.wav", 16_000), ("whole.mp3", 20_000)):
        cut = d / f"cut{Path(name).suffix}"
        cut.write_bytes((d / name).read_bytes()[:keep])
        made[f"cut{Path(name).suffix}"] = cut
    made["long.ogg"] = d / "long.ogg"
    made["header.wav"] = d / "header.wav"
    made["header.wav"].write_bytes((d / "whole.wav").read_bytes()[:30])
    made["image.mp3"] = d / "image.mp3"
    made["image.mp3"].write_bytes(png_bytes((64, 64), "RGB"))
    made["text.wav"] = d / "text.wav"
    made["text.wav"].write_text("RIFF? no: a shopping list.\n" * 50)
    made["whole.wav"] = d / "whole.wav"
    return made


PROMPT_CASES = [
    ("text.wav", "This file is not a recording we can play."),
    ("image.mp3", "This file is not a recording we can play."),
    ("header.wav", "This file is not a recording we can play."),
    ("cut.wav", "The recording is incomplete: it plays 0:01 of the 0:04 its header announces. Upload the whole file."),
    ("cut.mp3", "The recording is incomplete: it plays 0:02 of the 0:04 its header announces. Upload the whole file."),
    ("long.ogg", "The recording is too long (2:05). The limit here is 2 min."),
]


@pytest.mark.parametrize("name,message", PROMPT_CASES, ids=[c[0] for c in PROMPT_CASES])
def test_bad_recordings_are_refused(admin, recordings, database, web_settings, outside, name, message):
    import html
    import re

    before = files_under(web_settings.data_dir)
    token = csrf(admin, PROMPTS)
    with open(recordings[name], "rb") as fh:
        r, grew = peak_growth_mib(lambda: admin.post(f"{PROMPTS}/welcome/upload", data={
            "csrf_token": token, "file": (fh, name)}, content_type="multipart/form-data"))
    assert r.status_code == 400
    shown = html.unescape(re.search(r'data-role="error">([^<]*)<', r.get_data(as_text=True)).group(1))
    assert shown.startswith(message), shown
    assert grew < MEMORY_MIB
    assert files_under(web_settings.data_dir) == before


def test_recording_refusals_in_polish(admin, recordings):
    token = csrf(admin, PROMPTS)
    with open(recordings["cut.wav"], "rb") as fh:
        r = admin.post(f"{PROMPTS}/welcome/upload", data={"csrf_token": token, "file": (fh, "cut.wav")},
                       content_type="multipart/form-data", headers={"Accept-Language": "pl"})
    assert r.status_code == 400
    assert "Nagranie jest niekompletne: trwa 0:01 z 0:04 zapowiedzianych w nagłówku." in r.get_data(as_text=True)


# -- file names ------------------------------------------------------------------------------------
HOSTILE_NAMES = [
    # (id, name as sent, what a safe rename keeps)
    ("traversal", "../../../../etc/cron.d/evil.csv", "evil.csv"),
    ("windows-traversal", "..\\..\\secrets\\evil.csv", "evil.csv"),
    ("nul", "evil\x00.csv", "evil.csv"),
    ("control", "ev\x1b[31mil\x07\x7f.csv", "ev[31mil.csv"),
    ("rtl-override", "report\u202ecod.csv", "reportcod.csv"),      # shown as "reportvsc.doc"
    ("long", "a" * 1996 + ".csv", "a" * 251 + ".csv"),
]


def multipart(field: str, filename: str, data: bytes, extra: dict | None = None) -> tuple[bytes, str]:
    """A multipart body with the file name's bytes exactly as given (the test client's encoder
    would change some of them)."""
    boundary = "----centrala-bad-uploads"
    parts = []
    for k, v in (extra or {}).items():
        parts.append(f'--{boundary}\r\nContent-Disposition: form-data; name="{k}"\r\n\r\n{v}\r\n'.encode())
    quoted = filename.replace("\\", "\\\\").replace('"', '\\"')     # a quoted-string's escapes
    parts.append(f'--{boundary}\r\nContent-Disposition: form-data; name="{field}"; filename="'.encode()
                 + quoted.encode("utf-8") + b'"\r\nContent-Type: application/octet-stream\r\n\r\n' + data + b"\r\n")
    parts.append(f"--{boundary}--\r\n".encode())
    return b"".join(parts), f"multipart/form-data; boundary={boundary}"


@pytest.mark.parametrize("case", HOSTILE_NAMES, ids=[c[0] for c in HOSTILE_NAMES])
def test_hostile_names_on_contact_imports_are_renamed(api, agent, database, web_settings, outside, case):
    _id, name, safe = case
    before = files_under(web_settings.data_dir)
    body, ctype = multipart("file", name, b"First name,Last name\r\nJan,Kowalski\r\n")
    r = api.post("/api/v1/contacts/imports", data=body, content_type=ctype)
    assert r.status_code == 201, r.json
    assert r.json["filename"] == safe
    # the panel: the same rename, and the original downloads under the safe name
    token = csrf(agent, "/contacts/imports/new")
    body, ctype = multipart("file", name, b"First name,Last name\r\nJan,Kowalski\r\n", {"csrf_token": token})
    r = agent.post("/contacts/imports", data=body, content_type=ctype)
    assert r.status_code == 302
    iid = int(r.headers["Location"].split("/")[-2])
    with database.session() as s:
        assert s.get(ContactImport, iid).filename == safe
    r = agent.get(f"/contacts/imports/{iid}/file")
    assert r.status_code == 200 and "\u202e" not in r.headers["Content-Disposition"]
    new = files_under(web_settings.data_dir) - before
    assert all(p.startswith("uploads/imports/") for p in new) and len(new) == 2, new


@pytest.mark.parametrize("case", HOSTILE_NAMES, ids=[c[0] for c in HOSTILE_NAMES])
def test_hostile_names_on_recordings_are_renamed(admin, recordings, database, web_settings, outside, case):
    from centrala.models import PromptFile

    _id, name, safe = case
    safe = safe.replace(".csv", ".wav")
    name = name.replace(".csv", ".wav")
    token = csrf(admin, PROMPTS)
    body, ctype = multipart("file", name, recordings["whole.wav"].read_bytes(), {"csrf_token": token})
    r = admin.post(f"{PROMPTS}/hold/upload", data=body, content_type=ctype)
    assert r.status_code == 303, r.get_data(as_text=True)[-500:]
    with database.session() as s:
        f = s.scalars(select(PromptFile).order_by(PromptFile.id.desc())).first()
        assert f.original_name == safe
    for p in files_under(web_settings.data_dir):
        assert p.startswith(("prompts/", "uploads/", "secrets", "asterisk")) or "/" not in p, p


@pytest.mark.parametrize("case", HOSTILE_NAMES, ids=[c[0] for c in HOSTILE_NAMES])
def test_hostile_names_in_files_are_refused_clearly(agent, api, database, web_settings, outside, case):
    import html

    from centrala.models_files import StoredFile

    _id, name, _safe = case
    before = files_under(web_settings.data_dir)
    token = csrf(agent, "/files")
    body, ctype = multipart("file", name, b"payload", {"csrf_token": token})
    r = agent.post("/files/upload", data=body, content_type=ctype)
    assert r.status_code == 303
    page = html.unescape(agent.get("/files").get_data(as_text=True))
    assert "is not a valid name: it may not contain / or \\, be . or .., have control characters or be longer " \
           "than 255 characters." in page
    assert "a" * 100 not in page and "\u202e" not in page and "\x00" not in page   # cut, unsafe characters marked
    body, ctype = multipart("file", name, b"payload")
    r = api.post("/api/v1/files", data=body, content_type=ctype)
    assert r.status_code == 400 and r.json["error"]["message"].startswith("Invalid name")
    assert len(r.json["error"]["message"]) < 300
    with database.session() as s:
        assert s.scalars(select(StoredFile)).all() == []
    assert files_under(web_settings.data_dir) == before


# -- Files: an oversize upload ------------------------------------------------------------------------
def test_an_oversize_file_is_refused_while_streaming(api, agent, database, web_settings, inputs, outside):
    from centrala.models_files import StoredFile

    big = inputs / "big.bin"
    with open(big, "wb") as f:
        f.truncate((web_settings.files_max_upload_mb + 1) * 1024 * 1024)
    before = files_under(web_settings.data_dir)
    with open(big, "rb") as fh:
        r, grew = peak_growth_mib(lambda: api.post("/api/v1/files", data={"file": (fh, "big.bin")},
                                                   content_type="multipart/form-data"))
    assert r.status_code == 413 and "too large" in r.json["error"]["message"]
    assert grew < MEMORY_MIB
    token = csrf(agent, "/files")
    with open(big, "rb") as fh:
        r = agent.post("/files/upload", data={"csrf_token": token, "file": (fh, "big.bin")},
                       content_type="multipart/form-data")
    assert r.status_code == 303
    assert "The file is too large: at most 25 MB per file." in agent.get("/files").get_data(as_text=True)
    with database.session() as s:
        assert s.scalars(select(StoredFile)).all() == []
    assert files_under(web_settings.data_dir) == before
