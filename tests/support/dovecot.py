"""A real IMAP server for tests: Debian's dovecot, run in the foreground (`dovecot -F`)
as a child process on a free loopback port with a throw-away configuration, one
plain-text login user, and Maildir storage; stopped by its PID.

`with Dovecot(folder) as server:` → `server.port`, `server.user`, `server.password`,
`server.client()` (a logged-in `imaplib.IMAP4`), `server.append(bytes)`.
Fails (never skips) when dovecot is missing: `.ci/run` installs `dovecot-imapd`."""

from __future__ import annotations

import imaplib
import os
import pwd
import shutil
import subprocess
import tempfile
import time
from pathlib import Path

from support.live_server import free_port
from support.processes import stop

DOVECOT = os.environ.get("DISPATCH_DOVECOT", "/usr/sbin/dovecot")

CONFIG = """\
protocols = imap
listen = 127.0.0.1
base_dir = {root}/run
state_dir = {root}/state
log_path = {root}/dovecot.log
ssl = no
disable_plaintext_auth = no
auth_mechanisms = plain login
mail_location = maildir:{root}/mail/%u
first_valid_uid = {uid}
last_valid_uid = {uid}
passdb {{
  driver = passwd-file
  args = scheme=PLAIN username_format=%u {root}/passwd
}}
userdb {{
  driver = static
  args = uid={uid} gid={gid} home={root}/home/%u
}}
service imap-login {{
  inet_listener imap {{
    address = 127.0.0.1
    port = {port}
  }}
  inet_listener imaps {{
    port = 0
  }}
}}
"""


class Dovecot:
    def __init__(self, user: str = "bounces", password: str = "s3cret-imap") -> None:
        if not Path(DOVECOT).exists():
            raise RuntimeError(f"{DOVECOT} not found: install dovecot-imapd (apt-get)")
        self.user, self.password = user, password
        self.port = free_port()
        # Readable by dovecot's own users: pytest's tmp_path is private to its owner.
        self.root = Path(tempfile.mkdtemp(prefix="dispatch-dovecot-"))
        self.root.chmod(0o755)
        self.process: subprocess.Popen[bytes] | None = None

    def __enter__(self) -> Dovecot:
        uid, gid = _mail_ids()
        for name in ("run", "state", "mail", "home"):
            (self.root / name).mkdir()
        for name in ("mail", "home"):
            os.chown(self.root / name, uid, gid)
        (self.root / "passwd").write_text(f"{self.user}:{{PLAIN}}{self.password}\n")
        config = self.root / "dovecot.conf"
        text = CONFIG.format(root=self.root, uid=uid, gid=gid, port=self.port)
        config.write_text(text)
        self.process = subprocess.Popen(
            [DOVECOT, "-F", "-c", str(config)],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
        )
        self._wait_ready()
        return self

    def _wait_ready(self) -> None:
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            assert self.process is not None
            if self.process.poll() is not None:
                raise RuntimeError(f"dovecot exited: {self.log()}")
            try:
                self.client().logout()
                return
            except (OSError, imaplib.IMAP4.error):
                time.sleep(0.1)
        raise RuntimeError(f"dovecot did not answer on port {self.port}: {self.log()}")

    def __exit__(self, *exc: object) -> None:
        stop(self.process)
        shutil.rmtree(self.root, ignore_errors=True)

    def log(self) -> str:
        path = self.root / "dovecot.log"
        return path.read_text(errors="replace")[-3000:] if path.exists() else "(no log)"

    def client(self) -> imaplib.IMAP4:
        connection = imaplib.IMAP4("127.0.0.1", self.port, timeout=10)
        connection.login(self.user, self.password)
        return connection

    def append(self, message: bytes, folder: str = "INBOX") -> None:
        connection = self.client()
        try:
            status, _ = connection.append(
                folder, "", imaplib.Time2Internaldate(time.time()), message
            )
            assert status == "OK", status
        finally:
            connection.logout()

    def messages(self, folder: str = "INBOX") -> list[bytes]:
        connection = self.client()
        try:
            connection.select(folder)
            _, found = connection.uid("SEARCH", None, "ALL")
            out = []
            for uid in found[0].split():
                _, data = connection.uid("FETCH", uid, "(BODY.PEEK[])")
                out.append(bytes(data[0][1]))
            return out
        finally:
            connection.logout()


def _mail_ids() -> tuple[int, int]:
    """Dovecot never gives mail to root: as root, mail belongs to the `dovecot` user."""
    if os.getuid() != 0:
        return os.getuid(), os.getgid()
    entry = pwd.getpwnam("dovecot")
    return entry.pw_uid, entry.pw_gid
