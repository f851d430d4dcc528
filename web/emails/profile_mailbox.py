"""My profile / My mailbox (ACC-6): a user sets up their own personal mailbox — the same form and
rules as Settings / Email, for their own mailbox only (kind and owner are fixed to them)."""
from __future__ import annotations

from flask import Blueprint, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user, login_required

from centrala.emails import mailboxes as mb

from ..extensions import bus, dbs
from .settings import EMPTY, commit_removal, form_values, oauth_redirect, record, shown, test_response
from .settings_texts import problems_text

bp = Blueprint("profile_mailbox", __name__)


@bp.app_context_processor
def personal_mailbox():
    return {"personal_mailbox_of": lambda user_id: mb.personal_of(dbs(), user_id)}


def _render(values: dict, errors: dict, mailbox):
    return render_template("profile_mailbox.html", values=values, errors=errors, editing=mailbox,
                           test_url=url_for("profile_mailbox.test"),
                           oauth_url=url_for("profile_mailbox.oauth_start")), (422 if errors else 200)


@bp.route("/profile/mailbox", methods=["GET", "POST"])
@login_required
def mailbox():
    s = dbs()
    m = mb.personal_of(s, current_user.id)
    if request.method == "GET":
        return _render(mb.to_json(s, m) if m else {**EMPTY, "kind": "personal"}, {}, m)
    values = form_values(request.form, kind="personal", user_id=current_user.id)
    try:
        if m is None:
            m = mb.create(s, values)
            changed, action = ["created"], "created"
        else:
            changed, action = mb.update(s, m, values), "changed"
    except mb.MailboxInvalid as exc:
        s.rollback()
        base = mb.to_json(s, m) if m else {**EMPTY, "kind": "personal"}
        return _render({**base, **shown(values)}, problems_text(exc), m)
    if changed:
        record(s, m, "mailbox.added" if action == "created" else "mailbox.changed", via="profile",
               fields=changed)
    s.commit()
    if changed:
        mb.announce(bus(), m.id, action, [] if action == "created" else changed)
    flash(_("Your mailbox is saved."), "success")
    return redirect(url_for("profile_mailbox.mailbox"), 303)


@bp.post("/profile/mailbox/test")
@login_required
def test():
    return test_response(mb.personal_of(dbs(), current_user.id))


@bp.get("/profile/mailbox/oauth")
@login_required
def oauth_start():
    m = mb.personal_of(dbs(), current_user.id)
    if m is None:
        return redirect(url_for("profile_mailbox.mailbox"), 303)
    return oauth_redirect(m, url_for("profile_mailbox.mailbox"))


@bp.post("/profile/mailbox/delete")
@login_required
def delete():
    s = dbs()
    m = mb.personal_of(s, current_user.id)
    if m is not None:
        commit_removal(s, m, via="profile")
        flash(_("Your mailbox is removed from Centrala. Its conversations stay in History."), "success")
    return redirect(url_for("profile_mailbox.mailbox"), 303)
