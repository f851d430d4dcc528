"""A real IMAP server for the email tests: Debian's Dovecot, run in the foreground on free
loopback ports with its own config, users in a passwd-file and Maildirs in a temp dir.

    with Dovecot(tmp_path / "dovecot") as imap:
        imap.add_user("office@example.com", "secret")
        imap.deliver("office@example.com", raw_bytes)          # APPEND to INBOX, as an MDA would
        imap.port, imap.ssl_port, imap.ca_file                 # plain/STARTTLS port, implicit TLS port

``stop()``/``start()`` restart it (a server restart mid-session); Maildirs survive.
The SMTP side is the ``smtp_server`` fixture (aiosmtpd) in ``tests/conftest.py``.
"""
from __future__ import annotations

import datetime as dt
import imaplib
import os
import shutil
import socket
import subprocess
import tempfile
import time
from pathlib import Path

from tests.helpers import free_port, wait_for

DOVECOT = shutil.which("dovecot") or "/usr/sbin/dovecot"
MAIL_UID = 65534          # nobody: Dovecot refuses mail processes as root

CONFIG = """\
protocols = imap
listen = 127.0.0.1
base_dir = {run}
state_dir = {state}
log_path = {root}/dovecot.log
info_log_path = {root}/dovecot.log
ssl = yes
ssl_cert = <{root}/cert.pem
ssl_key = <{root}/key.pem
ssl_min_protocol = TLSv1.2
disable_plaintext_auth = no
auth_mechanisms = plain login
first_valid_uid = {uid}
last_valid_uid = 0
mail_location = maildir:{homes}/%u/Maildir
default_login_user = dovenull
default_internal_user = dovecot
imap_idle_notify_interval = 1 secs
passdb {{
  driver = passwd-file
  args = scheme=PLAIN username_format=%u {root}/passwd
}}
userdb {{
  driver = static
  args = uid={uid} gid={gid} home={homes}/%u
}}
namespace inbox {{
  inbox = yes
  mailbox Sent {{
    special_use = \\Sent
    auto = subscribe
  }}
  mailbox Drafts {{
    special_use = \\Drafts
    auto = subscribe
  }}
  mailbox Trash {{
    special_use = \\Trash
    auto = subscribe
  }}
}}
service imap-login {{
  inet_listener imap {{
    address = 127.0.0.1
    port = {port}
  }}
  inet_listener imaps {{
    address = 127.0.0.1
    port = {ssl_port}
    ssl = yes
  }}
}}
service anvil {{
  chroot =
}}
service auth {{
  user = root
}}
service auth-worker {{
  user = root
}}
service imap-login {{
  chroot =
}}
"""


def _self_signed(root: Path) -> None:
    """A certificate for 127.0.0.1/localhost (``ca_file`` is the certificate itself)."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID
    import ipaddress

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "localhost")])
    now = dt.datetime.now(dt.timezone.utc)
    cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
            .serial_number(x509.random_serial_number()).not_valid_before(now - dt.timedelta(days=1))
            .not_valid_after(now + dt.timedelta(days=30))
            .add_extension(x509.SubjectAlternativeName([x509.DNSName("localhost"),
                                                        x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]),
                           critical=False)
            .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
            .sign(key, hashes.SHA256()))
    (root / "cert.pem").write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    (root / "key.pem").write_bytes(key.private_bytes(serialization.Encoding.PEM,
                                                     serialization.PrivateFormat.TraditionalOpenSSL,
                                                     serialization.NoEncryption()))
    os.chmod(root / "key.pem", 0o600)


class Dovecot:
    def __init__(self, root: Path):
        self.root = Path(root)
        self.port = free_port()
        self.ssl_port = free_port()
        self.host = "127.0.0.1"
        self.proc: subprocess.Popen | None = None
        self.users: dict[str, str] = {}
        self.extra_config = ""   # appended to the configuration (e.g. an OAuth2 passdb, tests/oauth_provider.py)
        # the mail processes run as nobody: Maildirs live where nobody can reach (pytest's tmp is 0700)
        self.homes = Path(tempfile.mkdtemp(prefix="centrala-dovecot-"))
        os.chmod(self.homes, 0o711)
        os.chown(self.homes, MAIL_UID, MAIL_UID)
        # its sockets live here: a unix socket's path must stay under 108 bytes (pytest's tmp is long)
        self.run_dir = Path(tempfile.mkdtemp(prefix="cdv-"))

    # -- lifecycle -----------------------------------------------------------------------------
    def start(self) -> "Dovecot":
        root = self.root
        homes = self.homes
        for d in (root, self.run_dir, root / "state"):
            d.mkdir(parents=True, exist_ok=True)
        if not (root / "cert.pem").exists():
            _self_signed(root)
        (root / "passwd").touch()
        self.conf = root / "dovecot.conf"
        self.conf.write_text(CONFIG.format(root=root, run=self.run_dir, state=root / "state", homes=homes,
                                           port=self.port, ssl_port=self.ssl_port, uid=MAIL_UID, gid=MAIL_UID)
                             + self.extra_config)
        self.proc = subprocess.Popen([DOVECOT, "-F", "-c", str(self.conf)], stdout=subprocess.DEVNULL,
                                     stderr=open(root / "stderr.log", "ab"))
        wait_for(self._listening, 15, what=f"dovecot on {self.port} (see {root}/dovecot.log)")
        return self

    def _listening(self) -> bool:
        if self.proc is not None and self.proc.poll() is not None:
            raise RuntimeError(f"dovecot exited: {(self.root / 'stderr.log').read_text()[-2000:]}"
                               f"{(self.root / 'dovecot.log').read_text()[-2000:] if (self.root / 'dovecot.log').exists() else ''}")
        for port in (self.port, self.ssl_port):
            try:
                socket.create_connection((self.host, port), 0.5).close()
            except OSError:
                return False
        return True

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(5)
        self.proc = None
        wait_for(lambda: not self._port_open(), 10, what="dovecot stopped")

    def _port_open(self) -> bool:
        try:
            socket.create_connection((self.host, self.port), 0.3).close()
            return True
        except OSError:
            return False

    def __enter__(self) -> "Dovecot":
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()
        shutil.rmtree(self.homes, ignore_errors=True)
        shutil.rmtree(self.run_dir, ignore_errors=True)

    @property
    def ca_file(self) -> str:
        return str(self.root / "cert.pem")

    # -- users and mail ------------------------------------------------------------------------
    def add_user(self, user: str, password: str) -> None:
        self.users[user] = password
        (self.root / "passwd").write_text("".join(f"{u}:{p}\n" for u, p in self.users.items()))

    def client(self, user: str) -> imaplib.IMAP4:
        c = imaplib.IMAP4(self.host, self.port)
        c.login(user, self.users[user])
        return c

    def deliver(self, user: str, raw: bytes, folder: str = "INBOX") -> None:
        """Put a message into a user's folder (IMAP APPEND: the server notifies IDLE sessions)."""
        c = self.client(user)
        try:
            typ, data = c.append(folder, "", imaplib.Time2Internaldate(time.time()), raw)
            assert typ == "OK", data
        finally:
            c.logout()

    def messages(self, user: str, folder: str = "INBOX") -> list[bytes]:
        """The raw messages of a folder, in UID order (e.g. what Centrala APPENDed to Sent)."""
        c = self.client(user)
        try:
            typ, _ = c.select(f'"{folder}"', readonly=True)
            assert typ == "OK"
            typ, data = c.uid("SEARCH", None, "ALL")
            uids = data[0].split()
            out = []
            for uid in uids:
                typ, parts = c.uid("FETCH", uid, "(BODY.PEEK[])")
                out.append(parts[0][1])
            return out
        finally:
            c.logout()
