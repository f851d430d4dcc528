"""Files tab (FIL-1, FIL-2): pages and REST API."""


def init_app(app) -> None:
    from ..extensions import csrf
    from .api import bp as api_bp
    from .http import bp

    app.register_blueprint(bp)
    app.register_blueprint(api_bp)
    csrf.exempt(api_bp)  # bearer tokens, no cookies: nothing to forge
