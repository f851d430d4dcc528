"""Settings / Voice (administrators only, ACC-3): Recordings — welcome, hold music and
answering machine prompts (VOI-4)."""
from __future__ import annotations

from flask import Blueprint, abort, flash, redirect, render_template, request, send_file, url_for
from flask_babel import gettext as _
from flask_login import current_user

from centrala import audio
from centrala.models import PromptFile, User
from centrala.prompts import KINDS, MAX_HOLD_FILES

from ..auth.permissions import admin_required
from ..extensions import client_ip, db, dbs, settings
from . import services
from .services import PromptError

bp = Blueprint("voice", __name__, url_prefix="/settings/voice")


def _page(errors: dict | None = None, status: int = 200):
    s = dbs()
    return render_template(
        "settings/voice_prompts.html", section="voice", prompts=services.overview(s), errors=errors or {},
        kind_labels=services.KIND_LABELS, kind_hints=services.KIND_HINTS, mode_labels=services.MODE_LABELS,
        default_hints=services.DEFAULT_HINTS, off_hints=services.OFF_HINTS,
        format_duration=services.format_duration, format_size=services.format_size,
        limit_text=services.limit_text, max_mb=audio.MAX_BYTES // (1024 * 1024),
        max_hold_files=MAX_HOLD_FILES), status


def _back(kind: str):
    return redirect(url_for("voice.prompts", _anchor=f"prompt-{kind}"), 303)


def _actor() -> User:
    return dbs().get(User, current_user.id)


@bp.get("/")
@admin_required
def index():
    return redirect(url_for("voice.prompts"))


@bp.get("/prompts")
@admin_required
def prompts():
    return _page()


@bp.post("/prompts/<kind>/mode")
@admin_required
def set_mode(kind: str):
    if kind not in KINDS:
        abort(404)
    s = dbs()
    try:
        changed = services.set_mode(s, kind, request.form.get("mode", ""), _actor(), client_ip())
    except PromptError as exc:
        s.rollback()
        return _page({kind: str(exc)}, 400)
    s.commit()
    if changed:
        flash(_("Changes saved."), "success")
    return _back(kind)


@bp.post("/prompts/<kind>/upload")
@admin_required
def upload(kind: str):
    if kind not in KINDS:
        abort(404)
    s = dbs()
    try:
        f = services.upload(s, settings().prompts_dir, kind, request.files.get("file"), _actor(), client_ip())
    except PromptError as exc:
        s.rollback()
        return _page({kind: str(exc)}, 400)
    flash(_("%(name)s was uploaded (%(length)s) and is now in use.", name=f.original_name,
            length=services.format_duration(f.duration)), "success")
    return _back(kind)


@bp.post("/prompts/files/<int:file_id>/delete")
@admin_required
def delete(file_id: int):
    f = services.delete_file(dbs(), settings().prompts_dir, file_id, _actor(), client_ip())
    if f is None:
        abort(404)
    flash(_("%(name)s was deleted.", name=f.original_name), "success")
    return _back(f.kind)


def _file(file_id: int) -> PromptFile:
    return dbs().get(PromptFile, file_id) or abort(404)


@bp.get("/prompts/files/<int:file_id>/audio")
@admin_required
def preview(file_id: int):
    """The converted recording, as callers hear it (8 kHz): the page's <audio> player."""
    path = services.wav_path(settings().prompts_dir, _file(file_id))
    if not path.is_file():
        abort(404)
    return send_file(path, mimetype="audio/wav", conditional=True, max_age=0)


@bp.get("/prompts/files/<int:file_id>/original")
@admin_required
def original(file_id: int):
    """The file as it was uploaded."""
    f = _file(file_id)
    path = services.original_path(settings().prompts_dir, f)
    if not path.is_file():
        abort(404)
    mimetypes = {".wav": "audio/wav", ".mp3": "audio/mpeg", ".ogg": "audio/ogg"}
    return send_file(path, mimetype=mimetypes.get(path.suffix, "application/octet-stream"),
                     as_attachment=True, download_name=f.original_name, max_age=0)


@bp.route("/general", methods=["GET", "POST"])
@admin_required
def general():
    """Settings / Voice / General: ring timeout, wrap-up, recording, voicemail length, inbound and
    outbound channels on/off (VOI-6), time zone of business hours (BEY-5)."""
    from agents import events
    from centrala import account
    from centrala import audit as audit_log

    from ..extensions import bus

    s = dbs()
    current = account.effective(settings(), db())
    values = {k: getattr(current, k) for k in account.VOICE}
    errors = {}
    if request.method == "POST":
        form = {k: request.form.get(k, "") for k in account.VOICE}   # a checkbox left out is off
        form["timezone"] = request.form.get("timezone") or current.timezone
        try:
            changed = account.save(s, form)
        except account.SettingError as exc:
            s.rollback()
            kind, low, high = account.VOICE[exc.key]
            errors[exc.key] = (_("Choose a time zone from the list.") if kind is str else
                               _("Enter a whole number between %(low)d and %(high)d.", low=low, high=high))
            values.update(form)
        else:
            if changed:
                audit_log.record(s, audit_log.SETTINGS_CHANGED, actor=_actor(), target="voice", ip=client_ip(),
                                 **changed)
            s.commit()
            bus().publish(events.SETTINGS_CHANGED, area="voice", keys=sorted(changed))  # pbx re-renders
            flash(_("Voice settings saved. Asterisk uses them within a few seconds."), "success")
            return redirect(url_for("voice.general"))
    from agents.inbound import available_timezones

    return render_template("settings/voice_general.html", section="voice", values=values, errors=errors,
                           timezones=sorted(available_timezones())), (400 if errors else 200)


from . import channel_users, lines  # noqa: E402,F401  more tabs; their routes are on this blueprint
