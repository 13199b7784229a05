"""The one normal form of an address, look-alikes refused, and the wire form senders use."""

from __future__ import annotations

import pytest
from hypothesis import HealthCheck, given, reject, settings
from hypothesis import strategies as st

from dispatch.errors import InvalidAddress
from dispatch.subscribers.addresses import (
    WireAddress,
    normalise_address,
    stored_form,
    wire_address,
)

PROPERTY = settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@pytest.mark.parametrize(
    ("typed", "stored"),
    [
        ("Ann@Example.org", "ann@example.org"),
        ("  ANN@EXAMPLE.ORG \n", "ann@example.org"),
        ("x@xn--bcher-kva.example", "x@bücher.example"),  # punycode in, Unicode stored
        ("x@BÜCHER.example", "x@bücher.example"),
        ("a@ＥＸＡＭＰＬＥ.com", "a@example.com"),  # IDNA's mapping: the domain it looks like
        ("idn@exämple.com", "idn@exämple.com"),
        ("Straße@Example.de", "straße@example.de"),  # lower-cased, not folded to "ss"
        ("ΣΟΦΙΑ@example.gr", "σοφια@example.gr"),
        ("ÅSA@example.se", "åsa@example.se"),
        ("e\u0301lise@example.fr", "\u00e9lise@example.fr"),  # NFC
        ("иван@почта.рф", "иван@почта.рф"),  # one script: fine
        ("user@xn--e1afmkfd.xn--p1ai", "user@пример.рф"),
        ("山田たろう@例え.jp", "山田たろう@例え.jp"),  # Han + Hiragana: how Japanese is written
        ("hong.길동@example.kr", "hong.길동@example.kr"),  # Latin + Hangul
    ],
)
def test_stored_form(typed: str, stored: str) -> None:
    assert normalise_address(typed) == stored
    assert normalise_address(stored) == stored
    assert stored_form(typed) == stored


@pytest.mark.parametrize(
    ("typed", "reason"),
    [
        ("", "empty email address"),
        ("not-an-address", "must have an @-sign"),
        ("ｖictim@example.com", '"ｖ" (FULLWIDTH LATIN SMALL LETTER V), a fullwidth or'),
        ("ﬁnance@example.com", 'form of "fi": type "fi" instead'),
        ("vicтim@example.com", 'mixes Latin and Cyrillic letters ("т" is CYRILLIC SMALL LETTER'),
        ("раypal@example.com", "the part before the @-sign mixes Cyrillic and Latin letters"),
        ("ann@exаmple.com", 'the domain label "exаmple" mixes Latin and Cyrillic'),
        ("ann@xn--exmple-4nf.com", 'the domain label "exаmple" mixes Latin and Cyrillic'),
        ("αlpha@example.com", "mixes Greek and Latin letters"),
        ("a\u200bb@example.com", "unsafe characters: ZERO WIDTH SPACE"),
        ("ab\u202e@example.com", "unsafe characters: RIGHT-TO-LEFT OVERRIDE"),
        ("a@ex\u00adample.com", "unsafe characters: SOFT HYPHEN"),
        ("snow@☃.example", "not allowed"),  # symbols are not IDNA 2008
        ("snow@xn--n3h.example", "not valid IDNA"),
        ("a@xn--zz.example", "not valid IDNA"),
        ('"quoted"@example.com', "Quoting the part before the @-sign is not allowed"),
    ],
)
def test_refused_with_the_reason(typed: str, reason: str) -> None:
    with pytest.raises(InvalidAddress) as caught:
        normalise_address(typed)
    assert reason in caught.value.reason
    assert reason in str(caught.value)
    assert stored_form(typed) is None
    with pytest.raises(InvalidAddress):
        wire_address(typed)


def test_an_error_spells_out_invisible_characters() -> None:
    with pytest.raises(InvalidAddress) as caught:
        normalise_address("moc.elpmaxe@\u202eann")
    assert str(caught.value).startswith('"moc.elpmaxe@<U+202E>ann" is not a usable email address')
    with pytest.raises(InvalidAddress) as long:
        normalise_address("x" * 5000)
    assert len(str(long.value)) < 400


@pytest.mark.parametrize(
    ("stored", "wire"),
    [
        ("ann@example.org", WireAddress("ann@example.org", needs_smtputf8=False)),
        ("x@bücher.example", WireAddress("x@xn--bcher-kva.example", needs_smtputf8=False)),
        ("idn@exämple.com", WireAddress("idn@xn--exmple-cua.com", needs_smtputf8=False)),
        ("иван@почта.рф", WireAddress("иван@xn--80a1acny.xn--p1ai", needs_smtputf8=True)),
        ("山田たろう@例え.jp", WireAddress("山田たろう@xn--r8jz45g.jp", needs_smtputf8=True)),
        # rows stored before today's rules: sent in today's form
        ("Ann@Example.org", WireAddress("ann@example.org", needs_smtputf8=False)),
        ("x@xn--bcher-kva.example", WireAddress("x@xn--bcher-kva.example", needs_smtputf8=False)),
    ],
)
def test_wire_form(stored: str, wire: WireAddress) -> None:
    assert wire_address(stored) == wire


def test_rows_that_cannot_be_sent_say_why() -> None:
    with pytest.raises(InvalidAddress, match="FULLWIDTH LATIN SMALL LETTER V"):
        wire_address("ｖictim@example.com")  # stored before look-alikes were refused
    with pytest.raises(InvalidAddress, match="not valid IDNA"):
        wire_address("snow@xn--n3h.example")


# Properties: any string, and addresses built from the letters of real scripts.

SCRIPTS = [
    "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789",
    "àáâäåæçèéêëìíîïñòóöøßùúüýÿÀÁÄÅÆÇÉÑÖØÜ",
    "абвгдежзийклмнопрстуфхцчшщыэюяАБВГДЕЖЗИЙКЛМНОПРСТУФ",
    "αβγδεζηθικλμνξοπρστυφχψωςΑΒΓΔΕΖΗΘΙΚΛΜΝΞΟΠΡΣΤΥΦΧΨΩ",
    "日本語例山田東京あいうえおかきくけこアイウエオカキクケコ",
    "한국어길동서울",
    "ｖＡﬁ²\u200b\u202e\u0301ӏа",  # look-alikes and invisibles, to be refused
]
FILLER = "._-+"
LETTERS = "".join(SCRIPTS)


@st.composite
def built_addresses(draw: st.DrawFn) -> str:
    """Addresses whose parts each come from one or two scripts (to be accepted or refused)."""
    alphabets = st.sampled_from(SCRIPTS)
    local_letters = draw(alphabets) + (draw(alphabets) if draw(st.booleans()) else "")
    local = draw(st.text(st.sampled_from(local_letters + FILLER), min_size=1, max_size=20))
    labels = [
        draw(st.text(st.sampled_from(draw(alphabets) + "-"), min_size=1, max_size=12))
        for _ in range(draw(st.integers(1, 3)))
    ]
    tld = draw(st.sampled_from(["com", "example", "рф", "jp", "XN--P1AI", "Org"]))
    return f"{local}@{'.'.join([*labels, tld])}"


def check_normal_form(raw: str) -> None:
    try:
        normal = normalise_address(raw)
    except InvalidAddress as exc:
        assert exc.reason and str(exc)
        reject()
    assert normalise_address(normal) == normal  # idempotent
    local, _, domain = normal.rpartition("@")
    assert local == local.lower() and domain == domain.lower()
    wire = wire_address(normal)
    wire_local, _, wire_domain = wire.address.rpartition("@")
    assert wire_domain.isascii() and wire_local == local
    assert wire.needs_smtputf8 is not local.isascii()
    assert normalise_address(wire.address) == normal  # A-labels back to the same form


@PROPERTY
@given(built_addresses())
def test_built_addresses_normalise_idempotently(raw: str) -> None:
    check_normal_form(raw)


@PROPERTY
@given(st.emails())
def test_ascii_addresses_in_any_case_are_one(raw: str) -> None:
    normal = stored_form(raw)
    if normal is None:  # e.g. a special-use domain such as .arpa, or over 254 characters
        reject()
    assert normalise_address(raw.upper()) == normal == normalise_address(raw.title())
    check_normal_form(raw)


@PROPERTY
@given(st.text(max_size=60))
def test_any_text_is_an_address_or_refused_with_a_reason(raw: str) -> None:
    try:
        normal = normalise_address(raw)
    except InvalidAddress as exc:
        assert exc.reason
        return
    assert normalise_address(normal) == normal
    assert wire_address(normal).address.rpartition("@")[2].isascii()


ATEXT = "abcXYZ019!#$%&'*+/=?^_`{|}~-."
LABELS = st.sampled_from(
    [
        *["example", "Example", "xn--bcher-kva", "a", "-bad", "x" * 64, "1", "exämple"],
        *["ＥＸＡＭＰＬＥ", "bücher" * 9, "gοοgle", "пример", "例え", "a\u200bb", "xn--zz"],
    ]
)


@PROPERTY
@given(
    st.one_of(
        st.emails(),
        st.builds(
            lambda local, labels, tld: f"{local}@{'.'.join(labels)}.{tld}",
            st.text(ATEXT, min_size=1, max_size=70),
            st.lists(LABELS, min_size=0, max_size=6),
            st.sampled_from(["com", "ORG", "test", "local", "arpa", "123", "c0m", "x" * 64]),
        ),
    )
)
def test_the_plain_ascii_fast_path_agrees_with_the_full_check(raw: str) -> None:
    from dispatch.subscribers import addresses

    fast = addresses._plain(raw.strip())
    try:
        parts = addresses._parse(raw)
    except InvalidAddress:
        assert fast is None
        return
    assert fast in (None, f"{parts.local}@{parts.domain}")


def test_the_fast_path_takes_plain_addresses_and_leaves_the_rest() -> None:
    from dispatch.subscribers import addresses

    assert addresses._plain("Ann.Lee+news@Example.ORG") == "ann.lee+news@example.org"
    assert addresses._plain("x@xn--bcher-kva.example") == "x@bücher.example"
    assert addresses._plain("Ann@BÜCHER.example") == "ann@bücher.example"
    for other in ("a..b@example.com", "a@example.test", "åsa@example.se", '"q"@example.com'):
        assert addresses._plain(other) is None
