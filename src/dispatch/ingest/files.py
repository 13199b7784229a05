"""Finding article files and reading them safely (bytes → text: `decoding`)."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from enum import StrEnum
from pathlib import Path

from dispatch.errors import IngestError
from dispatch.ingest.decoding import Decoded, decode


class Kind(StrEnum):
    MARKDOWN = "markdown"
    PLAINTEXT = "plaintext"
    HTML = "html"


SUFFIXES = {
    ".md": Kind.MARKDOWN,
    ".markdown": Kind.MARKDOWN,
    ".txt": Kind.PLAINTEXT,
    ".html": Kind.HTML,
    ".htm": Kind.HTML,
}


def kind_of(path: Path) -> Kind:
    """The format of a file, from its suffix; IngestError for anything else."""
    try:
        return SUFFIXES[path.suffix.lower()]
    except KeyError:
        known = ", ".join(SUFFIXES)
        raise IngestError(path, f"unsupported file type (expected one of {known})") from None


@dataclass
class Discovery:
    files: list[Path] = field(default_factory=list)
    errors: list[IngestError] = field(default_factory=list)
    # The folder each file was found in as named by the user (or a named file's own
    # folder): the content root its relative references (images) may not leave.
    roots: dict[Path, Path] = field(default_factory=dict)

    def rooted(self) -> list[tuple[Path, Path]]:
        return [(path, self.roots.get(path, path.parent)) for path in self.files]


def discover(paths: Iterable[Path | str]) -> Discovery:
    """Files named directly, plus supported files found recursively in folders.

    Hidden files and folders (".git", ".DS_Store") are skipped inside folders; a file
    named directly must exist and have a supported suffix. Each file appears once.
    """
    found = Discovery()
    seen: set[Path] = set()
    for path in paths:
        root = Path(path) if Path(path).is_dir() else Path(path).parent
        for item in _expand(Path(path), found.errors):
            resolved = item.resolve()
            if resolved not in seen:
                seen.add(resolved)
                found.files.append(item)
                found.roots[item] = root
    return found


def _expand(path: Path, errors: list[IngestError]) -> list[Path]:
    if path.is_dir():
        return sorted(
            item
            for item in path.rglob("*")
            if item.is_file()
            and item.suffix.lower() in SUFFIXES
            and not any(part.startswith(".") for part in item.relative_to(path).parts)
        )
    if not path.exists():
        errors.append(IngestError(path, "no such file or folder"))
        return []
    try:
        kind_of(path)
    except IngestError as exc:
        errors.append(exc)
        return []
    return [path]


def read_text(path: Path, max_bytes: int) -> Decoded:
    """The file's text with line endings normalised to LF, or IngestError saying why not."""
    try:
        size = path.stat().st_size
        if size > max_bytes:
            raise IngestError(path, f"file is {size:,} bytes, over the {max_bytes:,}-byte limit")
        with path.open("rb") as handle:
            data = handle.read(max_bytes + 1)
    except OSError as exc:
        raise IngestError(path, f"cannot read: {exc.strerror or exc}") from exc
    return decode(path, data, max_bytes)
