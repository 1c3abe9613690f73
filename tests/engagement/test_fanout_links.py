"""Link rewriting at fan-out (E1): every recipient's message gets its own short links."""

import re

import pytest
from django.db import IntegrityError

from campaigns import fanout, lifecycle
from campaigns import tick as engine
from campaigns.lifecycle import campaign_launch
from campaigns.services import campaign_test_send
from engagement import tracking
from engagement.models import TrackedLink
from messaging.models import Message
from tests.campaigns.helpers import make_campaign, make_group
from tests.fakes.fixtures import fake_smtp, twilio_settings  # noqa: F401 (fixtures)

pytestmark = pytest.mark.django_db
BASE = "https://herald.example.com"
SHORT = re.compile(rf"{re.escape(BASE)}/l/([0-9A-Za-z]{{12}})")


@pytest.fixture(autouse=True)
def public_base(settings):
    settings.PUBLIC_BASE_URL = BASE
    settings.HERALD_SMS_BACKEND = "console"


def fan_out(campaign, batch: int = fanout.FANOUT_BATCH):
    campaign_launch(campaign=campaign)
    run_id = lifecycle.runs_start_due()[0]
    assert fanout.run_fan_out(run_id=run_id, batch=batch) is True
    return Message.objects.filter(run_id=run_id).select_related("contact").order_by("contact_id")


def links_of(message) -> dict[str, str]:
    return dict(TrackedLink.objects.filter(message=message).values_list("code", "url"))


AWKWARD = (
    "Hi {{first_name}}! Sale: https://shop.example.com/sale. "
    '"https://shop.example.com/q?a=1&b=2" (https://en.example.org/wiki/A_(b)) '
    "https://café.example/menü, https://shop.example.com/u?who={{first_name}}&n={{last_name}}."
)


def test_each_recipient_gets_its_own_codes_for_each_url(workspace):
    messages = fan_out(make_campaign(workspace, make_group(workspace, 3), message_template=AWKWARD))
    seen: set[str] = set()
    for message in messages:
        codes = SHORT.findall(message.body)
        assert len(codes) == 5 and not seen & set(codes)
        seen |= set(codes)
        first = message.contact.first_name
        assert message.body == (
            f'Hi {first}! Sale: {BASE}/l/{codes[0]}. "{BASE}/l/{codes[1]}" ({BASE}/l/{codes[2]}) '
            f"{BASE}/l/{codes[3]}, {BASE}/l/{codes[4]}."
        )
        stored = links_of(message)
        assert [stored[code] for code in codes] == [
            "https://shop.example.com/sale",
            "https://shop.example.com/q?a=1&b=2",
            "https://en.example.org/wiki/A_(b)",
            "https://xn--caf-dma.example/men%C3%BC",
            f"https://shop.example.com/u?who={first}&n=Lee",
        ]


def test_codes_ascend_in_the_order_the_links_are_made(workspace):
    # So the code index is written at its end (codes.py); across batches too.
    messages = fan_out(
        make_campaign(
            workspace,
            make_group(workspace, 7),
            message_template="https://a.example/x and https://b.example/y",
        ),
        batch=3,
    )
    made = [code for message in messages for code in SHORT.findall(message.body)]
    assert len(made) == 14 and made == sorted(made)


def test_a_link_redirects_to_its_destination(client, workspace):
    [message] = fan_out(
        make_campaign(workspace, make_group(workspace, 1), message_template=AWKWARD)
    )
    code = SHORT.findall(message.body)[4]
    response = client.get(f"/l/{code}", HTTP_USER_AGENT="Mozilla/5.0 Safari/604.1")
    assert (
        response["Location"] == f"https://shop.example.com/u?who={message.contact.first_name}&n=Lee"
    )


@pytest.mark.parametrize(
    "template",
    [
        "Reply STOP. javascript:alert(1) mailto:a@b.example tel:+14155550100 ftp://x.example/f",
        "No link here, just www.example.com and example.com/sale",
        f"Our own: {BASE}/unsubscribe/abc/ and {BASE}/l/Ab3De6Gh9Jk2",
    ],
)
def test_what_is_not_an_http_link_elsewhere_stays_as_written(workspace, template):
    [message] = fan_out(
        make_campaign(workspace, make_group(workspace, 1), message_template=template)
    )
    assert message.body == template
    assert not TrackedLink.objects.exists()


def test_a_url_whose_variable_makes_it_invalid_stays_as_rendered(workspace):
    group = make_group(workspace, 1)
    group.contacts.update(metadata={"site": "not a host"})
    campaign = make_campaign(workspace, group, message_template="Go https://{{site}}/x")
    [message] = fan_out(campaign)
    assert message.body == "Go https://not a host/x"
    assert not TrackedLink.objects.exists()


def test_a_variable_full_of_copy_and_url_syntax_is_stored_as_rendered(workspace):
    """The links are written as COPY text, where a backslash escapes ("\\N" is NULL): a
    contact's value full of them is stored as rendered (a tab or line break makes no URL)."""
    group = make_group(workspace, 1)
    group.contacts.update(metadata={"q": "a\\b\\tc\\N %41 ü\\"})
    campaign = make_campaign(
        workspace, group, message_template="Go https://shop.example.com/s?q={{q}} now"
    )
    [message] = fan_out(campaign)
    [code] = SHORT.findall(message.body)
    assert links_of(message) == {
        code: "https://shop.example.com/s?q=a%5Cb%5Ctc%5CN%20%41%20%C3%BC%5C"
    }


def test_tracking_off_leaves_links_as_written(workspace):
    template = "Sale: https://shop.example.com/sale"
    campaign = make_campaign(
        workspace, make_group(workspace, 2), message_template=template, track_links=False
    )
    assert {m.body for m in fan_out(campaign)} == {template}
    assert not TrackedLink.objects.exists()


def test_click_code_is_carried_to_the_landing_page(workspace):
    campaign = make_campaign(
        workspace,
        make_group(workspace, 1),
        message_template="https://shop.example.com/p?x=1#top",
        link_click_code=True,
    )
    [message] = fan_out(campaign)
    [code] = SHORT.findall(message.body)
    assert links_of(message) == {code: f"https://shop.example.com/p?x=1&hc={code}#top"}


def test_email_links_in_text_and_html_share_a_code_and_images_stay(workspace):
    html = (
        '<p><a href="https://shop.example.com/s?a=1&amp;b=2">Shop</a> '
        '<img src="https://cdn.example.com/logo.png"></p>'
    )
    campaign = make_campaign(
        workspace,
        make_group(workspace, 1),
        channel="email",
        subject="Sale",
        message_template="Shop: https://shop.example.com/s?a=1&b=2",
        html_template=html,
    )
    [message] = fan_out(campaign)
    [code] = SHORT.findall(message.body)
    assert message.html_body == (
        f'<p><a href="{BASE}/l/{code}">Shop</a> <img src="https://cdn.example.com/logo.png"></p>'
    )
    assert links_of(message) == {code: "https://shop.example.com/s?a=1&b=2"}


def test_sent_email_keeps_its_unsubscribe_link(workspace, fake_smtp):  # noqa: F811
    campaign = make_campaign(
        workspace,
        make_group(workspace, 1),
        channel="email",
        subject="Sale",
        message_template="Shop: https://shop.example.com/s",
        html_template='<a href="https://shop.example.com/s">Shop</a>',
    )
    campaign_launch(campaign=campaign)
    engine.tick(send_inline=True)
    (received,) = fake_smtp.received
    mail = received.message
    text = mail.get_body(("plain",)).get_content()
    html = mail.get_body(("html",)).get_content()
    unsubscribe = str(mail["List-Unsubscribe"]).strip("<> ")
    assert unsubscribe.startswith(f"{BASE}/unsubscribe/")
    assert unsubscribe in text and f'href="{unsubscribe}"' in html
    assert SHORT.search(text) and SHORT.search(html)
    assert "shop.example.com" not in text + html


def test_a_taken_code_makes_the_batch_again(workspace, monkeypatch):
    taken = TrackedLink.objects.create(
        code="TakenCode123", message_id=10**9, url="https://old.example.com"
    )
    codes = iter([[taken.code, "Fresh0Code01"], ["Fresh0Code02", "Fresh0Code03"]])
    monkeypatch.setattr(tracking, "new_codes", lambda count, first: next(codes))
    monkeypatch.setattr(tracking, "BLOCK", 2)
    campaign = make_campaign(
        workspace, make_group(workspace, 2), message_template="https://shop.example.com/x"
    )
    messages = list(fan_out(campaign))
    assert len(messages) == 2
    assert sorted(SHORT.findall(" ".join(m.body for m in messages))) == [
        "Fresh0Code02",
        "Fresh0Code03",
    ]
    assert TrackedLink.objects.get(code=taken.code).url == "https://old.example.com"


def test_a_code_taken_twice_fails_the_fan_out(workspace, monkeypatch):
    TrackedLink.objects.create(code="TakenCode123", message_id=10**9, url="https://x.example")
    monkeypatch.setattr(tracking, "new_codes", lambda count, first: ["TakenCode123"] * count)
    campaign = make_campaign(
        workspace, make_group(workspace, 1), message_template="https://shop.example.com/x"
    )
    campaign_launch(campaign=campaign)
    run_id = lifecycle.runs_start_due()[0]
    with pytest.raises(IntegrityError):
        fanout.run_fan_out(run_id=run_id)
    assert not Message.objects.filter(run_id=run_id).exists()


def test_links_of_many_batches(workspace):
    messages = fan_out(
        make_campaign(
            workspace, make_group(workspace, 7), message_template="A https://a.example/x"
        ),
        batch=3,
    )
    assert TrackedLink.objects.count() == 7
    for message in messages:
        [code] = SHORT.findall(message.body)
        assert links_of(message) == {code: "https://a.example/x"}


def test_test_send_has_working_short_links(workspace, twilio_settings):  # noqa: F811
    twilio_settings.HERALD_SMS_BACKEND = "console"
    campaign = make_campaign(
        workspace, make_group(workspace, 1), message_template="Hi https://shop.example.com/t"
    )
    message = campaign_test_send(campaign=campaign, to="+14155550177")
    [code] = SHORT.findall(message.body)
    assert links_of(message) == {code: "https://shop.example.com/t"}
    assert message.campaign_id is None and message.run_id is None
