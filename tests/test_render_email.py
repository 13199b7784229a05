from __future__ import annotations

import re
import shutil
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

import lxml.html
import pytest

from conftest import DATA, write_config
from dispatch import config
from dispatch.config import Settings
from dispatch.errors import RenderError
from dispatch.render import email as email_module
from dispatch.render.email import EmailRenderer
from dispatch.render.environment import builtin_templates
from dispatch.render.prepared import HTML_LIMIT, PreparedEmail, Recipient
from dispatch.store.models import Article

BASE = "https://news.example"
PLACEHOLDER = re.compile(r"zz[0-9a-f]{16}s[0-9]+zz")
EVIL = '<script>alert(1)</script> & "Bob"'


def load_settings(tmp_path: Path, replace: dict[str, str] | None = None) -> Settings:
    replace = {r"^base_url = .*$": f'base_url = "{BASE}"', **(replace or {})}
    return config.load(write_config(tmp_path, f"sqlite:///{tmp_path / 'd.db'}", replace))


@pytest.fixture
def renderer(tmp_path: Path) -> EmailRenderer:
    return EmailRenderer(load_settings(tmp_path))


def article(number: int = 1, **fields: object) -> Article:
    values: dict[str, object] = {
        "slug": f"story-{number}",
        "title": f"Story {number}: councils vote on the new harbour",
        "summary": f"Summary of story {number}.",
        "body_html": f'<p>Body of story {number} with <a href="/related">a related link</a>.</p>'
        '<p><img src="/media/chart.png" alt="chart"></p>',
        "body_text": f"Body of story {number} with a related link.",
        "author": "Ada Lovelace",
        "section": "world",
        "image": "/media/lead.jpg",
        "image_caption": "The harbour at dawn",
        "published_at": datetime(2026, 7, 3, 6, 0, tzinfo=UTC),
    }
    values.update(fields)
    return Article(**values)


def recipient(number: int = 1, name: str = "Sam Sample", **attributes: object) -> Recipient:
    return Recipient(
        email=f"reader{number}@example.com",
        name=name,
        attributes=attributes,
        unsubscribe_url=f"{BASE}/unsubscribe/tok{number}.sig",
        preferences_url=f"{BASE}/preferences/pref{number}.sig",
        confirm_url=f"{BASE}/confirm/conf{number}.sig",
    )


KINDS: dict[str, Callable[[EmailRenderer], PreparedEmail]] = {
    "digest": lambda r: r.digest("morning-briefing", [article(1), article(2)], "2026-07-04"),
    "article": lambda r: r.article(article(1), "morning-briefing", "story-1"),
    "confirm": lambda r: r.confirm("morning-briefing"),
    "welcome": lambda r: r.welcome("morning-briefing"),
}


@pytest.mark.parametrize("kind", list(KINDS))
def test_every_email_has_the_required_structure(renderer: EmailRenderer, kind: str) -> None:
    prepared = KINDS[kind](renderer)
    html, text = prepared.fill(recipient())
    tree = lxml.html.document_fromstring(html)

    assert len(html.encode()) < HTML_LIMIT
    assert tree.get("lang") == "en"
    hidden = [d for d in tree.iter("div") if "display:none" in (d.get("style") or "")]
    assert hidden and hidden[0].text_content().strip() == prepared.preheader != ""
    assert tree.findtext(".//title") == prepared.subject

    links = {a.text_content().strip(): a.get("href") for a in tree.iter("a")}
    assert links["Unsubscribe"] == f"{BASE}/unsubscribe/tok1.sig"
    assert links["Manage your preferences"] == f"{BASE}/preferences/pref1.sig"
    assert links["View in your browser"].startswith(f"{BASE}/archive/morning-briefing")
    unsubscribe = next(a for a in tree.iter("a") if a.text_content().strip() == "Unsubscribe")
    for element in [unsubscribe, *unsubscribe.iterancestors()]:
        assert "display:none" not in (element.get("style") or "").replace(" ", "")

    assert "1 Example Street, London EC1A 1AA" in tree.text_content()
    assert not tree.xpath("//script | //link | //iframe | //form")
    assert "fonts.googleapis" not in html and "@import" not in html
    for url in tree.xpath("//@href | //@src"):
        assert url.startswith(("https://", "mailto:")), url

    assert f"{BASE}/unsubscribe/tok1.sig" in text and f"{BASE}/preferences/pref1.sig" in text
    assert "1 Example Street" in text and "/archive/morning-briefing" in text


def test_no_placeholder_survives_a_fill(renderer: EmailRenderer) -> None:
    for make in KINDS.values():
        prepared = make(renderer)
        assert prepared.html.slot_count >= 3 and prepared.text.slot_count >= 3
        html, text = prepared.fill(recipient())
        assert not PLACEHOLDER.search(html) and not PLACEHOLDER.search(text)


def test_recipient_values_are_escaped_in_html_only(renderer: EmailRenderer) -> None:
    prepared = renderer.digest("morning-briefing", [article(1)], "2026-07-04")
    html, text = prepared.fill(recipient(name=EVIL))
    assert "Hi &lt;script&gt;alert(1)&lt;/script&gt; &amp; &quot;Bob&quot;," in html
    assert "<script>" not in html
    assert not lxml.html.document_fromstring(html).xpath("//script")
    assert f"Hi {EVIL}," in text


def test_article_html_is_inserted_as_is_with_absolute_links(renderer: EmailRenderer) -> None:
    body = "<p>First <em>para</em> &amp; more.</p><blockquote>Quoted</blockquote>"
    prepared = renderer.article(article(5, body_html=body), "morning-briefing", "story-5")
    html, _ = prepared.fill(recipient())
    assert "<p>First <em>para</em> &amp; more.</p><blockquote>Quoted</blockquote>" in html
    prepared = renderer.article(article(6), "morning-briefing", "story-6")
    html, _ = prepared.fill(recipient())
    assert f'href="{BASE}/related"' in html
    assert f'src="{BASE}/media/chart.png"' in html
    assert f'src="{BASE}/media/lead.jpg"' in html
    assert prepared.warnings == ()


def test_mjml_is_compiled_once_for_many_recipients(
    renderer: EmailRenderer, monkeypatch: pytest.MonkeyPatch
) -> None:
    calls: list[int] = []
    real = email_module.mjml2html

    def counting(source: str, **kwargs: object) -> str:
        calls.append(len(source))
        assert kwargs.get("fonts") == {}
        return real(source, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(email_module, "mjml2html", counting)
    prepared = renderer.digest("morning-briefing", [article(1), article(2)], "2026-07-04")
    outputs = [prepared.fill(recipient(n, name=f"Reader {n}")) for n in range(500)]
    assert len(calls) == 1
    for n in (0, 123, 499):
        html, text = outputs[n]
        assert f"Hi Reader {n}," in html and f"/unsubscribe/tok{n}.sig" in html
        assert f"/unsubscribe/tok{n}.sig" in text


def test_digest_of_sixty_long_articles_stays_under_the_limit(renderer: EmailRenderer) -> None:
    long_text = " ".join(["word"] * 4000)
    articles = [
        article(
            n,
            summary="",
            body_text=long_text,
            body_html=f"<p>{long_text}</p>",
            title=f"Long story {n:02d} " + "with a long headline " * 4,
        )
        for n in range(60)
    ]
    prepared = renderer.digest("morning-briefing", articles, "2026-07-04")
    html, text = prepared.fill(recipient())
    assert len(html.encode()) < HTML_LIMIT
    assert prepared.html.max_bytes <= HTML_LIMIT
    assert len(prepared.warnings) == 1 and "More in this issue" in prepared.warnings[0]
    assert "More in this issue" in html and "More in this issue" in text
    for n in range(60):  # every article is there: a card or a link
        assert f'href="{BASE}/articles/story-{n}"' in html
        assert f"{BASE}/articles/story-{n}" in text
    assert html.count("Read more") < 60
    assert long_text not in html  # bodies are trimmed to teasers


def test_over_long_article_links_to_the_web_version(renderer: EmailRenderer) -> None:
    paragraphs = "".join(f"<p>Paragraph {n} " + "lorem ipsum " * 40 + "</p>" for n in range(400))
    long = article(9, body_html=paragraphs + "<p>THE VERY END</p>", summary="What happened.")
    prepared = renderer.article(long, "morning-briefing", "story-9")
    html, text = prepared.fill(recipient())
    assert len(html.encode()) < HTML_LIMIT
    assert "THE VERY END" not in html
    assert f'href="{BASE}/articles/story-9"' in html and f"{BASE}/articles/story-9" in text
    assert "Read the full article" in html
    assert len(prepared.warnings) == 1
    assert "story-9" in prepared.warnings[0] and f"{BASE}/articles/story-9" in prepared.warnings[0]


def test_override_template_wins_and_fills_attributes(tmp_path: Path) -> None:
    override = DATA / "email" / "override"
    settings = load_settings(tmp_path, {r'^# dir = "templates-local".*$': f'dir = "{override}"'})
    renderer = EmailRenderer(settings)
    html, _ = renderer.welcome("morning-briefing").fill(recipient(city="Lisbon"))
    assert "OVERRIDDEN WELCOME for Lisbon readers of Morning Briefing" in html
    assert "Unsubscribe" in html  # the built-in base still frames it
    confirm = renderer.confirm("morning-briefing")
    html, text = confirm.fill(recipient(city="Porto"))
    assert text.startswith(f"OVERRIDDEN CONFIRM TEXT: {BASE}/confirm/conf1.sig")
    assert "Please confirm your subscription" in html  # html not overridden: built-in


def test_missing_attribute_fills_empty(tmp_path: Path) -> None:
    override = DATA / "email" / "override"
    settings = load_settings(tmp_path, {r'^# dir = "templates-local".*$': f'dir = "{override}"'})
    html, _ = EmailRenderer(settings).welcome("morning-briefing").fill(recipient())
    assert "OVERRIDDEN WELCOME for  readers" in html


def test_invalid_mjml_names_the_template(tmp_path: Path) -> None:
    override = tmp_path / "mine"
    (override / "email").mkdir(parents=True)
    shutil.copy(DATA / "email" / "broken.mjml.j2", override / "email" / "welcome.mjml.j2")
    settings = load_settings(tmp_path, {r'^# dir = "templates-local".*$': f'dir = "{override}"'})
    with pytest.raises(RenderError, match=r"template email/welcome\.mjml\.j2: invalid MJML"):
        EmailRenderer(settings).welcome("morning-briefing")


def test_template_error_names_the_template(tmp_path: Path) -> None:
    override = tmp_path / "mine"
    (override / "email").mkdir(parents=True)
    (override / "email" / "welcome.txt.j2").write_text("{{ no_such_thing.at_all }}")
    settings = load_settings(tmp_path, {r'^# dir = "templates-local".*$': f'dir = "{override}"'})
    with pytest.raises(RenderError, match=r"email/welcome\.txt\.j2.*no_such_thing"):
        EmailRenderer(settings).welcome("morning-briefing")


def test_branding_comes_from_config(tmp_path: Path) -> None:
    settings = load_settings(
        tmp_path,
        {
            r"^accent_color = .*$": 'accent_color = "#0b5394"',
            r"^# logo_url = .*$": 'logo_url = "https://news.example/logo.png"',
        },
    )
    html, _ = EmailRenderer(settings).welcome("morning-briefing").fill(recipient())
    assert "#0b5394" in html and "#b3261e" not in html
    assert 'src="https://news.example/logo.png"' in html


def test_subject_and_preheader_are_single_line(renderer: EmailRenderer) -> None:
    prepared = renderer.article(
        article(3, title="Line one\r\nBcc: x@example.com"), "weekly-review", "k"
    )
    assert prepared.subject == "Line one Bcc: x@example.com"
    assert "\n" not in prepared.preheader


def test_builtin_templates_are_the_top_level_folder() -> None:
    top = Path(__file__).parents[1] / "templates"
    assert builtin_templates().resolve() == top.resolve()
    for kind in KINDS:
        assert (top / "email" / f"{kind}.mjml.j2").is_file()
        assert (top / "email" / f"{kind}.txt.j2").is_file()


def test_transactional_mail_links_the_lists_archive_for_view_in_browser(
    settings: Settings,
) -> None:
    renderer = EmailRenderer(settings)
    for prepared in (renderer.confirm("morning-briefing"), renderer.welcome("morning-briefing")):
        html, text = prepared.fill(Recipient(email="a@example.org"))
        archive = f"{settings.site.base_url}/archive/morning-briefing"
        assert f'href="{archive}"' in html
        assert f"{archive}/" not in html and f"{archive}/" not in text
