from flask import Blueprint, jsonify

from ..extensions import db, settings
from centrala.pbx_status import health

bp = Blueprint("health", __name__)


@bp.get("/healthz")
def healthz():
    body = health(db(), settings().health_stale_seconds)
    resp = jsonify(body)
    resp.status_code = 200 if body["status"] == "ok" else 503
    resp.headers["Cache-Control"] = "no-store"
    return resp
