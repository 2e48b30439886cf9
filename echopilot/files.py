"""Owner-only files: the SQLite database is created 0600 before SQLite opens it.

SQLite creates its WAL and SHM files (and journals) with the database file's
mode, so a database created 0600 keeps all of them owner-only. The mode passes
through the process umask, so a stricter umask narrows it further; an existing
file's mode is never changed.
"""

import logging
import os
from pathlib import Path

from django.conf import settings

logger = logging.getLogger("echopilot.files")


def create_private(path: Path) -> bool:
    """Create `path` empty with mode 0600 (less the umask) if it is missing; True if created."""
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC, 0o600)
    except FileExistsError:
        return False
    os.close(fd)
    return True


def prepare_sqlite() -> None:
    """Create the configured SQLite database file owner-only before the first connection."""
    db = settings.DATABASES["default"]
    name = str(db.get("NAME") or "")
    if db["ENGINE"] != "django.db.backends.sqlite3" or not name or name.startswith(":"):
        return
    path = Path(name)
    if path.exists() or not path.parent.is_dir() or "mode=memory" in name:
        return
    try:
        create_private(path)
    except OSError as exc:  # read-only checkout, …: SQLite reports it on connecting
        logger.debug("could not create %s: %s", path, exc)
