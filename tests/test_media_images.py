"""Images are checked on their header, turned upright, stripped of metadata and resized to
600 and 1200 px into a content-addressed store; bad ones are refused with a clear error."""

from __future__ import annotations

import io
from pathlib import Path

import pytest
from PIL import Image

from dispatch.errors import MediaError
from dispatch.media.images import process
from dispatch.media.store import MediaStore, two_x
from support.images import NOT_AN_IMAGE, camera_jpeg, chart_png, huge_png, small_png

LIMITS = (20_000_000, 40_000_000)


@pytest.fixture
def store(tmp_path: Path) -> MediaStore:
    return MediaStore(tmp_path / "media", "https://news.example")


def _open(path: Path) -> Image.Image:
    return Image.open(io.BytesIO(path.read_bytes()))


def _file(store: MediaStore, url: str) -> Path:
    return store.root / url.removeprefix(store.prefix)


def test_a_camera_photo_is_turned_upright_resized_and_stripped(store: MediaStore) -> None:
    stored = store.add("holiday.jpg", camera_jpeg(1600, 1200), *LIMITS)
    assert (stored.width, stored.height) == (600, 800)  # portrait once EXIF is applied
    assert stored.content_type == "image/jpeg"
    one, two = _open(_file(store, stored.url)), _open(_file(store, stored.url_2x))
    assert one.size == (600, 800) and two.size == (1200, 1600)
    assert not one.getexif() and not two.getexif()  # orientation applied, GPS gone
    assert one.getpixel((590, 5))[0] > 200  # the yellow corner moved to the top right
    assert stored.bytes == _file(store, stored.url).stat().st_size
    assert two_x(stored.url) == stored.url_2x


def test_a_transparent_chart_stays_a_png(store: MediaStore) -> None:
    stored = store.add("chart.png", chart_png(900, 500), *LIMITS)
    assert stored.url.endswith("-600.png") and stored.content_type == "image/png"
    assert _open(_file(store, stored.url)).mode == "RGBA"
    assert (stored.width, stored.height) == (600, 333)


def test_a_small_image_is_never_enlarged(store: MediaStore) -> None:
    stored = store.add("icon.png", small_png(40, 30), *LIMITS)
    assert (stored.width, stored.height) == (40, 30)
    assert _open(_file(store, stored.url_2x)).size == (40, 30)


def test_storing_again_writes_nothing_and_finds_the_same_files(store: MediaStore) -> None:
    data = chart_png()
    first = store.add("a.png", data, *LIMITS)
    files = {p: p.stat().st_mtime_ns for p in store.root.rglob("*") if p.is_file()}
    assert len(files) == 3  # two renditions and their JSON
    assert store.add("renamed.png", data, *LIMITS) == first
    assert {p: p.stat().st_mtime_ns for p in store.root.rglob("*") if p.is_file()} == files
    assert store.info(first.url_2x) == first
    assert store.info("https://elsewhere.example/media/ab/x-600.jpg") is None


@pytest.mark.parametrize(
    ("name", "data", "message"),
    [
        ("chart.png", NOT_AN_IMAGE, "chart.png: not an image (JPEG, PNG, GIF or WebP expected)"),
        ("empty.png", b"", "empty.png: the file is empty"),
        (
            "poster.png",
            huge_png(),
            "poster.png: 7072x7072 is 50.0 megapixels, over the 40-megapixel limit",
        ),
        ("cut.jpg", camera_jpeg()[:3000], "cut.jpg: the image is damaged or truncated"),
    ],
)
def test_bad_images_are_refused_and_nothing_is_written(
    store: MediaStore, name: str, data: bytes, message: str
) -> None:
    with pytest.raises(MediaError) as caught:
        store.add(name, data, *LIMITS)
    assert str(caught.value).startswith(message)
    assert not store.root.exists() or not any(store.root.rglob("*"))


def test_the_byte_limit_is_checked_before_decoding() -> None:
    with pytest.raises(MediaError, match="over the 100-byte limit"):
        process("big.png", chart_png(), 100, 40_000_000)


def test_other_formats_are_refused() -> None:
    buffer = io.BytesIO()
    Image.new("RGB", (10, 10)).save(buffer, "BMP")
    with pytest.raises(MediaError, match="BMP images are not taken"):
        process("scan.bmp", buffer.getvalue(), *LIMITS)


def test_webp_without_alpha_becomes_jpeg_for_mail_clients() -> None:
    buffer = io.BytesIO()
    Image.new("RGB", (800, 400), (1, 2, 3)).save(buffer, "WEBP")
    processed = process("photo.webp", buffer.getvalue(), *LIMITS)
    assert processed.format == "JPEG" and processed.renditions[0].width == 600
