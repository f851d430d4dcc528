"""My profile (ACC-5): name, position, avatar, ringtone; channels shown read-only to agents."""
from __future__ import annotations

import secrets

from flask import Blueprint, abort, flash, redirect, render_template, request, send_from_directory, url_for
from flask_babel import gettext as _
from flask_login import current_user, login_required

from centrala import audit
from centrala.models import User
from centrala.secretbox import of_session
from centrala.users import sip_password

from ..extensions import client_ip, dbs, settings
from .avatars import AvatarError, process_avatar

bp = Blueprint("profile", __name__)
RINGTONES = ("long", "short")


@bp.route("/profile", methods=["GET", "POST"])
@login_required
def profile():
    s = dbs()
    user = s.get(User, current_user.id)
    errors = {}
    if request.method == "POST":
        name = request.form.get("name", "").strip()
        position = request.form.get("position", "").strip()
        ringtone = request.form.get("ringtone", user.ringtone)
        if not name:
            errors["name"] = _("Enter your name.")
        if len(name) > 200 or len(position) > 200:
            errors["position" if len(position) > 200 else "name"] = _("At most 200 characters.")
        if ringtone not in RINGTONES:
            errors["ringtone"] = _("Choose a ringtone.")
        if not errors:
            changes = {k: v for k, v in (("name", name), ("position", position), ("ringtone", ringtone))
                       if getattr(user, k) != v}
            user.name, user.position, user.ringtone = name, position, ringtone
            if changes:
                audit.record(s, audit.PROFILE_UPDATED, actor=user, target=user.email, ip=client_ip(),
                             fields=sorted(changes))
            s.commit()
            flash(_("Profile saved."), "success")
            return redirect(url_for("profile.profile"))
    cfg = settings()
    sip = {"server": cfg.sip_public_host or cfg.sip_host, "port": cfg.sip_port, "transport": "UDP",
           "password": sip_password(of_session(s), user)}
    return render_template("profile.html", user=user, errors=errors, form=request.form if errors else None,
                           sip=sip), (400 if errors else 200)


@bp.post("/profile/avatar")
@login_required
def upload_avatar():
    s = dbs()
    user = s.get(User, current_user.id)
    upload = request.files.get("avatar")
    if upload is None or not upload.filename:
        flash(_("Choose an image file."), "error")
        return redirect(url_for("profile.profile")), 303
    try:
        image = process_avatar(upload.stream)
    except AvatarError as exc:
        flash(str(exc), "error")
        return redirect(url_for("profile.profile")), 303
    name = f"{user.id}-{secrets.token_hex(8)}.png"
    target = settings().avatars_dir
    target.mkdir(parents=True, exist_ok=True)
    (target / name).write_bytes(image)
    old = user.avatar
    user.avatar = name
    audit.record(s, audit.PROFILE_UPDATED, actor=user, target=user.email, ip=client_ip(), fields=["avatar"])
    s.commit()
    if old:
        (target / old).unlink(missing_ok=True)
    flash(_("Avatar updated."), "success")
    return redirect(url_for("profile.profile")), 303


@bp.get("/avatars/<int:user_id>")
@login_required
def avatar(user_id: int):
    user = dbs().get(User, user_id)
    if user is None or not user.avatar:
        abort(404)
    resp = send_from_directory(settings().avatars_dir, user.avatar, mimetype="image/png", max_age=300)
    return resp
