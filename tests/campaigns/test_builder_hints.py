"""The message step's hints (#14 §2): the variables the audience really has, and an SMS count
of the message as its first recipient gets it, not of the template with its braces."""

from django.urls import reverse

from contacts.models import Contact
from tests.campaigns.helpers import make_campaign, make_group


def _counter(client, text, campaign=None, tracked=False):
    data = {"message_template": text}
    if campaign is not None:
        data["campaign"] = str(campaign.pk)
    if tracked:
        data["track_links"] = "on"
    response = client.post(reverse("campaigns:campaign-counter"), data, HTTP_HX_REQUEST="true")
    assert response.status_code == 200
    return response.content.decode()


def test_variables_hint_lists_the_audiences_custom_fields(client_logged_in, workspace):
    group = make_group(workspace, 2)
    Contact.objects.filter(memberships__group=group).update(
        metadata={"visit_date": "May 5", "doctor": "Dr Who"}
    )
    other = make_group(workspace, 1, name="Others")
    Contact.objects.filter(memberships__group=other).update(metadata={"secret_field": "x"})
    campaign = make_campaign(workspace, group)
    html = client_logged_in.get(
        reverse("campaigns:campaign-build", args=[campaign.pk, "message"])
    ).content.decode()
    hint = html[
        html.index('id="variables-hint"') : html.index("</p>", html.index("variables-hint"))
    ]
    assert "{{doctor}}" in hint and "{{visit_date}}" in hint and "{{first_name}}" in hint
    assert "secret_field" not in hint


def test_variables_hint_says_when_there_are_no_custom_fields(client_logged_in, workspace):
    campaign = make_campaign(workspace, make_group(workspace, 1))
    html = client_logged_in.get(
        reverse("campaigns:campaign-build", args=[campaign.pk, "message"])
    ).content.decode()
    assert "have no custom fields yet" in html


def test_counter_counts_the_message_as_the_first_recipient_gets_it(client_logged_in, workspace):
    group = make_group(workspace, 2)
    first = Contact.objects.filter(memberships__group=group).order_by("pk").first()
    Contact.objects.filter(pk=first.pk).update(
        first_name="Bartholomew", metadata={"code": "X" * 150}
    )
    campaign = make_campaign(workspace, group)
    html = _counter(client_logged_in, "Hi {{first_name}}", campaign)
    assert "14 characters" in html  # "Hi Bartholomew", not the 17 of the template
    assert "as Bartholomew Lee gets it" in html
    html = _counter(client_logged_in, "Hi {{first_name}}: {{code}}", campaign)
    assert "2 segments" in html  # the custom field's 150 characters count


def test_counter_without_a_campaign_uses_a_sample_person(client_logged_in):
    html = _counter(client_logged_in, "Hi {{first_name}}")
    assert "7 characters" in html and "Alex Sample" in html


def test_counter_ignores_another_workspaces_campaign(client_logged_in, other_workspace):
    foreign = make_campaign(other_workspace, make_group(other_workspace, 1))
    Contact.objects.filter(workspace=other_workspace).update(first_name="Zebediah")
    html = _counter(client_logged_in, "Hi {{first_name}}", foreign)
    assert "Zebediah" not in html and "Alex Sample" in html
