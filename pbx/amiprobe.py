"""A blocking, one-shot AMI exchange for the runtime manager (readiness and status).

The controller uses panoramisk; this small helper exists so ``centrala pbx up`` can wait
for "fully booted" without an event loop.
"""
from __future__ import annotations

import socket
import time


class AmiProbeError(OSError):
    pass


class AmiLoginRefused(AmiProbeError):
    """Asterisk answered but refused the credentials: waiting longer cannot help."""


def _read_message(sock_file) -> dict[str, str]:
    msg: dict[str, str] = {}
    while True:
        line = sock_file.readline()
        if not line:
            raise AmiProbeError("AMI connection closed")
        line = line.decode(errors="replace").rstrip("\r\n")
        if not line:
            if msg:
                return msg
            continue
        if ":" in line:
            key, value = line.split(":", 1)
            key, value = key.strip(), value.strip()
            if key == "Output":  # a Command's output comes one "Output:" line per line
                msg[key] = msg[key] + "\n" + value if key in msg else value
            else:
                msg.setdefault(key, value)


def ami_actions(host: str, port: int, username: str, secret: str,
                actions: list[dict[str, str]], timeout: float = 10.0) -> list[dict[str, str]]:
    """Log in, run ``actions`` in order, log off; return each action's response."""
    with socket.create_connection((host, port), timeout=timeout) as sock:
        f = sock.makefile("rb")
        banner = f.readline()
        if not banner.startswith(b"Asterisk Call Manager"):
            raise AmiProbeError(f"not an AMI banner: {banner!r}")
        results = []
        all_actions = [{"Action": "Login", "Username": username, "Secret": secret,
                        "Events": "off"}] + actions + [{"Action": "Logoff"}]
        for n, action in enumerate(all_actions):
            action_id = f"probe-{n}"
            payload = "".join(f"{k}: {v}\r\n" for k, v in action.items())
            sock.sendall(f"{payload}ActionID: {action_id}\r\n\r\n".encode())
            while True:
                msg = _read_message(f)
                if msg.get("ActionID") == action_id and "Response" in msg:
                    break
            if n == 0 and msg.get("Response") != "Success":
                raise AmiLoginRefused("AMI login refused (" + msg.get("Message", "") +
                                      "): the AMI user or secret does not match Asterisk's manager.conf")
            if 0 < n < len(all_actions) - 1:
                results.append(msg)
        return results


def wait_fully_booted(host: str, port: int, username: str, secret: str, deadline: float,
                      alive=lambda: True) -> str:
    """Block until Asterisk answers AMI and reports fully booted; return its version."""
    last_error: Exception | None = None
    while time.monotonic() < deadline:
        if not alive():
            raise AmiProbeError("Asterisk exited during start-up")
        try:
            remaining = max(1.0, deadline - time.monotonic())
            boot, settings = ami_actions(host, port, username, secret, [
                {"Action": "Command", "Command": "core waitfullybooted"},
                {"Action": "CoreSettings"},
            ], timeout=remaining)
            return settings.get("AsteriskVersion", "")
        except AmiLoginRefused:
            raise
        except (OSError, AmiProbeError) as exc:
            last_error = exc
            time.sleep(0.2)
    raise AmiProbeError(f"Asterisk did not finish booting in time ({last_error})")
