"""Turning outside content into articles: files today; feeds and API payloads reuse it.

`import_paths(db, settings, paths)` is the entry point the CLI, admin UI and API share.
"""

from __future__ import annotations

from dispatch.ingest.importer import (
    Action,
    Imported,
    ImportReport,
    Origin,
    import_paths,
    save_edit,
    upsert,
)
from dispatch.ingest.source import Source, load_file, parse_source

__all__ = [
    "Action",
    "ImportReport",
    "Imported",
    "Origin",
    "Source",
    "import_paths",
    "load_file",
    "parse_source",
    "save_edit",
    "upsert",
]
