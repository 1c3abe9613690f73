"""Finding and rewriting the links of message templates (E1), awkward URLs included."""

import pytest

from engagement.links import (
    destination,
    sample_short_url,
    text_urls,
    track_template,
    with_click_code,
)


def found(text: str) -> list[str]:
    return [text[start:end] for start, end in text_urls(text)]


@pytest.mark.parametrize(
    ("text", "urls"),
    [
        ("Sale today: https://shop.example.com/sale.", ["https://shop.example.com/sale"]),
        (
            "Go to https://x.example/a, then https://x.example/b!",
            ["https://x.example/a", "https://x.example/b"],
        ),
        ('He said "https://x.example/q?a=1&b=2" twice', ["https://x.example/q?a=1&b=2"]),
        ("'https://x.example/single'", ["https://x.example/single"]),
        ("(see https://x.example/page)", ["https://x.example/page"]),
        (
            "https://en.wikipedia.org/wiki/Foo_(bar) is it",
            ["https://en.wikipedia.org/wiki/Foo_(bar)"],
        ),
        ("[https://x.example/a]", ["https://x.example/a"]),
        ("<https://x.example/angle>", ["https://x.example/angle"]),
        ("Voir https://café.example/menu… ou pas", ["https://café.example/menu"]),
        ("見て https://例え.jp/パス。", ["https://例え.jp/パス"]),
        (
            "Book: https://x.example/b?who={{first_name|you}}&id={{phone}}.",
            ["https://x.example/b?who={{first_name|you}}&id={{phone}}"],
        ),
        ("Ends with a variable https://x.example/{{code}}", ["https://x.example/{{code}}"]),
        ("HTTPS://X.EXAMPLE/UP", ["HTTPS://X.EXAMPLE/UP"]),
        ("https://x.example/#frag!", ["https://x.example/#frag"]),
        ("javascript:alert(1) and javascript:https://x.example", []),
        ("mailto:a@b.example tel:+14155550100 ftp://x.example/f", []),
        ("xhttps://x.example no, https:// nothing", []),
        ("http://localhost:8000/unsubscribe/abc/ and http://localhost:8000/l/Ab3De6Gh9Jk2", []),
    ],
)
def test_urls_found_in_text(text, urls, settings):
    settings.PUBLIC_BASE_URL = "http://localhost:8000"
    assert found(text) == urls


def test_track_template_replaces_each_url_with_a_slot_once():
    text, urls = track_template(
        "A https://a.example/x. B https://b.example/y A https://a.example/x"
    )
    assert text == "A {{__herald_link_0}}. B {{__herald_link_1}} A {{__herald_link_0}}"
    assert urls == ["https://a.example/x", "https://b.example/y"]


def test_track_template_in_html_takes_only_hrefs():
    template = (
        '<p>Hi <a class="btn" href="https://shop.example/s?a=1&amp;b=2">shop</a> '
        "<a href='https://shop.example/single'>x</a> <a href=https://shop.example/bare>y</a> "
        '<img src="https://cdn.example/logo.png"> https://shop.example/in-text '
        '<a href="javascript:alert(1)">js</a> <a href="mailto:a@b.example">m</a> '
        '<a href="http://localhost:8000/unsubscribe/t/">u</a></p>'
    )
    text, urls = track_template(template, is_html=True)
    assert urls == [
        "https://shop.example/s?a=1&b=2",
        "https://shop.example/single",
        "https://shop.example/bare",
    ]
    assert 'href="{{__herald_link_0}}"' in text
    assert "href='{{__herald_link_1}}'" in text
    assert "href={{__herald_link_2}}>" in text
    for kept in (
        'src="https://cdn.example/logo.png"',
        "https://shop.example/in-text",
        'href="javascript:alert(1)"',
        'href="mailto:a@b.example"',
        'href="http://localhost:8000/unsubscribe/t/"',
    ):
        assert kept in text


@pytest.mark.parametrize(
    ("url", "stored"),
    [
        ("https://shop.example.com/sale", "https://shop.example.com/sale"),
        ("HTTPS://Shop.Example.com/Sale", "https://Shop.Example.com/Sale"),
        ('https://x.example/q?name=Ann Lee&x="y"', "https://x.example/q?name=Ann%20Lee&x=%22y%22"),
        ("https://café.example/menü", "https://xn--caf-dma.example/men%C3%BC"),
        (
            "https://例え.jp:8443/パス?q=値#部分",
            "https://xn--r8jz45g.jp:8443/%E3%83%91%E3%82%B9?q=%E5%80%A4#%E9%83%A8%E5%88%86",
        ),
        ("https://x.example/a<script>", "https://x.example/a%3Cscript%3E"),
        ("https://x.example/a\r\nLocation: evil", None),
        ("javascript:alert(1)", None),
        ("https:///no-host", None),
        ("https://" + "a" * 3000 + ".example", None),
        ("https://[::1", None),
        ("https://[2001:db8::1]:8080/x", "https://[2001:db8::1]:8080/x"),
        ("https://not a host/x", None),
        ("https://x.example:port/", None),
        ("https://exa$mple.com/", None),
        ("https://sub_domain.example.com/", "https://sub_domain.example.com/"),
    ],
)
def test_destination_is_a_safe_ascii_uri_or_none(url, stored):
    assert destination(url) == stored


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("https://x.example/p", "https://x.example/p?hc=C0de"),
        ("https://x.example/p?a=1", "https://x.example/p?a=1&hc=C0de"),
        ("https://x.example/p?a=1#top", "https://x.example/p?a=1&hc=C0de#top"),
        ("https://x.example/p?", "https://x.example/p?hc=C0de"),
    ],
)
def test_click_code_is_added_to_the_query(url, expected):
    assert with_click_code(url, "C0de") == expected


def test_sample_short_url_has_a_real_codes_length(settings):
    settings.PUBLIC_BASE_URL = "https://hrld.example"
    assert sample_short_url() == "https://hrld.example/l/Ab3De6Gh9Jk2"
