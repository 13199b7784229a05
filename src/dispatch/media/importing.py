"""Images an article file references by a relative path → the media store.

`![A chart](images/chart.png)` in `content/2026/chart-story.md` means
`content/2026/images/chart.png`, and `image: images/hero.jpg` in the front matter the
same. Each such file is checked and resized (`images`), stored (`store`), and the
reference replaced by its media URL, before the article is stored: a missing file, a
file that is not an image, or a path that leaves the content folder (the folder named
on the command line, `../../etc/passwd`) fails the article with a clear error, and no
part of it is saved. A reference that is not on disk is left as a link when it can
mean a page on the web: a root-relative path (`/static/tide.jpg`, the site's own URL
space, with a warning), or any path in an article with a canonical URL (a saved page).
"""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path
from urllib.parse import unquote, urlsplit

from dispatch.config import Settings
from dispatch.errors import IngestError, MediaError
from dispatch.fragments import inner_html, parse_fragment
from dispatch.ingest.document import IngestWarning
from dispatch.ingest.source import Source
from dispatch.media.store import MediaStore


def copy_images(source: Source, root: Path, settings: Settings) -> Source:
    """`source` with its local images stored and referenced by their media URLs."""
    store = MediaStore.of(settings)
    copier = _Copier(source, root.resolve(), store, settings)
    html = copier.rewrite(source.extracted.html)
    image = source.meta.image
    meta = source.meta
    if image and _is_local(image):
        stored = copier.store(image, required=not copier.has_url)
        if stored is not None:
            meta = meta.model_copy(update={"image": stored})
    if html == source.extracted.html and meta is source.meta and not copier.warnings:
        return source
    extracted = replace(source.extracted, html=html)
    return replace(
        source, meta=meta, extracted=extracted, warnings=source.warnings + tuple(copier.warnings)
    )


def _is_local(reference: str) -> bool:
    parts = urlsplit(reference.strip())
    return not parts.scheme and not parts.netloc and bool(parts.path)


class _Copier:
    def __init__(self, source: Source, root: Path, store: MediaStore, settings: Settings):
        self.source, self.root, self.store_ = source, root, store
        self.limits = (settings.media.max_bytes, settings.media.max_pixels)
        self.has_url = bool(source.meta.canonical_url or source.extracted.canonical_url)
        self.warnings: list[IngestWarning] = []

    def rewrite(self, html: str) -> str:
        if "<img" not in html.lower():
            return html
        root = parse_fragment(html)
        changed = False
        for image in root.iter("img"):
            src = image.get("src") or ""
            if _is_local(src):
                url = self.store(src, required=not self.has_url)
                if url is not None:
                    image.set("src", url)
                    changed = True
        if not changed:
            return html
        return inner_html(root)

    def store(self, reference: str, required: bool) -> str | None:
        path = self._locate(reference)
        if not path.is_file():
            if not required:
                return None
            if reference.strip().startswith("/"):
                note = f'image "{reference}" is not in {self.root}: left as a link on this site'
                self.warnings.append(IngestWarning(self.source.path, 1, note))
                return None
            raise self._error(reference, f"no such file: {path}")
        try:
            data = path.read_bytes()
        except OSError as exc:
            raise self._error(reference, f"cannot read: {exc.strerror or exc}") from exc
        try:
            return self.store_.add(path.name, data, *self.limits).url
        except MediaError as exc:
            raise self._error(reference, str(exc).removeprefix(f"{path.name}: ")) from exc

    def _locate(self, reference: str) -> Path:
        relative = unquote(urlsplit(reference.strip()).path)
        base = self.root if relative.startswith("/") else self.source.path.parent.resolve()
        target = (base / relative.lstrip("/")).resolve()
        if not target.is_relative_to(self.root):
            raise self._error(reference, f"the path leaves the content folder {self.root}")
        return target

    def _error(self, reference: str, reason: str) -> IngestError:
        return IngestError(self.source.path, f'image "{reference}": {reason}')
