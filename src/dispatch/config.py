"""`config.toml` → frozen, validated settings.

Loading validates everything once. Any wrong key, type or value raises `ConfigError`
naming the file, the key and what was expected, for example::

    config.toml: lists[1].schedule: "every day" is not a cron expression

Relative paths in the file resolve against the file's folder. Secrets never live in
the file: they come from the environment (`DISPATCH_SECRET_KEY`, `SENDGRID_API_KEY`,
`DISPATCH_SMTP_PASSWORD`) or from a file named by a `*_file` key.
"""

from __future__ import annotations

import os
import re
import tomllib
from datetime import timedelta
from pathlib import Path
from typing import Annotated, Any, Literal
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from limits import parse_many
from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    SecretStr,
    ValidationError,
    ValidationInfo,
    field_validator,
    model_validator,
)
from slugify import slugify

from dispatch.cron import cron_trigger
from dispatch.errors import ConfigError, InvalidAddress

CONFIG_ENV = "DISPATCH_CONFIG"
DEFAULT_CONFIG = Path("config.toml")
SLUG_RE = re.compile(r"^[a-z0-9]+(?:-[a-z0-9]+)*$")


def _timezone(value: str) -> str:
    try:
        ZoneInfo(value)
    except (ZoneInfoNotFoundError, ValueError) as exc:
        raise ValueError(f'"{value}" is not a time zone (expected e.g. "Europe/London")') from exc
    return value


def _cron(value: str) -> str:
    try:
        cron_trigger(value, "UTC")
    except ValueError as exc:
        raise ValueError(f'"{value}" is not a cron expression ({exc})') from exc
    return value


def _email(value: str) -> str:
    # Imported here, not above: the subscribers package imports this module.
    from dispatch.subscribers.addresses import normalise_address

    try:
        return normalise_address(value)
    except InvalidAddress as exc:
        raise ValueError(str(exc)) from exc


def _rate_limits(value: str) -> str:
    try:
        parse_many(value)
    except ValueError:
        raise ValueError(
            f'"{value}" is not a rate limit such as "10/minute" or "10/minute;50/hour"'
        ) from None
    return value


def _slug(value: str) -> str:
    if not SLUG_RE.match(value):
        raise ValueError(f'"{value}" is not a slug (lower-case letters, digits and hyphens)')
    return value


def _empty_section(value: str) -> str:
    raise ValueError(f'"{value}" is not a section name')


def _http_url(value: str) -> str:
    parts = urlsplit(value)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise ValueError(f'"{value}" is not an absolute http(s) URL')
    return value.rstrip("/")


def _feedback_id(value: str) -> str:
    fields = value.split(":")
    if value and not (3 <= len(fields) <= 5 and 5 <= len(fields[-1]) <= 15):
        raise ValueError(
            f'"{value}" is not a Feedback-ID such as "{{campaign}}:{{list}}:dispatch" '
            "(3 to 5 fields separated by colons, the last one 5-15 characters)"
        )
    return value


TimeZone = Annotated[str, AfterValidator(_timezone)]
SectionKey = Annotated[str, AfterValidator(lambda v: slugify(v) or _empty_section(v))]
Cron = Annotated[str, AfterValidator(_cron)]
Email = Annotated[str, AfterValidator(_email)]
Slug = Annotated[str, AfterValidator(_slug)]
HttpUrl = Annotated[str, AfterValidator(_http_url)]
RateLimits = Annotated[str, AfterValidator(_rate_limits)]


def _resolve(value: Path, info: ValidationInfo) -> Path:
    base = (info.context or {}).get("base", Path.cwd())
    return value if value.is_absolute() else (base / value).resolve()


class Section(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class SiteSettings(Section):
    title: str = "Dispatch"
    base_url: HttpUrl = "http://127.0.0.1:8000"
    language: str = "en"
    timezone: TimeZone = "UTC"
    postal_address: str = Field(min_length=1)
    # The "authority" part of tag: URIs (RFC 4151) used as permanent feed/entry ids.
    # Set once and never change it: ids must survive the site moving host.
    tag_authority: str = Field(pattern=r"^[A-Za-z0-9.-]+,\d{4}(-\d{2}(-\d{2})?)?$")


class SecuritySettings(Section):
    secret_key_file: Path | None = None
    # Password reset and invitation mails to editors come from this address (unset: the
    # first list's from_email), named after site.title.
    account_from_email: Email | None = None
    reset_link_minutes: int = Field(default=60, ge=5, le=24 * 60)  # single use as well
    invite_link_days: int = Field(default=7, ge=1, le=30)  # single use as well

    _resolve_paths = field_validator("secret_key_file")(_resolve)


class DatabaseSettings(Section):
    url: str = "sqlite:///var/dispatch.db"
    busy_timeout_ms: int = Field(default=5000, ge=0)

    @field_validator("url")
    @classmethod
    def _check_url(cls, value: str, info: ValidationInfo) -> str:
        scheme, sep, rest = value.partition("://")
        if not sep or scheme.split("+")[0] not in ("sqlite", "postgresql"):
            raise ValueError(
                f'"{value}" is not a database URL (expected sqlite:///PATH or '
                "postgresql+psycopg://USER@HOST/DB)"
            )
        if scheme.startswith("sqlite"):
            database = rest.removeprefix("/")
            if database and database != ":memory:":
                return f"{scheme}:///{_resolve(Path(database), info)}"
        return value


class OutboxSettings(Section):
    dir: Path = Path("var/outbox")

    _resolve_paths = field_validator("dir")(_resolve)


class SmtpSettings(Section):
    host: str = "127.0.0.1"
    port: int = Field(default=25, ge=1, le=65535)
    security: Literal["starttls", "tls", "none"] = "starttls"
    username: str | None = None
    password_file: Path | None = None
    timeout: float = Field(default=30.0, gt=0)
    pool_size: int = Field(default=2, ge=1, le=64)

    _resolve_paths = field_validator("password_file")(_resolve)


class SendgridSettings(Section):
    host: HttpUrl = "https://api.sendgrid.com"
    api_key_file: Path | None = None
    webhook_public_key: str | None = None

    _resolve_paths = field_validator("api_key_file")(_resolve)


class DkimSettings(Section):
    """DKIM signing of SMTP mail (off unless `domain` is set); optionally a second,
    Ed25519 signature (RFC 8463) beside the RSA one."""

    domain: str | None = None
    selector: str = "dispatch"
    private_key_file: Path | None = None
    ed25519_selector: str = "dispatch-ed25519"
    ed25519_private_key_file: Path | None = None
    processes: int = Field(default=0, ge=0, le=64)  # 0: sign in the sending threads

    _resolve_paths = field_validator("private_key_file", "ed25519_private_key_file")(_resolve)

    @model_validator(mode="after")
    def _key_with_domain(self) -> DkimSettings:
        if self.domain and self.private_key_file is None:
            raise ValueError("private_key_file is required when domain is set")
        return self


class DeliverySettings(Section):
    backend: Literal["outbox", "smtp", "sendgrid"] = "outbox"
    batch_size: int = Field(default=1000, ge=1, le=1000)
    rate_per_second: float = Field(default=0, ge=0)  # 0: as fast as the sender goes
    concurrency: int = Field(default=2, ge=1, le=64)
    hourly_limit: int = Field(default=0, ge=0)  # 0: no hourly window
    max_attempts: int = Field(default=5, ge=1, le=50)
    retry_backoff_seconds: float = Field(default=60, ge=0)
    max_consecutive_errors: int = Field(default=20, ge=1)
    auto_resume_seconds: float = Field(default=30, gt=0)  # first wait after a provider outage
    auto_resume_max_seconds: float = Field(default=900, gt=0)  # the longest wait
    # `limits` storage of the rate windows: "memory://" (one process) or a shared
    # "redis://host:6379/1" so that rate_per_second and hourly_limit hold across workers.
    limiter_storage: str = "memory://"
    unsubscribe_mailto: Email | None = None
    # Gmail's feedback loop header: "{campaign}" and "{list}" are filled per message; the
    # last field is the sender id (5-15 characters). "" leaves the header out.
    feedback_id: Annotated[str, AfterValidator(_feedback_id)] = "{campaign}:{list}:dispatch"
    outbox: OutboxSettings = OutboxSettings()
    smtp: SmtpSettings = SmtpSettings()
    sendgrid: SendgridSettings = SendgridSettings()
    dkim: DkimSettings = DkimSettings()


class BounceImapSettings(Section):
    """The mailbox `dispatch bounces poll` reads (off unless `host` is set)."""

    host: str | None = None
    port: int = Field(default=993, ge=1, le=65535)
    security: Literal["tls", "starttls", "none"] = "tls"
    user: str | None = None
    password_file: Path | None = None  # or DISPATCH_BOUNCES_IMAP_PASSWORD
    folder: str = "INBOX"
    move_to: str | None = None  # a folder for handled messages; unset: delete them
    interval_minutes: float = Field(default=5, gt=0)  # the scheduler's poll
    timeout: float = Field(default=30, gt=0)

    _resolve_paths = field_validator("password_file")(_resolve)


class SesSettings(Section):
    """Amazon SES notifications through SNS at POST /webhooks/ses."""

    topic_arns: tuple[str, ...] = ()  # accept only these topics (empty: any topic)
    # Hosts SNS signing certificates may come from (shell-style patterns, https only).
    certificate_hosts: tuple[str, ...] = ("sns.*.amazonaws.com", "sns.*.amazonaws.com.cn")


class BounceSettings(Section):
    """Bounces and complaints coming back: VERP return path, SMTP/LMTP intake, IMAP."""

    domain: str | None = None  # VERP envelope sender bounces+<token>@domain (unset: off)
    local_part: str = Field(default="bounces", pattern=r"^[a-z0-9][a-z0-9._-]{0,20}$")
    listen: str | None = None  # "127.0.0.1:2525": `dispatch bounces serve` (and serve)
    protocol: Literal["smtp", "lmtp"] = "smtp"
    soft_limit: int = Field(default=3, ge=1)  # soft bounces that suppress an address …
    soft_days: int = Field(default=30, ge=1)  # … within this many days
    max_message_bytes: int = Field(default=10_000_000, ge=10_000)
    imap: BounceImapSettings = BounceImapSettings()
    ses: SesSettings = SesSettings()

    @field_validator("listen")
    @classmethod
    def _host_port(cls, value: str | None) -> str | None:
        if value is not None:
            host, _, port = value.rpartition(":")
            if not host or not port.isdigit() or not 0 < int(port) < 65536:
                raise ValueError(f'"{value}" is not HOST:PORT (e.g. "127.0.0.1:2525")')
        return value


class DoctorSettings(Section):
    """`dispatch doctor`: where DNS questions go, and the hosts mail leaves from."""

    nameserver: str | None = None  # "IP" or "IP:PORT"; unset: the system resolver
    timeout: float = Field(default=5, gt=0)
    sending_ips: tuple[str, ...] = ()  # public addresses of the sending MTA (SPF check)


class WebSettings(Section):
    host: str = "127.0.0.1"
    port: int = Field(default=8000, ge=1, le=65535)
    # Sign-ups at /subscribe one client IP, and one email address, may make (`limits` syntax).
    subscribe_rate_per_ip: RateLimits = "10/minute;60/hour"
    subscribe_rate_per_address: RateLimits = "3/minute;10/hour"
    # Admin logins: a session lasts this long (a server-side record; logout ends it).
    session_hours: float = Field(default=12, gt=0, le=24 * 30)
    # Wrong passwords one address may try from one client IP, and one IP on any
    # addresses, within the window; then that source waits. An account is never locked.
    login_failures_per_source: int = Field(default=5, ge=1, le=1000)
    login_failures_per_ip: int = Field(default=20, ge=1, le=100_000)
    login_window_minutes: int = Field(default=15, ge=1, le=24 * 60)
    # Request bodies, refused with 413 before authentication or parsing (`dispatch.web.limits`).
    max_body_form: int = Field(default=1_000_000, ge=1024)  # url-encoded forms
    max_body_json: int = Field(default=4_000_000, ge=1024)  # JSON, webhooks, article editor
    max_body_upload: int = Field(default=50_000_000, ge=1024)  # file uploads (media, CSV)
    # Request headers (`dispatch serve`): larger or more are refused with 431.
    max_header_bytes: int = Field(default=32_768, ge=4096, le=1_048_576)
    max_headers: int = Field(default=100, ge=10, le=1000)
    # /subscribe may be framed by other sites (an embedded sign-up form); nothing else may.
    embeddable_subscribe: bool = False
    # On SIGTERM, requests still running (a long export) get this long before they are cut.
    shutdown_timeout_seconds: int = Field(default=10, ge=1, le=3600)


class MetricsSettings(Section):
    """Who may read /metrics: a bearer token, or a listener of its own (or both)."""

    token_file: Path | None = None  # DISPATCH_METRICS_TOKEN overrides it
    listen: str | None = None  # "127.0.0.1:9100": a separate /metrics server in `dispatch serve`

    _resolve_paths = field_validator("token_file")(_resolve)

    @field_validator("listen")
    @classmethod
    def _check_listen(cls, value: str | None) -> str | None:
        if value is None:
            return None
        host, sep, port = value.rpartition(":")
        if not sep or not host or not port.isdigit() or not 1 <= int(port) <= 65535:
            raise ValueError(f'"{value}" is not HOST:PORT, such as "127.0.0.1:9100"')
        return value

    @property
    def address(self) -> tuple[str, int] | None:
        if self.listen is None:
            return None
        host, _, port = self.listen.rpartition(":")
        return host.strip("[]"), int(port)


class FeedsSettings(Section):
    items: int = Field(default=20, ge=1, le=1000)
    full_text: bool = True
    public_dir: Path = Path("var/public")
    hubs: tuple[HttpUrl, ...] = ()

    _resolve_paths = field_validator("public_dir")(_resolve)


DEFAULT_CHROME = (
    "Leave a comment",
    "Trending",
    "Share this",
    "Share this article",
    "Advertisement",
    "Related articles",
    "Read more",
    "Sign up for our newsletter",
)


class BrandingSettings(Section):
    """Look of emails and pages; change these instead of editing templates."""

    accent_color: str = Field(default="#b3261e", pattern=r"^#[0-9a-fA-F]{6}$")
    text_color: str = Field(default="#1f1f1f", pattern=r"^#[0-9a-fA-F]{6}$")
    background_color: str = Field(default="#f4f1ea", pattern=r"^#[0-9a-fA-F]{6}$")
    logo_url: HttpUrl | None = None
    footer_text: str = ""


class TemplatesSettings(Section):
    # A folder whose files override the built-in templates of the same name.
    dir: Path | None = None

    _resolve_paths = field_validator("dir")(_resolve)


class IngestSettings(Section):
    max_file_bytes: int = Field(default=2_000_000, ge=1)
    # Trailing lines of pasted plain text that are page chrome, not article (case-insensitive).
    chrome_lines: tuple[str, ...] = DEFAULT_CHROME


class MediaSettings(Section):
    """Images (`public_dir/media/`): uploaded in the admin or API, or beside article files."""

    max_bytes: int = Field(default=20_000_000, ge=1)  # larger image files are refused
    max_pixels: int = Field(default=40_000_000, ge=1)  # width x height; larger are refused


def _feed_url(value: str) -> str:
    """An absolute http(s) URL, kept exactly as written (a feed's trailing slash matters)."""
    parts = urlsplit(value)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise ValueError(f'"{value}" is not an absolute http(s) URL')
    return value


class UpstreamSourceSettings(Section):
    """One RSS/Atom feed whose entries become articles of `section`."""

    url: Annotated[str, AfterValidator(_feed_url)]
    section: SectionKey
    # A stable key for the feed (default: its URL). Articles remember it: change it, and
    # every entry is imported again as a new article.
    name: Slug | None = None
    enabled: bool = True

    @property
    def key(self) -> str:
        return self.name or self.url


class UpstreamSettings(Section):
    """Polling of upstream feeds (`[upstream]` and its `[[upstream.sources]]`)."""

    interval_minutes: int = Field(default=30, ge=1)
    timeout: float = Field(default=20.0, gt=0)  # seconds a fetch may take, all told
    max_backoff_hours: float = Field(default=24, gt=0)
    sources: tuple[UpstreamSourceSettings, ...] = ()

    @model_validator(mode="after")
    def _unique_keys(self) -> UpstreamSettings:
        seen: set[str] = set()
        for source in self.sources:
            if source.key in seen:
                raise ValueError(f'sources: "{source.key}" is listed twice')
            seen.add(source.key)
        return self


class SchedulerSettings(Section):
    """The scheduler (`dispatch serve` or `dispatch scheduler`): digests, feeds, upstream."""

    enabled: bool = True  # false: `dispatch serve` runs the web app only
    misfire_grace_hours: float = Field(default=6, ge=0)  # a missed digest is sent this late
    feed_refresh_minutes: float = Field(default=15, gt=0)  # safety-net feed rebuild interval
    debounce_seconds: float = Field(default=5, gt=0)  # quiet time after an article change
    run_due_seconds: float = Field(default=30, gt=0)  # scheduled one-offs and resumes
    welcome_seconds: float = Field(default=60, gt=0)  # welcome series steps that came due
    shutdown_timeout_seconds: float = Field(default=30, gt=0)  # wait for the batch in flight


class ExecutorSettings(Section):
    """Where campaigns are sent: threads of the serving process, or Celery workers."""

    kind: Literal["inline", "celery"] = "inline"
    broker_url: str = "redis://127.0.0.1:6379/0"  # DISPATCH_BROKER_URL overrides it
    batch_size: int = Field(default=1000, ge=1, le=10_000)  # recipients per batch task
    parallel: int = Field(default=8, ge=1, le=1000)  # batch tasks in flight per campaign
    claim_timeout_seconds: float = Field(default=300, gt=0)  # `sending` longer: in doubt


class LoggingSettings(Section):
    json_lines: bool = Field(default=False, alias="json")  # one JSON object per line
    level: Literal["debug", "info", "warning", "error"] = "info"


class DigestSchedule(Section):
    """A digest edition of a list for part of it (`[[lists.digests]]`): its own cron and
    a segment expression, e.g. a weekly edition for those who ticked "weekly"."""

    name: Slug  # unique within the list; its periods are tracked as "list/name"
    schedule: Cron
    segment: str = Field(min_length=1, max_length=4000)  # `dispatch.segments` language

    @field_validator("segment")
    @classmethod
    def _parses(cls, value: str) -> str:
        from dispatch.segments.parser import parse  # imported late: it needs the store models

        parse(value)  # SegmentError is a ValueError: reported with the key and column
        return value.strip()


DELAY_RE = re.compile(r"^([0-9]{1,4})([dhm])$")
DELAY_UNITS = {"d": "days", "h": "hours", "m": "minutes"}
TEMPLATE_RE = re.compile(r"^[a-z0-9][a-z0-9_-]{0,63}$")
# Built-in kinds that need a context a welcome step does not have.
NOT_STEP_TEMPLATES = frozenset({"digest", "article", "note", "confirm", "base"})


def _delay(value: str) -> str:
    if not DELAY_RE.match(value):
        raise ValueError(
            f'"{value}" is not a delay such as "0d", "3d", "12h" or "30m" '
            "(a whole number of days, hours or minutes after confirmation)"
        )
    return value


def delay_of(value: str) -> timedelta:
    """`"3d"` → 3 days (a validated `WelcomeStepSettings.after`)."""
    found = DELAY_RE.match(value)
    if found is None:
        raise ValueError(f'"{value}" is not a delay')
    return timedelta(**{DELAY_UNITS[found.group(2)]: int(found.group(1))})


class WelcomeStepSettings(Section):
    """One `[[lists.welcome]]` step: a template or an article, `after` confirmation.

    `key` identifies the step for good: who got it is recorded under the key, so changing
    `after`, the template or the article never sends it again to those who got it."""

    key: Slug
    after: Annotated[str, AfterValidator(_delay)] = "0d"
    template: str | None = None  # email/<template>.mjml.j2 and .txt.j2
    article: str | None = None  # an article's slug
    subject: str | None = Field(default=None, min_length=1)

    @model_validator(mode="after")
    def _one_content(self) -> WelcomeStepSettings:
        if (self.template is None) == (self.article is None):
            raise ValueError(f'step "{self.key}": give either template = "…" or article = "…"')
        if self.template is not None:
            if not TEMPLATE_RE.match(self.template) or self.template in NOT_STEP_TEMPLATES:
                raise ValueError(
                    f'step "{self.key}": template "{self.template}" is not a welcome template '
                    "name (lower-case letters, digits, - and _; not digest, article, note, "
                    "confirm or base)"
                )
            if self.template != "welcome" and self.subject is None:
                raise ValueError(f'step "{self.key}": a template step needs subject = "…"')
        return self

    @property
    def delay(self) -> timedelta:
        return delay_of(self.after)


DEFAULT_WELCOME = (WelcomeStepSettings(key="welcome", after="0d", template="welcome"),)


class ListSettings(Section):
    slug: Slug
    name: str = Field(min_length=1)
    description: str = ""
    sections: tuple[SectionKey, ...] = ()  # article sections carried, as keys ("world")
    schedule: Cron = "0 7 * * *"
    timezone: TimeZone | None = None
    from_name: str = Field(min_length=1)
    from_email: Email
    reply_to: Email | None = None
    double_opt_in: bool = True
    # Tags a subscriber may tick on the preferences page (e.g. "weekly"), for segments
    # such as `tag = "weekly"`; other tags are never shown there nor changed from it.
    preference_tags: tuple[str, ...] = Field(default=(), max_length=20)
    # Digest editions for segments of the list; when given, they replace `schedule`
    # (each has its own cron, segment and period tracking).
    digests: tuple[DigestSchedule, ...] = Field(default=(), max_length=20)

    @field_validator("digests")
    @classmethod
    def _unique_digests(cls, value: tuple[DigestSchedule, ...]) -> tuple[DigestSchedule, ...]:
        names = [item.name for item in value]
        twice = sorted({name for name in names if names.count(name) > 1})
        if twice:
            raise ValueError(f"digest names must be unique within a list: {', '.join(twice)}")
        return value

    def digest(self, name: str) -> DigestSchedule:
        for item in self.digests:
            if item.name == name:
                return item
        raise ConfigError(f'lists "{self.slug}": no digest schedule named "{name}"')

    @field_validator("preference_tags")
    @classmethod
    def _clean_tags(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        from dispatch.subscribers.tags import normalise_tags  # the store's rule, one place

        return tuple(normalise_tags(value))

    # Welcome series; none configured: the built-in welcome mail at confirmation.
    welcome: tuple[WelcomeStepSettings, ...] = ()
    click_tracking: bool = False  # links in its campaigns go through /r/<token>, counted
    click_tracking_per_person: bool = False  # …and who clicked (the preferences page says so)

    @model_validator(mode="after")
    def _welcome_keys(self) -> ListSettings:
        keys = [step.key for step in self.welcome]
        twice = sorted({key for key in keys if keys.count(key) > 1})
        if twice:
            raise ValueError(f'welcome: step key "{twice[0]}" is used twice')
        if self.click_tracking_per_person and not self.click_tracking:
            raise ValueError("click_tracking_per_person needs click_tracking = true")
        return self

    @property
    def welcome_steps(self) -> tuple[WelcomeStepSettings, ...]:
        """The configured series, or the built-in welcome mail as its one step."""
        return self.welcome or DEFAULT_WELCOME


class Settings(Section):
    """Everything Dispatch reads from config.toml, validated and frozen."""

    path: Path
    site: SiteSettings
    security: SecuritySettings = SecuritySettings()
    database: DatabaseSettings = DatabaseSettings()
    delivery: DeliverySettings = DeliverySettings()
    bounces: BounceSettings = BounceSettings()
    doctor: DoctorSettings = DoctorSettings()
    web: WebSettings = WebSettings()
    metrics: MetricsSettings = MetricsSettings()
    feeds: FeedsSettings = FeedsSettings()
    branding: BrandingSettings = BrandingSettings()
    templates: TemplatesSettings = TemplatesSettings()
    ingest: IngestSettings = IngestSettings()
    media: MediaSettings = MediaSettings()
    upstream: UpstreamSettings = UpstreamSettings()
    scheduler: SchedulerSettings = SchedulerSettings()
    executor: ExecutorSettings = ExecutorSettings()
    logging: LoggingSettings = LoggingSettings()
    lists: tuple[ListSettings, ...] = ()

    @model_validator(mode="after")
    def _unique_list_slugs(self) -> Settings:
        seen: set[str] = set()
        for item in self.lists:
            if item.slug in seen:
                raise ValueError(f'lists: slug "{item.slug}" is used twice')
            seen.add(item.slug)
        return self

    @property
    def root(self) -> Path:
        """The folder the configuration file lives in; relative paths start here."""
        return self.path.parent

    def list(self, slug: str) -> ListSettings:
        for item in self.lists:
            if item.slug == slug:
                return item
        known = ", ".join(x.slug for x in self.lists) or "none configured"
        raise ConfigError(f'{self.path.name}: no list "{slug}" (known: {known})')

    def list_timezone(self, item: ListSettings) -> str:
        return item.timezone or self.site.timezone

    @property
    def secret_key(self) -> SecretStr:
        return _secret(
            "DISPATCH_SECRET_KEY",
            self.security.secret_key_file,
            "security.secret_key_file",
            self.path,
        )

    @property
    def sendgrid_api_key(self) -> SecretStr:
        return _secret(
            "SENDGRID_API_KEY",
            self.delivery.sendgrid.api_key_file,
            "delivery.sendgrid.api_key_file",
            self.path,
        )

    @property
    def bounces_imap_password(self) -> SecretStr:
        return _secret(
            "DISPATCH_BOUNCES_IMAP_PASSWORD",
            self.bounces.imap.password_file,
            "bounces.imap.password_file",
            self.path,
        )

    @property
    def metrics_token(self) -> SecretStr | None:
        """The bearer token /metrics asks for; None when neither env nor file sets one."""
        if not os.environ.get("DISPATCH_METRICS_TOKEN") and self.metrics.token_file is None:
            return None
        return _secret(
            "DISPATCH_METRICS_TOKEN", self.metrics.token_file, "metrics.token_file", self.path
        )

    @property
    def smtp_password(self) -> SecretStr | None:
        if not self.delivery.smtp.username:
            return None
        return _secret(
            "DISPATCH_SMTP_PASSWORD",
            self.delivery.smtp.password_file,
            "delivery.smtp.password_file",
            self.path,
        )


def _secret(env: str, file: Path | None, key: str, source: Path) -> SecretStr:
    value = os.environ.get(env)
    if value:
        return SecretStr(value)
    if file is not None:
        try:
            text = file.read_text(encoding="utf-8").strip()
        except OSError as exc:
            raise ConfigError(
                f"{source.name}: {key}: cannot read {file}: {exc.strerror} "
                f"(set {env} instead, or `dispatch init` creates the secret key)"
                if env == "DISPATCH_SECRET_KEY"
                else f"{source.name}: {key}: cannot read {file}: {exc.strerror} (or set {env})"
            ) from exc
        if text:
            return SecretStr(text)
        raise ConfigError(f"{source.name}: {key}: {file} is empty")
    raise ConfigError(f"secret missing: set {env} in the environment or {key} in {source.name}")


def config_path(explicit: Path | None = None) -> Path:
    """The configuration file to use: --config, then $DISPATCH_CONFIG, then ./config.toml."""
    if explicit is not None:
        return explicit
    env = os.environ.get(CONFIG_ENV)
    return Path(env) if env else DEFAULT_CONFIG


def load(path: Path | None = None) -> Settings:
    """Read, validate and freeze the configuration; raise ConfigError naming file and key."""
    path = config_path(path).resolve()
    try:
        raw = tomllib.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError as exc:
        raise ConfigError(f"{path}: no such file (run `dispatch init` to create one)") from exc
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"{path}: cannot read: {exc}") from exc
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{path.name}: not valid TOML: {exc}") from exc
    return parse(raw, path)


def parse(raw: dict[str, Any], path: Path) -> Settings:
    if "path" in raw:
        raise ConfigError(f'{path.name}: path: unknown key "path"')
    try:
        return Settings.model_validate({**raw, "path": path}, context={"base": path.parent})
    except ValidationError as exc:
        raise ConfigError(_describe(exc, path)) from None


def _describe(exc: ValidationError, path: Path) -> str:
    lines = [f"{path.name}: {_key(err['loc'])}: {_message(err)}" for err in exc.errors()]
    return "\n".join(lines)


def _key(loc: tuple[int | str, ...]) -> str:
    out = ""
    for part in loc:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out or "(top level)"


def _message(err: Any) -> str:
    kind = err["type"]
    if kind == "extra_forbidden":
        return "unknown key (check the spelling against the commented config.toml)"
    if kind == "missing":
        return "required key is missing"
    message = str(err["msg"]).removeprefix("Value error, ")
    given = err.get("input")
    if kind != "value_error" and not isinstance(given, dict | list):
        message += f" (got {given!r})"
    return message
