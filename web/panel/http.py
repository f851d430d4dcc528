"""The panel shell: dashboard, top-bar tabs, language switch, status (DSH-4, ACC-7, STA-1)."""
from __future__ import annotations

from flask import Blueprint, abort, redirect, render_template, request, session, url_for
from flask_babel import lazy_gettext as _l
from flask_login import current_user, login_required

from agents.status import AgentStatus
from centrala import __version__
from centrala.models import User
from centrala.pbx_status import health

from ..extensions import db, dbs, settings
from ..i18n import LANGUAGES
from ..presence.services import change_status, roster

bp = Blueprint("panel", __name__)

# The top bar's tabs: (key, label, endpoint, url arguments). Areas not built yet point to
# `panel.placeholder`, an honest empty state; a feature replaces its line when it lands.
TABS = [
    ("dashboard", _l("Dashboard"), "panel.dashboard", {}),
    ("tasks", _l("Tasks"), "tasks.index", {}),
    ("history", _l("History"), "history.index", {}),
    ("chats", _l("Chats"), "chat.index", {}),
    ("files", _l("Files"), "files.index", {}),
    ("contacts", _l("Contacts"), "contacts.index", {}),
    ("reports", _l("Reports"), "panel.placeholder", {"tab": "reports"}),
]
PLACEHOLDERS = {
    "reports": _l("Reports on volumes, handling and response times will be shown here."),
}


@bp.app_context_processor
def shell_context():
    return {"tabs": TABS, "version": __version__, "statuses": [s.value for s in AgentStatus]}


@bp.get("/")
@login_required
def dashboard():
    s = dbs()
    people = roster(s)
    counts = {st.value: sum(1 for p in people if p["status"] == st.value) for st in AgentStatus}
    return render_template("panel/dashboard.html", active_tab="dashboard", people=people, counts=counts,
                           health=health(db(), settings().health_stale_seconds))


@bp.get("/<any(reports):tab>")
@login_required
def placeholder(tab: str):
    return render_template("panel/placeholder.html", active_tab=tab, text=PLACEHOLDERS[tab])


@bp.post("/language")
def set_language():
    lang = request.form.get("lang", "")
    if lang not in LANGUAGES:
        abort(400)
    session["lang"] = lang
    if current_user.is_authenticated:
        s = dbs()
        s.get(User, current_user.id).language = lang
        s.commit()
    return redirect(_back())


@bp.post("/status")
@login_required
def set_status():
    """Form fallback for the name menu's status switch (the panel normally uses the socket)."""
    status = request.form.get("status", "")
    if status not in {s.value for s in AgentStatus}:
        abort(400)
    s = dbs()
    user = s.get(User, current_user.id)
    change_status(s, user, status, actor=user)
    return redirect(_back())


def _back() -> str:
    from ..auth.http import safe_next

    return safe_next(request.form.get("next"))
