"""A local OAuth2 provider for the mailbox sign-in tests: the authorization endpoint (consents at
once and redirects back with a code), the token endpoint (authorization code with PKCE, refresh),
and the token introspection endpoint Dovecot's oauth2 passdb asks (``dovecot_config``).

    with OAuthProvider(username="office@example.com") as p:
        dovecot.extra_config = p.dovecot_config(tmp_path)   # before dovecot.start()
        p.refuse_refresh = True                             # the next refresh fails (revoked)
"""
from __future__ import annotations

import base64
import hashlib
import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import parse_qs, urlencode, urlsplit


class OAuthProvider:
    def __init__(self, username: str, client_id: str = "centrala", client_secret: str = "client-secret",
                 expires_in: int = 3600):
        self.username, self.client_id, self.client_secret = username, client_id, client_secret
        self.expires_in = expires_in
        self.refuse_refresh = False
        self.codes: dict[str, dict] = {}      # code -> {"challenge", "redirect_uri"}
        self.valid: set[str] = set()          # access tokens Dovecot accepts
        self.refresh_tokens: set[str] = set()
        self.requests: list[tuple[str, dict]] = []
        self._n = 0
        self.server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self._thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def __enter__(self) -> "OAuthProvider":
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self.server.shutdown()
        self.server.server_close()

    def dovecot_config(self, root: Path) -> str:
        conf = Path(root) / "oauth2.conf.ext"
        conf.parent.mkdir(parents=True, exist_ok=True)
        conf.write_text(f"introspection_mode = post\nintrospection_url = {self.url}/introspect\n"
                        "username_attribute = username\nactive_attribute = active\nactive_value = true\n")
        return ("auth_mechanisms = plain login xoauth2 oauthbearer\n"
                f"passdb {{\n  driver = oauth2\n  mechanisms = xoauth2 oauthbearer\n  args = {conf}\n}}\n")

    def _token(self) -> str:
        self._n += 1
        return f"at-{self._n}"

    def _handler(self):
        provider = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args):
                pass

            def _json(self, code: int, body: dict):
                raw = json.dumps(body).encode()
                self.send_response(code)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(raw)))
                self.end_headers()
                self.wfile.write(raw)

            def do_GET(self):
                parts = urlsplit(self.path)
                q = {k: v[0] for k, v in parse_qs(parts.query).items()}
                provider.requests.append((parts.path, q))
                if parts.path != "/authorize" or q.get("client_id") != provider.client_id:
                    return self._json(400, {"error": "invalid_request"})
                code = f"code-{len(provider.codes) + 1}"
                provider.codes[code] = {"challenge": q.get("code_challenge"), "redirect_uri": q.get("redirect_uri")}
                self.send_response(302)
                self.send_header("Location", q["redirect_uri"] + "?" + urlencode({"code": code, "state": q["state"]}))
                self.send_header("Content-Length", "0")
                self.end_headers()

            def do_POST(self):
                raw = self.rfile.read(int(self.headers.get("Content-Length") or 0)).decode()
                f = {k: v[0] for k, v in parse_qs(raw).items()}
                provider.requests.append((self.path, f))
                if self.path == "/introspect":
                    return self._json(200, {"active": f.get("token") in provider.valid, "username": provider.username})
                if self.path != "/token":
                    return self._json(404, {"error": "not_found"})
                if (f.get("client_id"), f.get("client_secret")) != (provider.client_id, provider.client_secret):
                    return self._json(401, {"error": "invalid_client"})
                if f.get("grant_type") == "authorization_code":
                    grant = provider.codes.pop(f.get("code", ""), None)
                    verifier = f.get("code_verifier", "")
                    challenge = base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest()).rstrip(b"=").decode()
                    if grant is None or grant["challenge"] != challenge or grant["redirect_uri"] != f.get("redirect_uri"):
                        return self._json(400, {"error": "invalid_grant", "error_description": "Bad code or verifier."})
                    refresh = f"rt-{len(provider.refresh_tokens) + 1}"
                    provider.refresh_tokens.add(refresh)
                elif f.get("grant_type") == "refresh_token":
                    if provider.refuse_refresh or f.get("refresh_token") not in provider.refresh_tokens:
                        return self._json(400, {"error": "invalid_grant",
                                                "error_description": "Token has been expired or revoked."})
                    refresh = None
                else:
                    return self._json(400, {"error": "unsupported_grant_type"})
                token = provider._token()
                provider.valid.add(token)
                body = {"access_token": token, "token_type": "Bearer", "expires_in": provider.expires_in}
                if refresh:
                    body["refresh_token"] = refresh
                return self._json(200, body)

        return Handler
