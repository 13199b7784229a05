"""Images: validated and resized with Pillow, kept in a content-addressed store under
`feeds.public_dir/media/`, served with immutable caching (`web.media`)."""

from __future__ import annotations

from dispatch.media.images import Processed, process
from dispatch.media.store import MediaStore, StoredImage

__all__ = ["MediaStore", "Processed", "StoredImage", "process"]
