"""The Jinja2 environment for emails and pages.

Templates are looked up first in `settings.templates.dir` (the operator's overrides,
same relative names, e.g. `email/digest.mjml.j2`), then in the built-in `templates/`
folder. The built-ins live at the top of the repository; `src/dispatch/templates` is a
symlink to it, so a source checkout (`pip install -e .`) reads them in place and a
wheel (`pip install .`) ships them as package data under `dispatch/templates/`.

`.mjml.j2` and `.html.j2` templates are autoescaped; `.txt.j2` ones are not.
"""

from __future__ import annotations

import textwrap
from datetime import datetime
from importlib.resources import files
from pathlib import Path
from zoneinfo import ZoneInfo

from jinja2 import (
    BaseLoader,
    ChoiceLoader,
    Environment,
    FileSystemLoader,
    StrictUndefined,
    select_autoescape,
)

from dispatch.config import Settings
from dispatch.errors import ConfigError

AUTOESCAPED = ("mjml.j2", "html.j2", "xml.j2")


def builtin_templates() -> Path:
    """The folder of the built-in templates (installed or in the source checkout)."""
    return Path(str(files("dispatch").joinpath("templates")))


def make_environment(settings: Settings) -> Environment:
    env = Environment(
        loader=_loader(settings),
        autoescape=select_autoescape(enabled_extensions=AUTOESCAPED, default=False),
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
    )
    zone = ZoneInfo(settings.site.timezone)
    env.filters["local_date"] = lambda value: local_date(value, zone)
    env.filters["local_time"] = lambda value: local_time(value, zone)
    env.filters["words"] = trim_words
    env.filters["wrap"] = wrap_paragraphs
    env.filters["rule"] = lambda text, char="=": char * len(str(text))
    return env


def _loader(settings: Settings) -> BaseLoader:
    builtin = builtin_templates()
    if not builtin.is_dir():
        raise ConfigError(f"built-in templates are missing: {builtin} is not a folder")
    loaders: list[BaseLoader] = []
    override = settings.templates.dir
    if override is not None:
        if not override.is_dir():
            raise ConfigError(f"{settings.path.name}: templates.dir: {override} is not a folder")
        loaders.append(FileSystemLoader(override))
    loaders.append(FileSystemLoader(builtin))
    return ChoiceLoader(loaders)


def local_date(value: datetime | None, zone: ZoneInfo) -> str:
    """ "Saturday 4 July 2026" in the site's time zone ("" for no date)."""
    if value is None:
        return ""
    local = value.astimezone(zone)
    return f"{local:%A} {local.day} {local:%B %Y}"


def local_time(value: datetime | None, zone: ZoneInfo) -> str:
    """ "2026-12-01 07:00 GMT" in the site's time zone ("" for no time)."""
    if value is None:
        return ""
    return value.astimezone(zone).strftime("%Y-%m-%d %H:%M %Z")


def trim_words(text: str, limit: int = 60) -> str:
    """At most `limit` words of `text`, with an ellipsis when something was cut."""
    words = str(text).split()
    if len(words) <= limit:
        return " ".join(words)
    return " ".join(words[:limit]).rstrip(".,;:!?") + "…"


def wrap_paragraphs(text: str, width: int = 72) -> str:
    """Plain text wrapped at `width`, keeping paragraph breaks (blank lines)."""
    paragraphs = [p for p in str(text).replace("\r\n", "\n").split("\n\n") if p.strip()]
    return "\n\n".join(_fill(p, width) for p in paragraphs)


def _fill(paragraph: str, width: int) -> str:
    words = " ".join(paragraph.split())
    return textwrap.fill(words, width=width, break_long_words=False, break_on_hyphens=False)
