"""Issue 12, defect 2: limits key on the client's real address behind trusted proxies, and
failed logins are limited per account + address pair, per address and (slower) per account."""
from __future__ import annotations

import pytest

from .helpers import instance_settings
from .test_chat import chat  # noqa: F401  (the live-server chat fixture, with this module's settings)
from .web_helpers import PASSWORD, login

pytestmark = pytest.mark.db

PROXY = "10.0.0.1"


@pytest.fixture
def web_settings(tmp_path, database_url, smtp_server):
    """Behind a reverse proxy at 10.0.0.1 (and, for the live server's sockets, loopback)."""
    return instance_settings(tmp_path / "data", database_url, CENTRALA_SMTP_PORT=smtp_server.port,
                             CENTRALA_TRUSTED_PROXIES=f"{PROXY}, 127.0.0.1/32",
                             CENTRALA_LOGIN_ACCOUNT_ATTEMPTS=12)


def _client(app, peer: str):
    client = app.test_client()
    client.environ_base["REMOTE_ADDR"] = peer
    return client


def _fail(client, email: str, times: int, headers=None) -> list[int]:
    return [login(client, email, "wrong password", headers=headers).status_code for _ in range(times)]


def test_behind_a_trusted_proxy_clients_are_limited_separately(app, make_user):
    make_user("anna@example.com")
    proxy = _client(app, PROXY)
    first = {"X-Forwarded-For": "203.0.113.5"}
    assert _fail(proxy, "anna@example.com", 6, first) == [401] * 5 + [429]
    # the same client stays locked out even with the right password ...
    assert login(proxy, "anna@example.com", headers=first).status_code == 429
    # ... while another client behind the same proxy logs in
    assert login(proxy, "anna@example.com", headers={"X-Forwarded-For": "203.0.113.6"}).status_code == 302


def test_a_chain_of_trusted_proxies_is_skipped_and_a_forged_entry_is_not_believed(app, make_user):
    make_user("anna@example.com")
    proxy = _client(app, PROXY)
    # the client forged "198.51.100.1" in front; the proxy at 127.0.0.1 passed it on to 10.0.0.1
    chain = {"X-Forwarded-For": "198.51.100.1, 203.0.113.5, 127.0.0.1"}
    assert _fail(proxy, "anna@example.com", 5, chain) == [401] * 5
    assert login(proxy, "anna@example.com", headers={"X-Forwarded-For": "203.0.113.5"}).status_code == 429
    assert login(proxy, "anna@example.com", headers={"X-Forwarded-For": "198.51.100.1"}).status_code == 302


def test_untrusted_forwarded_for_is_ignored(app, make_user):
    make_user("anna@example.com")
    direct = _client(app, "198.51.100.9")   # not a proxy of ours: its X-Forwarded-For is a lie
    codes = [login(direct, "anna@example.com", "wrong password",
                   headers={"X-Forwarded-For": f"203.0.113.{i}"}).status_code for i in range(6)]
    assert codes == [401] * 5 + [429]


def test_victim_logs_in_while_the_attackers_address_is_locked_out(app, make_user):
    make_user("anna@example.com")
    attacker, victim = _client(app, "203.0.113.66"), _client(app, "198.51.100.7")
    assert _fail(attacker, "anna@example.com", 6) == [401] * 5 + [429]
    assert login(attacker, "anna@example.com").status_code == 429
    assert login(victim, "anna@example.com").status_code == 302


def test_one_address_trying_many_accounts_is_stopped_alone(app, make_user):
    make_user("anna@example.com")
    sprayer, office = _client(app, "203.0.113.70"), _client(app, "198.51.100.8")
    codes = [login(sprayer, f"user{i}@example.com", "wrong password").status_code for i in range(21)]
    assert codes == [401] * 20 + [429]                      # 20 failures a minute per address
    assert login(sprayer, "anna@example.com").status_code == 429
    assert login(office, "anna@example.com").status_code == 302


def test_slow_ceiling_per_account_across_addresses(app, make_user):
    make_user("anna@example.com")
    for i in range(3):   # 12 failures from three addresses, four each: no pair reaches five
        assert _fail(_client(app, f"203.0.113.{80 + i}"), "anna@example.com", 4) == [401] * 4
    r = login(_client(app, "198.51.100.20"), "anna@example.com", PASSWORD)
    assert r.status_code == 429 and "for this account" in r.get_data(as_text=True)
    # the ceiling counts the account typed, whether or not it exists (no enumeration)
    for i in range(3):
        _fail(_client(app, f"203.0.113.{90 + i}"), "ghost@example.com", 4)
    assert login(_client(app, "198.51.100.21"), "ghost@example.com").status_code == 429


def test_widget_contact_form_limit_is_per_real_client(chat):  # noqa: F811
    """Through the live server (peer 127.0.0.1, a trusted proxy): five contact forms per client
    in ten minutes, counted for each X-Forwarded-For address apart."""
    from .test_chat import Peer

    def form(client: str) -> dict:
        v = Peer(chat.url, "/visitor", headers={"X-Forwarded-For": client},
                 auth={"key": chat.key, "url": "http://shop.test/", "title": "Shop", "lang": "en"})
        try:
            assert v.wait("state")
            return v.emit("offline", {"name": "Jan", "email": "jan@example.com", "message": "call me"})
        finally:
            v.close()

    assert [form("203.0.113.10")["ok"] for _ in range(5)] == [True] * 5
    assert form("203.0.113.10") == {"ok": False, "error": "rate_limited"}
    assert form("203.0.113.11")["ok"]
