"""CSV out for the admin, through the CLI's own exporter, and the name an upload is kept
under (uploads are imported in the background: `web.admin.imports`).

An export is written by `export_to_file` (atomic) to a temporary file that the response
streams and then removes.
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path, PurePath

from sqlalchemy.orm import Session

from dispatch.subscribers import export_to_file


def upload_name(filename: str | None) -> str:
    return PurePath((filename or "upload.csv").replace("\\", "/")).name or "upload.csv"


def export_csv(session: Session, list_slug: str, status: str) -> Path:
    """A temporary CSV file of the list (the caller removes it)."""
    handle, name = tempfile.mkstemp(prefix="dispatch-export-", suffix=".csv")
    os.close(handle)
    path = Path(name)
    try:
        export_to_file(session, list_slug, path, status)
    except BaseException:
        path.unlink(missing_ok=True)
        raise
    return path
