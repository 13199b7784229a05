from __future__ import annotations

from dispatch.ingest.text import html_to_text, summarise, trim


def test_blocks_become_paragraphs() -> None:
    html = (
        "<h2>Head</h2><p>One <b>bold</b>\n   word.</p><ul><li>a</li><li>b</li></ul>"
        "<ol><li>x</li></ol><blockquote><p>Quoted</p></blockquote><p>line<br>break</p>"
        "<pre>  code\n    indented</pre>loose text"
        "<table><thead><tr><th>Time</th><th>Height</th></tr></thead>"
        "<tbody><tr><td>05:12</td><td>4.6 <em>m</em></td></tr></tbody></table>"
    )
    assert html_to_text(html) == (
        "Head\n\nOne bold word.\n\n- a\n\n- b\n\n1. x\n\nQuoted\n\nline\nbreak\n\n"
        "  code\n    indented\n\nloose text\n\nTime | Height\n\n05:12 | 4.6 m"
    )


def test_empty_html_is_empty_text() -> None:
    assert html_to_text("") == ""
    assert html_to_text("<p> </p>") == ""


def test_summary_skips_short_paragraphs_like_captions() -> None:
    long = " ".join(["word"] * 30)
    assert summarise(f"A short caption.\n\n{long}\n\nMore.") == long
    assert summarise("Short one.\n\nShort two.") == "Short one."
    assert summarise("") == ""


def test_trim_cuts_at_a_word_boundary_with_an_ellipsis() -> None:
    text = "alpha beta gamma, delta epsilon"
    assert trim(text, 100) == text
    assert trim(text, 20) == "alpha beta gamma\u2026"
    assert len(trim(text, 20)) <= 20
    assert trim("x" * 50, 10) == "x" * 9 + "\u2026"
    long = " ".join(["lorem"] * 100)
    cut = trim(long, 300)
    assert len(cut) <= 300 and cut.endswith("lorem\u2026")
