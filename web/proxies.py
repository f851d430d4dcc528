"""The client's real address behind reverse proxies (``CENTRALA_TRUSTED_PROXIES``).

The setting lists the proxies' addresses or networks (``127.0.0.1, 10.0.0.0/8``).  Only when the
direct peer is one of them is ``X-Forwarded-For`` read, right to left, skipping entries that are
trusted proxies themselves (a chain of proxies); the first other address is the client's.
Werkzeug's ``ProxyFix`` then rewrites ``REMOTE_ADDR`` (and the scheme from
``X-Forwarded-Proto``) with that many hops, so ``request.remote_addr`` — rate limits, audit log,
Socket.IO handlers — is the client's everywhere.  A request that did not come through a trusted
proxy keeps its peer address: a forged ``X-Forwarded-For`` sent straight to the app is ignored.
"""
from __future__ import annotations

import ipaddress

from werkzeug.middleware.proxy_fix import ProxyFix

MAX_HOPS = 8


def _address(value: str):
    try:
        return ipaddress.ip_address(value.strip().strip("[]"))
    except ValueError:
        return None


class TrustedProxies:
    def __init__(self, app, networks: list):
        self.app = app
        self.networks = list(networks)
        self._fixes: dict[int, ProxyFix] = {}

    def trusted(self, value: str) -> bool:
        addr = _address(value)
        return addr is not None and any(addr in net for net in self.networks)

    def hops(self, environ) -> int:
        """How many proxies, counted from the app, handled this request (0: not through one)."""
        if not self.trusted(environ.get("REMOTE_ADDR", "")):
            return 0
        forwarded = [v for v in environ.get("HTTP_X_FORWARDED_FOR", "").split(",") if v.strip()]
        hops = 1
        for value in reversed(forwarded[1:]):   # the leftmost entry is never a proxy of ours
            if hops >= MAX_HOPS or not self.trusted(value):
                break
            hops += 1
        return hops if forwarded else 0

    def __call__(self, environ, start_response):
        hops = self.hops(environ)
        if not hops:
            return self.app(environ, start_response)
        fix = self._fixes.get(hops)
        if fix is None:
            fix = self._fixes[hops] = ProxyFix(self.app, x_for=hops, x_proto=1)
        return fix(environ, start_response)


def install(app, networks: list) -> None:
    """Wrap the app (outside Socket.IO's middleware, so sockets see the client's address too)."""
    if networks:
        app.wsgi_app = TrustedProxies(app.wsgi_app, networks)
