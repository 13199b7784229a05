"""`dispatch doctor` on the dashboard: the last diagnosis, computed in a background
thread (DNS can be slow; the page never waits for it) and kept `FRESH` long."""

from __future__ import annotations

import logging
import threading
import time
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from dispatch.config import Settings
from dispatch.store.database import Database

if TYPE_CHECKING:
    from dispatch.doctor import Diagnosis

log = logging.getLogger(__name__)
FRESH = 600.0  # seconds a diagnosis is shown before it is made again


@dataclass
class DoctorView:
    settings: Settings
    database: Database | None = None  # when given, the lists as stored now are checked
    diagnosis: Diagnosis | None = None
    checked_at: float = 0.0
    running: bool = False
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def current(self, recheck: bool = False) -> Diagnosis | None:
        """The last diagnosis (None before the first); starts a new one when stale."""
        with self._lock:
            stale = recheck or time.monotonic() - self.checked_at > FRESH
            if stale and not self.running:
                self.running = True
                threading.Thread(target=self._run, name="dispatch-doctor", daemon=True).start()
            return self.diagnosis

    def _settings_now(self) -> Settings:
        if self.database is None:
            return self.settings
        from dispatch.lists import live_settings

        with self.database.session() as session:
            return live_settings(session, self.settings)

    def _run(self) -> None:
        from dispatch.doctor import diagnose  # dnspython: only when a diagnosis is asked for

        try:
            found = diagnose(self._settings_now())
        except Exception:  # shown as "not checked"; the next view tries again
            log.exception("doctor: the checks failed")
            found = None
        with self._lock:
            self.diagnosis = found or self.diagnosis
            self.checked_at = time.monotonic()
            self.running = False
