"""PL/EN (ACC-7): every text of the web panel has a Polish translation, and the app serves it.

Source strings are English (the default locale needs no catalog).  The Polish catalog is
web/translations/pl/LC_MESSAGES/messages.po; refresh it with ``scripts/i18n update`` and
compile it with ``scripts/i18n compile`` (the .mo is committed, so the app needs no build step).
"""
from __future__ import annotations

import io
import re
from pathlib import Path
from types import SimpleNamespace

import pytest
from babel.messages.extract import DEFAULT_KEYWORDS, extract_from_dir
from babel.messages.mofile import read_mo, write_mo
from babel.messages.pofile import read_po

ROOT = Path(__file__).resolve().parents[2]
TRANSLATIONS = ROOT / "web" / "translations"
PO = TRANSLATIONS / "pl" / "LC_MESSAGES" / "messages.po"
MO = PO.with_suffix(".mo")
# the same keywords as scripts/i18n: Flask-Babel's lazy_gettext, imported as _l
KEYWORDS = {**DEFAULT_KEYWORDS, "_l": None, "lazy_gettext": None}

PERCENT = re.compile(r"%\((\w+)\)[sdifr]")
BRACES = re.compile(r"\{(\w+)\}")


def _mapping():
    """babel.cfg, as pybabel reads it."""
    try:
        from babel.messages.frontend import parse_mapping_cfg as parse
    except ImportError:  # Babel < 2.14
        from babel.messages.frontend import parse_mapping as parse
    with open(ROOT / "babel.cfg", encoding="utf-8") as f:
        return parse(f, str(ROOT / "babel.cfg"))


@pytest.fixture(scope="module")
def extracted() -> dict[str, list[str]]:
    """msgid -> where it is used, extracted from web/ the way ``scripts/i18n extract`` does."""
    method_map, options_map = _mapping()
    found: dict[str, list[str]] = {}
    for filename, lineno, message, _comments, _context in extract_from_dir(
            str(ROOT), method_map, options_map, keywords=KEYWORDS):
        for msgid in (message if isinstance(message, tuple) else (message,)):
            if msgid:
                found.setdefault(msgid, []).append(f"{filename}:{lineno}")
    return found


@pytest.fixture(scope="module")
def catalog():
    with open(PO, "rb") as f:
        return read_po(f, locale="pl")


def _translations(catalog) -> dict[str, str]:
    return {m.id: m.string for m in catalog if m.id}


def test_sources_have_texts_to_translate(extracted):
    # guards the test itself: a broken babel.cfg or keyword list would find nothing
    assert len(extracted) > 100
    for msgid in ("Log in", "Forgot your password?", "My profile", "Break", "Add user", "Inbound voice",
                  "Dashboard", "Hello %(name)s,"):
        assert msgid in extracted, msgid


def test_every_text_has_a_polish_translation(extracted, catalog):
    missing = [f"{msgid!r} ({', '.join(where)})" for msgid, where in sorted(extracted.items())
               if catalog.get(msgid) is None]
    assert not missing, ("not in the Polish catalog (run scripts/i18n update, translate, "
                         "scripts/i18n compile):\n" + "\n".join(missing))
    untranslated = [msgid for msgid in sorted(extracted)
                    if not catalog.get(msgid).string or not str(catalog.get(msgid).string).strip()]
    assert not untranslated, "empty Polish translation:\n" + "\n".join(untranslated)
    fuzzy = [m.id for m in catalog if m.id and m.fuzzy]
    assert not fuzzy, "fuzzy entries (check the translation, then drop the flag):\n" + "\n".join(fuzzy)


def test_compiled_catalog_matches_po(catalog):
    assert MO.is_file(), "web/translations/pl/LC_MESSAGES/messages.mo is missing: run scripts/i18n compile"
    fresh = io.BytesIO()
    write_mo(fresh, catalog)
    fresh.seek(0)
    with open(MO, "rb") as f:
        committed = read_mo(f)
    expected = read_mo(fresh)
    assert _translations(committed) == _translations(expected), \
        "messages.mo is stale: run scripts/i18n compile"


def test_placeholders_survive_translation(catalog):
    problems = []
    for m in catalog:
        if not m.id or not m.string:
            continue
        msgid, msgstr = m.id, m.string
        if isinstance(msgid, tuple):  # plural forms: compare each form with the singular/plural source
            pairs = [(msgid[min(i, 1)], s) for i, s in enumerate(msgstr)]
        else:
            pairs = [(msgid, msgstr)]
        for src, dst in pairs:
            if set(PERCENT.findall(src)) != set(PERCENT.findall(dst)):
                problems.append(f"%-placeholders differ: {src!r} -> {dst!r}")
            if set(BRACES.findall(src)) != set(BRACES.findall(dst)):
                problems.append(f"{{}}-placeholders differ: {src!r} -> {dst!r}")
            # Jinja's new-style gettext always applies `%`: a stray percent sign would crash the page
            if "%" in PERCENT.sub("", dst).replace("%%", ""):
                problems.append(f"bare % sign (write %%): {dst!r}")
            # some texts are put inside JavaScript '...' literals (confirm dialogs)
            if "'" in dst and "'" not in src:
                problems.append(f"apostrophe added in translation (use ’): {dst!r}")
    assert not problems, "\n".join(problems)


# -- the running app ---------------------------------------------------------------------
@pytest.fixture(scope="module")
def web_app(tmp_path_factory):
    """The app on an empty SQLite file: the pages below never touch the database."""
    from centrala.db import Database
    from tests.helpers import instance_settings
    from web import create_app

    tmp = tmp_path_factory.mktemp("i18n")
    url = f"sqlite:///{tmp / 'i18n.db'}"
    db = Database(url)
    app = create_app(instance_settings(tmp / "data", url), db=db, start_background=False)
    app.config["TESTING"] = True
    yield app
    db.dispose()


def test_login_page_in_polish(web_app):
    html = web_app.test_client().get("/login", headers={"Accept-Language": "pl"}).get_data(as_text=True)
    for text in ("Zaloguj się", "Zapomniałeś hasła?", "Hasło", "Email", 'lang="pl"'):
        assert text in html, text
    assert "Log in" not in html and "Forgot your password?" not in html


def test_login_page_in_english(web_app):
    html = web_app.test_client().get("/login", headers={"Accept-Language": "en"}).get_data(as_text=True)
    for text in ("Log in", "Forgot your password?", "Password", 'lang="en"'):
        assert text in html, text
    assert "Zaloguj" not in html


def _csrf(html: str) -> str:
    return re.search(r'name="csrf-token" content="([^"]+)"', html).group(1)


def test_language_switch_overrides_browser(web_app):
    client = web_app.test_client()
    html = client.get("/password/forgot", headers={"Accept-Language": "en"}).get_data(as_text=True)
    client.post("/language", data={"lang": "pl", "next": "/password/forgot", "csrf_token": _csrf(html)})
    html = client.get("/password/forgot", headers={"Accept-Language": "en"}).get_data(as_text=True)
    assert "Zapomniałeś hasła?" in html and "Wyślij link" in html and "Wróć do logowania" in html


def test_password_email_in_polish(web_app):
    from flask import render_template
    from flask_babel import force_locale

    ctx = dict(user=SimpleNamespace(name="Anna Nowak"), link="https://cc.example.com/password/reset/x",
               hours=48.0, purpose="invite")
    with web_app.test_request_context(), force_locale("pl"):
        text = render_template("auth/email.txt", **ctx)
        reset = render_template("auth/email.txt", **{**ctx, "purpose": "reset"})
    assert "Witaj, Anna Nowak!" in text and "utworzono dla Ciebie konto" in text
    assert "ważny przez 48 h" in text
    assert "zignoruj tę wiadomość" in reset


@pytest.mark.db
def test_panel_pages_in_polish(app, make_user):
    make_user("admin@example.com", role="admin", name="Adam Kowalski", password="correct horse 1")
    client = app.test_client()
    pl = {"Accept-Language": "pl"}
    token = _csrf(client.get("/login", headers=pl).get_data(as_text=True))
    r = client.post("/login", headers=pl, data={"email": "admin@example.com", "password": "correct horse 1",
                                                "csrf_token": token})
    assert r.status_code == 302
    dashboard = client.get("/", headers=pl).get_data(as_text=True)
    for text in ("Dashboard", "Zadania", "Historia", "Pliki", "Kontakty", "Raporty", "Mój profil",
                 "Ustawienia", "Wyloguj", "Przerwa", "Witaj, Adam"):
        assert text in dashboard, text
    users = client.get("/settings/users", headers=pl).get_data(as_text=True)
    for text in ("Użytkownicy", "Dodaj użytkownika", "Rola", "Kanały", "Administrator", "Voice przychodzący"):
        assert text in users, text
    profile = client.get("/profile", headers=pl).get_data(as_text=True)
    for text in ("Stanowisko", "Długość dzwonka", "Długi", "Krótki", "Avatar"):
        assert text in profile, text
