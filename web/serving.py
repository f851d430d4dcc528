"""The threaded HTTP server of ``centrala run`` and of the tests' live server, without the
``Server: Werkzeug/… Python/…`` banner (issue 12, defect 5: no version advertised)."""
from __future__ import annotations

from werkzeug.serving import WSGIRequestHandler, make_server as _make_server

SERVER = "Centrala"


class QuietRequestHandler(WSGIRequestHandler):
    def version_string(self) -> str:   # the Server header
        return SERVER


def make_server(host: str, port: int, app):
    return _make_server(host, port, app, threaded=True, request_handler=QuietRequestHandler)
