"""Settings / Voice / Trunks and Numbers (VOI-1, VOI-5, BEY-5), administrators only.

The checks live in ``centrala.telephony`` (shared with the REST API and the CLI); this module
turns form fields into its arguments and its error codes into translated messages.  Every change
publishes ``SETTINGS_CHANGED`` so the pbx controller reloads Asterisk at once.
"""
from __future__ import annotations

from flask import abort, flash, jsonify, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_login import current_user
from sqlalchemy import func, select

from agents import events
from agents.inbound import DAYS
from centrala import account, audit
from centrala import telephony as tel
from centrala.models import Number, Trunk, User

from ..auth.permissions import admin_required
from ..extensions import bus, client_ip, dbs, settings
from .http import bp

KIND_LABELS = {"gsm": _l("GSM"), "tdm": _l("TDM"), "own": _l("Own number")}
DAY_LABELS = dict(zip(DAYS, (_l("Monday"), _l("Tuesday"), _l("Wednesday"), _l("Thursday"), _l("Friday"),
                             _l("Saturday"), _l("Sunday"))))
REGISTRATION_LABELS = {"registered": _l("Registered"), "rejected": _l("Rejected"), "unregistered": _l("Trying…"),
                       "stopped": _l("Stopped")}
RECORD_LABELS = {"account": _l("As in General"), "on": _l("Record"), "off": _l("Do not record")}
DEFAULT_HOURS = {d: ["08:00", "16:00"] for d in DAYS[:5]}


def error_text(exc: tel.TelephonyError) -> str:
    p = exc.params
    day = DAY_LABELS.get(p.get("day") or "", "")
    texts = {
        "name": _("Use letters, digits, “-” and “_” only (at most 64)."),
        "name_taken": _("A trunk with this name already exists."),
        "host": _("Enter an IP address or a host name."),
        "port": _("Enter a port between 1 and 65535."),
        "address_taken": _("Trunk %(other)s already uses %(address)s.", other=p.get("other", ""),
                           address=p.get("address", "")),
        "credential": _("No spaces, quotes or ;[]=\\ characters."),
        "username_needed": _("A password needs a user name."),
        "register_credentials": _("To register with the carrier, enter the user name and password it gave you."),
        "trunk_in_use": _("Trunk %(name)s still has numbers (%(count)d). Delete them or move them to another trunk first.",
                          name=p.get("name", ""), count=p.get("count", 0)),
        "number": _("This is not a valid phone number."),
        "number_taken": _("%(number)s is already in the pool.", number=p.get("number", "")),
        "no_trunk": _("Choose a trunk."),
        "kind": _("Choose GSM, TDM or own number."),
        "bad_time": _("%(day)s: enter times as HH:MM.", day=day),
        "close_before_open": _("%(day)s: the closing time must be after the opening time.", day=day),
        "bad_shape": _("Check the business hours."),
    }
    return texts.get(exc.code, str(exc))


def _changed(area: str, **data) -> None:
    bus().publish(events.SETTINGS_CHANGED, area=area, keys=[], **data)   # pbx re-renders pjsip.conf


def _actor() -> User:
    return dbs().get(User, current_user.id)


# -- trunks ------------------------------------------------------------------------------
@bp.get("/trunks")
@admin_required
def trunks():
    s = dbs()
    counts = dict(s.execute(select(Number.trunk_id, func.count()).group_by(Number.trunk_id)).all())
    rows = list(s.scalars(select(Trunk).order_by(Trunk.name)))
    return render_template("settings/voice_trunks.html", section="voice", trunks=rows, counts=counts,
                           registration=tel.registration_state, registration_labels=REGISTRATION_LABELS)


@bp.get("/trunks/registrations")
@admin_required
def trunk_registrations():
    """Live registration states for the Trunks list (polled by trunkreg.js while it is open)."""
    out = {}
    for t in dbs().scalars(select(Trunk).order_by(Trunk.name)):
        state = tel.registration_state(t)
        out[str(t.id)] = None if state is None else {"state": state, "label": str(REGISTRATION_LABELS[state])}
    return jsonify(out)


def _trunk_form(t: Trunk | None):
    s = dbs()
    errors: dict = {}
    values = {"name": t.name if t else "", "host": t.host if t else "", "port": t.port if t else 5060,
              "username": (t.username or "") if t else "", "enabled": t.enabled if t else True,
              "register": bool(t.register) if t else False}
    if request.method == "POST":
        f = request.form
        values = {"name": f.get("name", ""), "host": f.get("host", ""), "port": f.get("port", ""),
                  "username": f.get("username", ""), "enabled": bool(f.get("enabled")),
                  "register": bool(f.get("register"))}
        password = f.get("password", "")
        try:
            if t is None:
                t = tel.create_trunk(s, values["name"], values["host"], values["port"], values["username"],
                                     password, values["enabled"], register=values["register"])
                action = "trunk.added"
            else:
                tel.update_trunk(s, t, name=values["name"], host=values["host"], port=values["port"],
                                 username=values["username"],
                                 password=None if f.get("clear_password") else password, enabled=values["enabled"],
                                 register=values["register"])
                action = "trunk.changed"
        except tel.TelephonyError as exc:
            s.rollback()
            errors[exc.field] = error_text(exc)
        else:
            audit.record(s, audit.SETTINGS_CHANGED, actor=_actor(), target=f"trunk.{t.name}", ip=client_ip(),
                         change=action, host=t.host, port=t.port, username=t.username, enabled=t.enabled,
                         register=t.register)
            s.commit()
            _changed("trunks", trunk=t.name)
            flash(_("Trunk %(name)s saved. Asterisk uses it within a few seconds.", name=t.name), "success")
            return redirect(url_for("voice.trunks"), 303)
    return render_template("settings/voice_trunk_form.html", section="voice", trunk=t, values=values,
                           errors=errors), (400 if errors else 200)


@bp.route("/trunks/new", methods=["GET", "POST"])
@admin_required
def new_trunk():
    return _trunk_form(None)


@bp.route("/trunks/<int:trunk_id>", methods=["GET", "POST"])
@admin_required
def edit_trunk(trunk_id: int):
    return _trunk_form(dbs().get(Trunk, trunk_id) or abort(404))


@bp.post("/trunks/<int:trunk_id>/delete")
@admin_required
def delete_trunk(trunk_id: int):
    s = dbs()
    t = s.get(Trunk, trunk_id) or abort(404)
    name = t.name
    try:
        tel.delete_trunk(s, t)
    except tel.TelephonyError as exc:
        s.rollback()
        flash(error_text(exc), "error")
        return redirect(url_for("voice.trunks"), 303)
    audit.record(s, audit.SETTINGS_CHANGED, actor=_actor(), target=f"trunk.{name}", ip=client_ip(),
                 change="trunk.deleted")
    s.commit()
    _changed("trunks", trunk=name)
    flash(_("Trunk %(name)s deleted.", name=name), "success")
    return redirect(url_for("voice.trunks"), 303)


# -- numbers -----------------------------------------------------------------------------
def hours_summary(hours: dict | None) -> str:
    if not hours:
        return _("Always open")
    open_days = [(d, p) for d, p in ((d, hours.get(d)) for d in DAYS) if p]
    if not open_days:
        return _("Always closed")
    groups: list[list] = []
    for d, p in open_days:   # consecutive days with the same hours: "Mon–Fri 08:00–16:00"
        if groups and groups[-1][2] == p and DAYS.index(d) == DAYS.index(groups[-1][1]) + 1:
            groups[-1][1] = d
        else:
            groups.append([d, d, p])
    short = lambda d: str(DAY_LABELS[d])[:3]   # noqa: E731
    return ", ".join((short(a) if a == b else f"{short(a)}–{short(b)}") + f" {p[0]}–{p[1]}" for a, b, p in groups)


@bp.get("/numbers")
@admin_required
def numbers():
    s = dbs()
    rows = list(s.execute(select(Number, Trunk.name).join(Trunk, Trunk.id == Number.trunk_id).order_by(Number.number)))
    return render_template("settings/voice_numbers.html", section="voice", rows=rows, kind_labels=KIND_LABELS,
                           record_labels=RECORD_LABELS, hours_summary=hours_summary,
                           has_trunks=bool(s.scalar(select(func.count()).select_from(Trunk))))


def _record_value(raw: str) -> bool | None:
    return {"on": True, "off": False}.get(raw)


def _record_key(value: bool | None) -> str:
    return "account" if value is None else ("on" if value else "off")


def _hours_from_form(f) -> dict | None:
    if not f.get("use_hours"):
        return None
    return {d: [f.get(f"{d}_open", "").strip(), f.get(f"{d}_close", "").strip()] if f.get(f"{d}_on") else None
            for d in DAYS}


def _number_form(n: Number | None):
    s = dbs()
    trunk_rows = list(s.scalars(select(Trunk).order_by(Trunk.name)))
    errors: dict = {}
    hours = (n.hours if n else None)
    values = {"number": n.number if n else "", "trunk_id": n.trunk_id if n else (trunk_rows[0].id if trunk_rows else ""),
              "kind": n.kind if n else "gsm", "label": n.label if n else "", "enabled": n.enabled if n else True,
              "record": _record_key(n.record_calls if n else None), "use_hours": bool(hours),
              "hours": hours or DEFAULT_HOURS}
    if request.method == "POST":
        f = request.form
        raw_hours = _hours_from_form(f)
        values = {"number": f.get("number", ""), "trunk_id": f.get("trunk_id", ""), "kind": f.get("kind", ""),
                  "label": f.get("label", ""), "enabled": bool(f.get("enabled")), "record": f.get("record", "account"),
                  "use_hours": bool(f.get("use_hours")),
                  "hours": raw_hours or {d: [f.get(f"{d}_open", ""), f.get(f"{d}_close", "")] if f.get(f"{d}_on")
                                         else None for d in DAYS}}
        trunk = s.get(Trunk, int(values["trunk_id"])) if str(values["trunk_id"]).isdigit() else None
        try:
            if trunk is None:
                raise tel.TelephonyError("trunk_id", "no_trunk", "choose a trunk")
            region = account.default_region(s, settings())
            if n is None:
                n = tel.create_number(s, values["number"], trunk, region=region, kind=values["kind"],
                                      label=values["label"], enabled=values["enabled"],
                                      record_calls=_record_value(values["record"]), hours=raw_hours)
                action = "number.added"
            else:
                tel.update_number(s, n, region=region, number=values["number"], trunk=trunk, kind=values["kind"],
                                  label=values["label"], enabled=values["enabled"],
                                  record_calls=_record_value(values["record"]), hours=raw_hours)
                action = "number.changed"
        except tel.TelephonyError as exc:
            s.rollback()
            errors["trunk_id" if exc.field == "trunk" else exc.field] = error_text(exc)
            n = s.get(Number, n.id) if n is not None and n.id else None
        else:
            audit.record(s, audit.SETTINGS_CHANGED, actor=_actor(), target=f"number.{n.number}", ip=client_ip(),
                         change=action, trunk=trunk.name, kind=n.kind, record_calls=n.record_calls, hours=n.hours,
                         enabled=n.enabled)
            s.commit()
            _changed("numbers", number=n.number)
            flash(_("Number %(number)s saved.", number=n.number), "success")
            return redirect(url_for("voice.numbers"), 303)
    return render_template("settings/voice_number_form.html", section="voice", number=n, values=values,
                           errors=errors, trunks=trunk_rows, kind_labels=KIND_LABELS, record_labels=RECORD_LABELS,
                           day_labels=DAY_LABELS, days=DAYS), (400 if errors else 200)


@bp.route("/numbers/new", methods=["GET", "POST"])
@admin_required
def new_number():
    return _number_form(None)


@bp.route("/numbers/<int:number_id>", methods=["GET", "POST"])
@admin_required
def edit_number(number_id: int):
    return _number_form(dbs().get(Number, number_id) or abort(404))


@bp.post("/numbers/<int:number_id>/delete")
@admin_required
def delete_number(number_id: int):
    s = dbs()
    n = s.get(Number, number_id) or abort(404)
    value = n.number
    s.delete(n)
    audit.record(s, audit.SETTINGS_CHANGED, actor=_actor(), target=f"number.{value}", ip=client_ip(),
                 change="number.deleted")
    s.commit()
    _changed("numbers", number=value)
    flash(_("Number %(number)s deleted.", number=value), "success")
    return redirect(url_for("voice.numbers"), 303)
