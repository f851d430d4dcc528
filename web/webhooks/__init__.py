"""Settings / Webhooks (BEY-1): outgoing webhooks on domain events."""


def init_app(app, start_background: bool = True) -> None:
    from . import worker
    from .http import bp

    app.register_blueprint(bp)
    worker.register(app, start_background=start_background)
