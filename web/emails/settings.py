"""Settings / Email (SET-2, EML-4, administrators): mailboxes with their live state, the add/edit
form (write-only password, security choices, agents of a shared mailbox, on/off, signature),
delete with confirmation, Test connection (JSON for the form's button, unsaved values allowed),
and response templates.  The rules are ``centrala.emails.mailboxes``/``templates``'s; My profile's
personal mailbox (``profile_mailbox.py``) uses the same form helpers."""
from __future__ import annotations

from flask import Blueprint, abort, flash, jsonify, redirect, render_template, request, session, url_for
from flask_babel import gettext as _
from flask_login import current_user, login_required
from sqlalchemy import select

from centrala import audit
from centrala.emails import mailboxes as mb
from centrala.emails import oauth
from centrala.emails import probe
from centrala.emails import templates as tpl
from centrala.emails.rich_text import clean_html
from centrala.models import User
from centrala.models_email import PERSONAL, SECURITY, EmailTemplate, Mailbox

from ..auth.permissions import admin_required
from ..extensions import bus, client_ip, dbs, settings
from .settings_texts import (AUTH_LABELS, KIND_LABELS, SECURITY_LABELS, STATE_LABELS, problems_text, result_text,
                             results_json)

bp = Blueprint("email_settings", __name__, url_prefix="/settings/email")
SECTION = "email"
EMPTY = {"kind": "shared", "label": "", "address": "", "username": "", "imap_host": "", "imap_port": 993,
         "imap_security": "ssl", "smtp_host": "", "smtp_port": 465, "smtp_security": "ssl", "enabled": True,
         "user_id": None, "agent_ids": [], "signature": "", "has_password": False, "auth": "password",
         "oauth_authorize_url": "", "oauth_token_url": "", "oauth_client_id": "", "oauth_scope": "",
         "oauth_has_client_secret": False, "oauth_signed_in": False}


@bp.app_context_processor
def labels():
    return {"mailbox_state_labels": STATE_LABELS, "security_labels": SECURITY_LABELS,
            "mailbox_kind_labels": KIND_LABELS, "securities": SECURITY, "auth_labels": AUTH_LABELS}


# -- helpers shared with My profile ------------------------------------------------------------------
def form_values(form, kind: str | None = None, user_id: int | None = None) -> dict:
    """The use case's values from the mailbox form; ``kind``/``user_id`` fixed on My profile."""
    values = {name: form.get(name, "") for name in ("label", "address", "username", "password", "imap_host",
                                                      "imap_port", "imap_security", "smtp_host", "smtp_port",
                                                      "smtp_security", "signature", "auth")}
    if values["auth"] == "oauth2":
        values.update({name: form.get(name, "") for name in oauth.CONFIG_FIELDS})
    values["enabled"] = form.get("enabled") == "1"
    values["kind"] = kind or form.get("kind", "shared")
    if user_id is not None:
        values["user_id"] = user_id
    elif values["kind"] == "personal":
        values["user_id"] = form.get("user_id") or None
    else:
        values["agent_ids"] = form.getlist("agent_ids")
    return values


def shown(values: dict) -> dict:
    """What the form shows again after a refusal: never the typed password."""
    out = {k: v for k, v in values.items() if k not in ("password", "oauth_client_secret")}
    out["agent_ids"] = [int(a) for a in out.get("agent_ids") or [] if str(a).isdigit()]
    if "user_id" in out:
        out["user_id"] = int(out["user_id"]) if str(out["user_id"]).isdigit() else None
    out["signature"] = clean_html(out.get("signature") or "")
    return out


def test_response(mailbox: Mailbox | None):
    """Test connection for the form's (unsaved) values over ``mailbox``'s stored ones."""
    s = dbs()
    values = form_values(request.form)
    values = {k: v for k, v in values.items() if k not in ("kind", "user_id", "agent_ids", "label", "signature", "enabled",
                                                          *oauth.CONFIG_FIELDS)}
    if mailbox is not None:
        values = {k: v for k, v in values.items() if v != "" or k == "password"}
    try:
        results = probe.test_mailbox(s, mailbox, settings(), values=values)
    except mb.MailboxInvalid as exc:
        return jsonify({"ok": False, "errors": problems_text(exc)}), 422
    finally:
        s.commit() if mailbox is not None and mailbox.auth == "oauth2" else s.rollback()   # refreshed tokens
    return jsonify({"ok": all(r.ok for r in results.values()), "results": results_json(results)})


def record(s, m: Mailbox, change: str, actor=None, **details) -> None:
    audit.record(s, audit.SETTINGS_CHANGED, actor=actor or s.get(User, current_user.id), target=f"mailbox.{m.id}",
                 ip=client_ip(), change=change, address=m.address, **details)


def commit_removal(s, m: Mailbox, actor=None, **details) -> None:
    """Audit and delete a mailbox, commit, then tell the mail worker to drop it."""
    mailbox_id = m.id
    record(s, m, "mailbox.deleted", actor=actor, **details)
    mb.remove(s, m)
    s.commit()
    mb.announce(bus(), mailbox_id, "deleted")


def commit_changed(s, m: Mailbox, changed: list, actor=None, **details) -> None:
    """Audit and commit a mailbox's change, then tell the mail worker (nothing to tell if nothing changed)."""
    if changed:
        record(s, m, "mailbox.changed", actor=actor, fields=changed, **details)
    s.commit()
    if changed:
        mb.announce(bus(), m.id, "changed", changed)


def _users(s):
    return s.scalars(select(User).where(User.active.is_(True)).order_by(User.name)).all()


def _mailbox(mailbox_id: int) -> Mailbox:
    m = dbs().get(Mailbox, mailbox_id)
    if m is None:
        abort(404)
    return m


def _form(values: dict, errors: dict, editing: Mailbox | None):
    s = dbs()
    users = _users(s)
    email_agents = [u for u in users if "email" in (u.channels or []) or u.id in values.get("agent_ids", [])]
    return render_template("settings/email_mailbox.html", section=SECTION, values=values, errors=errors,
                           editing=editing, users=users, email_agents=email_agents,
                           test_url=url_for("email_settings.test", mailbox_id=editing.id if editing else 0),
                           oauth_url=url_for("email_settings.oauth_start", mailbox_id=editing.id) if editing else "",
                           ), (422 if errors else 200)


# -- pages -----------------------------------------------------------------------------------------
def _index(q: str = "", tpl_values: dict | None = None, tpl_errors: dict | None = None):
    s = dbs()
    boxes = mb.listing(s)
    owners = {u.id: u for u in s.scalars(select(User).where(User.id.in_([m.user_id for m in boxes if m.user_id])))}
    return render_template("settings/email.html", section=SECTION, mailboxes=boxes, owners=owners,
                           agents={m.id: len(mb.agents_of(s, m)) for m in boxes}, templates=tpl.search(s, q), q=q,
                           tpl_values=tpl_values or {"title": "", "body": ""}, tpl_errors=tpl_errors or {})


@bp.get("/")
@admin_required
def index():
    return _index(request.args.get("q", "").strip()[:100])


@bp.get("/mailboxes/state")
@admin_required
def states():
    """The live state of every mailbox (the list polls it)."""
    s = dbs()
    return jsonify({"items": [{"id": m.id, "state": m.state, "label": str(STATE_LABELS.get(m.state, m.state)),
                               "last_error": m.last_error or ""} for m in mb.listing(s)]})


@bp.route("/mailboxes/new", methods=["GET", "POST"])
@admin_required
def new_mailbox():
    if request.method == "GET":
        return _form(dict(EMPTY), {}, None)
    s = dbs()
    values = form_values(request.form)
    try:
        m = mb.create(s, values)
    except mb.MailboxInvalid as exc:
        s.rollback()
        return _form({**EMPTY, **shown(values)}, problems_text(exc), None)
    record(s, m, "mailbox.added", kind=m.kind)
    s.commit()
    mb.announce(bus(), m.id, "created")
    flash(_("Mailbox %(label)s saved.", label=m.label), "success")
    return redirect(url_for("email_settings.index"), 303)


@bp.route("/mailboxes/<int:mailbox_id>", methods=["GET", "POST"])
@admin_required
def edit_mailbox(mailbox_id: int):
    s = dbs()
    m = _mailbox(mailbox_id)
    if request.method == "GET":
        return _form(mb.to_json(s, m), {}, m)
    values = form_values(request.form)
    try:
        changed = mb.update(s, m, values)
    except mb.MailboxInvalid as exc:
        s.rollback()
        return _form({**mb.to_json(s, m), **shown(values)}, problems_text(exc), m)
    commit_changed(s, m, changed)
    flash(_("Mailbox %(label)s saved.", label=m.label), "success")
    return redirect(url_for("email_settings.index"), 303)


@bp.post("/mailboxes/<int:mailbox_id>/toggle")
@admin_required
def toggle_mailbox(mailbox_id: int):
    s = dbs()
    m = _mailbox(mailbox_id)
    try:
        changed = mb.update(s, m, {"enabled": request.form.get("enabled") == "1"})
    except mb.MailboxInvalid as exc:   # (stored values that no longer pass: edit the mailbox)
        s.rollback()
        flash("; ".join(problems_text(exc).values()), "error")
        return redirect(url_for("email_settings.edit_mailbox", mailbox_id=mailbox_id), 303)
    commit_changed(s, m, changed)
    return redirect(url_for("email_settings.index"), 303)


@bp.post("/mailboxes/<int:mailbox_id>/delete")
@admin_required
def delete_mailbox(mailbox_id: int):
    s = dbs()
    m = _mailbox(mailbox_id)
    label = m.label
    commit_removal(s, m)
    flash(_("Mailbox %(label)s deleted. Its conversations stay in History.", label=label), "success")
    return redirect(url_for("email_settings.index"), 303)


@bp.post("/mailboxes/<int:mailbox_id>/test")
@admin_required
def test(mailbox_id: int):
    """Test connection with the form's values; ``mailbox_id`` 0: a mailbox not saved yet."""
    return test_response(_mailbox(mailbox_id) if mailbox_id else None)


# -- OAuth2 sign-in with the provider -------------------------------------------------------------------
def oauth_redirect(m: Mailbox, back: str):
    """Send the browser to the provider (the callback comes back to ``oauth_callback``)."""
    redirect_uri = url_for("email_settings.oauth_callback", _external=True)
    try:
        url, state, verifier = oauth.start(dbs(), m, redirect_uri)
    except oauth.OAuthError:
        flash(_("Choose OAuth2, enter the provider's settings and save them first."), "error")
        return redirect(back, 303)
    session["mail_oauth"] = {"state": state, "verifier": verifier, "mailbox_id": m.id, "back": back}
    return redirect(url, 302)


@bp.get("/mailboxes/<int:mailbox_id>/oauth")
@admin_required
def oauth_start(mailbox_id: int):
    return oauth_redirect(_mailbox(mailbox_id), url_for("email_settings.edit_mailbox", mailbox_id=mailbox_id))


@bp.get("/oauth/callback")
@login_required
def oauth_callback():
    """The provider's redirect after the sign-in (administrators, or the owner of a personal mailbox)."""
    pending = session.pop("mail_oauth", None)
    if not pending or not request.args.get("state") or request.args.get("state") != pending.get("state"):
        abort(400)
    s = dbs()
    m = s.get(Mailbox, pending["mailbox_id"])
    if m is None:
        abort(404)
    if not (current_user.is_admin or (m.kind == PERSONAL and m.user_id == current_user.id)):
        abort(403)
    back = pending["back"]
    if request.args.get("error") or not request.args.get("code"):
        flash(_("The provider did not allow the sign-in: %(reason)s",
                reason=request.args.get("error_description") or request.args.get("error") or "?"), "error")
        return redirect(back, 303)
    try:
        oauth.finish(s, m, request.args["code"], pending["verifier"],
                     url_for("email_settings.oauth_callback", _external=True))
    except oauth.OAuthError as exc:
        s.rollback()
        flash(_("Signing in with the provider failed: %(reason)s", reason=exc.detail or exc.code), "error")
        return redirect(back, 303)
    record(s, m, "mailbox.changed", fields=["oauth"])
    s.commit()
    mb.announce(bus(), m.id, "changed", ["oauth"])
    flash(_("Signed in with the provider. The mailbox connects now."), "success")
    return redirect(back, 303)


# -- response templates (EML-4) -------------------------------------------------------------------
def _template_errors(exc: tpl.TemplateInvalid) -> dict:
    texts = {"required": _("This field is required."),
             "too_long": _("At most %(max)d characters.", max=tpl.MAX_TITLE)}
    return {f: texts[c] for f, c in exc.problems.items()}


@bp.post("/templates")
@admin_required
def add_template():
    s = dbs()
    title, body = request.form.get("title", ""), request.form.get("body", "")
    try:
        t = tpl.create(s, title, body)
    except tpl.TemplateInvalid as exc:
        s.rollback()
        return _index(tpl_values={"title": title, "body": clean_html(body)}, tpl_errors=_template_errors(exc)), 422
    s.commit()
    flash(_("Template %(title)s saved.", title=t.title), "success")
    return redirect(url_for("email_settings.index") + "#templates", 303)


@bp.route("/templates/<int:template_id>", methods=["GET", "POST"])
@admin_required
def edit_template(template_id: int):
    s = dbs()
    t = s.get(EmailTemplate, template_id)
    if t is None:
        abort(404)
    values, errors = {"title": t.title, "body": t.body}, {}
    if request.method == "POST":
        values = {"title": request.form.get("title", ""), "body": request.form.get("body", "")}
        try:
            tpl.update(s, t, values["title"], values["body"])
        except tpl.TemplateInvalid as exc:
            s.rollback()
            errors = _template_errors(exc)
            values["body"] = clean_html(values["body"])
        else:
            s.commit()
            flash(_("Template %(title)s saved.", title=t.title), "success")
            return redirect(url_for("email_settings.index") + "#templates", 303)
    return render_template("settings/email_template.html", section=SECTION, template=t, values=values,
                           errors=errors), (422 if errors else 200)


@bp.post("/templates/<int:template_id>/delete")
@admin_required
def delete_template(template_id: int):
    s = dbs()
    t = s.get(EmailTemplate, template_id)
    if t is None:
        abort(404)
    tpl.remove(s, t)
    s.commit()
    flash(_("Template deleted."), "success")
    return redirect(url_for("email_settings.index") + "#templates", 303)


def init_app(app) -> None:
    """Settings / Email, My profile's mailbox and /api/v1/mailboxes."""
    from .api_mailboxes import bp as api_bp
    from .profile_mailbox import bp as profile_bp

    for blueprint in (bp, api_bp, profile_bp):
        app.register_blueprint(blueprint)


__all__ = ["bp", "init_app", "form_values", "shown", "test_response", "record", "result_text"]
