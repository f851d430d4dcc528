"""Settings (administrators only, ACC-3): Users (ACC-4) and the audit log (BEY-2)."""
from __future__ import annotations

from flask import Blueprint, abort, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_login import current_user
from sqlalchemy import func, select

from agents.channels import CHANNELS, DEFAULT_CHANNELS
from centrala import audit
from centrala.mail import MailError
from centrala.models import AuditEntry, User
from centrala.users import ROLES, UserError, active_count, create_user, deactivate

from ..auth.permissions import admin_required
from ..auth.services import send_password_link
from agents import events

from ..extensions import bus, client_ip, dbs, settings
from ..labels import SKILL_LABELS
from ..presence.services import change_status

bp = Blueprint("settings", __name__, url_prefix="/settings")

CHANNEL_LABELS = SKILL_LABELS   # the skills on a user's form
ROLE_LABELS = {"admin": _l("Administrator"), "agent": _l("Agent")}
# The side menu of Settings: (key, label, endpoint). A new section adds one line here.
SECTIONS = [
    ("general", _l("General"), "chat.general"), ("chat", _l("Chat"), "chat.chat_settings"), ("triggers", _l("Triggers"), "chat.triggers"),
    ("users", _l("Users"), "settings.users"),
    ("voice", _l("Voice"), "voice.general"),
    ("email", _l("Email"), "email_settings.index"),
    ("audit", _l("Audit log"), "settings.audit_log"),
    ("custom_fields", _l("Custom fields"), "contacts.custom_fields"),
    ("webhooks", _l("Webhooks"), "webhooks.index"),
]
PAGE = 50


@bp.app_context_processor
def labels():
    return {"channel_labels": CHANNEL_LABELS, "role_labels": ROLE_LABELS, "settings_sections": SECTIONS}


@bp.get("/")
@admin_required
def index():
    return redirect(url_for("settings.users"))


@bp.get("/users")
@admin_required
def users():
    s = dbs()
    rows = s.scalars(select(User).order_by(User.active.desc(), User.name)).all()
    return render_template("settings/users.html", section="users", users=rows,
                           count=active_count(s), limit=settings().user_limit)


def _form_values(form) -> dict:
    return {"name": form.get("name", "").strip(), "email": form.get("email", "").strip(),
            "role": form.get("role", "agent"), "position": form.get("position", "").strip(),
            "channels": [c for c in form.getlist("channels") if c in CHANNELS]}


def _validate(values: dict, s, editing: User | None = None) -> dict:
    errors = {}
    if not values["name"]:
        errors["name"] = _("Enter a name.")
    if values["role"] not in ROLES:
        errors["role"] = _("Choose a role.")
    if editing is None:
        from centrala.users import _EMAIL, by_email

        if not _EMAIL.match(values["email"].lower()):
            errors["email"] = _("Enter a valid email address.")
        elif by_email(s, values["email"]):
            errors["email"] = _("A user with this email already exists.")
    return errors


@bp.route("/users/new", methods=["GET", "POST"])
@admin_required
def new_user():
    s = dbs()
    limit = settings().user_limit
    values = {"name": "", "email": "", "role": "agent", "position": "", "channels": list(DEFAULT_CHANNELS)}
    errors = {}
    if active_count(s) >= limit:
        flash(_("The user limit is reached (%(n)d/%(limit)d). Deactivate a user to add another.",
                n=active_count(s), limit=limit), "error")
        return redirect(url_for("settings.users"))
    if request.method == "POST":
        values = _form_values(request.form)
        errors = _validate(values, s)
        if not errors:
            try:
                user = create_user(s, values["email"], values["name"], values["role"], None,
                                   values["position"], values["channels"], limit=limit)
            except UserError as exc:
                errors["email"] = str(exc)
            else:
                actor = s.get(User, current_user.id)
                audit.record(s, audit.USER_CREATED, actor=actor, target=user.email, ip=client_ip(),
                             role=user.role, channels=user.channels)
                try:
                    send_password_link(settings(), s, user, "invite")
                    flash(_("%(name)s was added and an invitation was sent to %(email)s.",
                            name=user.name, email=user.email), "success")
                except MailError:
                    flash(_("%(name)s was added, but the invitation email could not be sent. Check the mail settings and send it again.",
                            name=user.name), "error")
                s.commit()
                bus().publish(events.USERS_CHANGED, user_id=user.id)
                return redirect(url_for("settings.users"))
    return render_template("settings/user_form.html", section="users", values=values, errors=errors,
                           editing=None), (400 if errors else 200)


@bp.route("/users/<int:user_id>", methods=["GET", "POST"])
@admin_required
def edit_user(user_id: int):
    s = dbs()
    user = s.get(User, user_id) or abort(404)
    values = {"name": user.name, "email": user.email, "role": user.role, "position": user.position,
              "channels": list(user.channels or [])}
    errors = {}
    if request.method == "POST":
        values = _form_values(request.form)
        values["email"] = user.email
        errors = _validate(values, s, editing=user)
        if user.id == current_user.id and values["role"] != "admin":
            errors["role"] = _("You cannot take away your own administrator role.")
        if not errors:
            changes = {k: values[k] for k in ("name", "role", "position", "channels")
                       if getattr(user, k) != values[k]}
            for k, v in changes.items():
                setattr(user, k, v)
            if changes:
                audit.record(s, audit.USER_UPDATED, actor=s.get(User, current_user.id), target=user.email,
                             ip=client_ip(), fields=sorted(changes))
            s.commit()
            bus().publish(events.USERS_CHANGED, user_id=user.id)
            flash(_("Changes saved."), "success")
            return redirect(url_for("settings.users"))
    return render_template("settings/user_form.html", section="users", values=values, errors=errors,
                           editing=user), (400 if errors else 200)


@bp.post("/users/<int:user_id>/deactivate")
@admin_required
def deactivate_user(user_id: int):
    s = dbs()
    user = s.get(User, user_id) or abort(404)
    if user.id == current_user.id:
        flash(_("You cannot deactivate your own account."), "error")
        return redirect(url_for("settings.users"))
    change_status(s, user, "offline", reason="deactivated")  # panels and routing learn at once
    deactivate(user)
    audit.record(s, audit.USER_DEACTIVATED, actor=s.get(User, current_user.id), target=user.email, ip=client_ip())
    s.commit()
    bus().publish(events.USERS_CHANGED, user_id=user.id)
    flash(_("%(name)s is deactivated and can no longer log in.", name=user.name), "success")
    return redirect(url_for("settings.users"))


@bp.post("/users/<int:user_id>/reactivate")
@admin_required
def reactivate_user(user_id: int):
    s = dbs()
    user = s.get(User, user_id) or abort(404)
    if active_count(s) >= settings().user_limit:
        flash(_("The user limit is reached (%(n)d/%(limit)d). Deactivate a user to add another.",
                n=active_count(s), limit=settings().user_limit), "error")
        return redirect(url_for("settings.users"))
    user.active = True
    audit.record(s, audit.USER_REACTIVATED, actor=s.get(User, current_user.id), target=user.email, ip=client_ip())
    s.commit()
    bus().publish(events.USERS_CHANGED, user_id=user.id)
    flash(_("%(name)s is active again.", name=user.name), "success")
    return redirect(url_for("settings.users"))


@bp.post("/users/<int:user_id>/invite")
@admin_required
def resend_invitation(user_id: int):
    s = dbs()
    user = s.get(User, user_id) or abort(404)
    try:
        send_password_link(settings(), s, user, "invite")
        s.commit()
        flash(_("An invitation was sent to %(email)s.", email=user.email), "success")
    except MailError:
        flash(_("The invitation email could not be sent. Check the mail settings."), "error")
    return redirect(url_for("settings.users"))


@bp.get("/audit")
@admin_required
def audit_log():
    s = dbs()
    page = max(1, request.args.get("page", 1, type=int))
    total = s.scalar(select(func.count()).select_from(AuditEntry))
    rows = s.scalars(select(AuditEntry).order_by(AuditEntry.at.desc(), AuditEntry.id.desc())
                     .offset((page - 1) * PAGE).limit(PAGE)).all()
    pages = max(1, -(-total // PAGE))
    return render_template("settings/audit.html", section="audit", rows=rows, page=page, pages=pages,
                           total=total)


# -- Settings / General: default phone region (CON-4) -------------------------------------------
@bp.post("/general/region")
@admin_required
def save_region():
    """Numbers without a country code are read in this region: contact forms, imports, click-to-call,
    transfers, numbers, and callers matched to contacts.  The pbx controller forgets its routing
    facts on the event, so inbound calls use it at once too."""
    from centrala import account

    from . import regions

    s = dbs()
    try:
        changed = account.save(s, {"default_region": request.form.get("default_region", "")})
    except account.SettingError:
        s.rollback()
        flash(_("Choose a country from the list."), "error")
        return redirect(url_for("chat.general") + "#region")
    region = account.default_region(s, settings())
    if changed:
        audit.record(s, audit.SETTINGS_CHANGED, actor=s.get(User, current_user.id), target="general", ip=client_ip(),
                     **changed)
    s.commit()
    if changed:
        bus().publish(events.SETTINGS_CHANGED, area="general", keys=sorted(changed))
    flash(_("Saved. Numbers without a country code are now read as numbers of: %(country)s.",
            country=regions.label(region)), "success")
    return redirect(url_for("chat.general") + "#region")
