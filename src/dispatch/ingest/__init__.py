"""Turning outside content into articles: files today; feeds and API payloads reuse it.

`import_paths(db, settings, paths)` is the entry point the CLI, admin UI and API share.
"""

from __future__ import annotations

from importlib import import_module
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
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

# Loaded on first use: importing one module of the package (`ingest.markdown` for an
# editor's note) must not import trafilatura and the whole importer with it.
_LAZY = {
    "Action": "importer",
    "ImportReport": "importer",
    "Imported": "importer",
    "Origin": "importer",
    "import_paths": "importer",
    "save_edit": "importer",
    "upsert": "importer",
    "Source": "source",
    "load_file": "source",
    "parse_source": "source",
}


def __getattr__(name: str) -> Any:
    if name not in _LAZY:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return getattr(import_module(f"{__name__}.{_LAZY[name]}"), name)


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
