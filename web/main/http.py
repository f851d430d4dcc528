from flask import Blueprint, render_template

from centrala import __version__

from ..extensions import db, settings
from centrala.pbx_status import health

bp = Blueprint("main", __name__)


@bp.get("/")
def index():
    return render_template("index.html", health=health(db(), settings().health_stale_seconds),
                           version=__version__)
