"""Voice: the agent is chosen with the opening message; email: the review shows the HTML
body as recipients get it, in a sandboxed frame (#14 §2)."""

from django.urls import reverse

from campaigns.models import Campaign
from contacts.models import Contact
from conversations.models import Agent
from tests.campaigns.helpers import make_campaign, make_group


def _step(client, campaign, step, data=None):
    url = reverse("campaigns:campaign-build", args=[campaign.pk, step])
    return client.post(url, data) if data is not None else client.get(url)


def test_voice_message_step_takes_the_agent_instead_of_a_message(client_logged_in, workspace):
    agent = Agent.objects.create(
        workspace=workspace, name="Ava", opening_message="Hi {{first_name}}, this is Ava."
    )
    campaign = make_campaign(workspace, make_group(workspace, 2), channel="voice")
    page = _step(client_logged_in, campaign, "message").content.decode()
    assert 'id="id_agent"' in page
    response = _step(
        client_logged_in, campaign, "message", {"message_template": "", "agent": agent.pk}
    )
    assert response.status_code == 302, response.content.decode()[:2000]
    campaign.refresh_from_db()
    assert campaign.agent == agent and campaign.message_template == ""
    settings_page = _step(client_logged_in, campaign, "settings").content.decode()
    assert 'id="id_agent"' not in settings_page
    response = _step(
        client_logged_in,
        campaign,
        "settings",
        {"name": "Calls", "max_retries": "1", "retry_interval": "60"},
    )
    assert response.status_code == 302
    campaign.refresh_from_db()
    assert campaign.agent == agent  # the settings step leaves a call's agent alone
    review = _step(client_logged_in, campaign, "review").content.decode()
    assert "Hi Ann0, this is Ava." in review


def test_voice_message_step_refuses_neither_message_nor_agent(client_logged_in, workspace):
    campaign = make_campaign(workspace, make_group(workspace, 1), channel="voice")
    response = _step(client_logged_in, campaign, "message", {"message_template": "", "agent": ""})
    assert response.status_code == 200
    assert "A call needs an opening message or an agent." in response.content.decode()


def test_sms_settings_step_still_takes_the_agent(client_logged_in, workspace):
    agent = Agent.objects.create(workspace=workspace, name="Ava")
    campaign = make_campaign(workspace, make_group(workspace, 1))
    assert 'id="id_agent"' not in _step(client_logged_in, campaign, "message").content.decode()
    data = {"name": "Promo", "agent": agent.pk, "max_retries": "1", "retry_interval": "60"}
    assert _step(client_logged_in, campaign, "settings", data).status_code == 302
    assert Campaign.objects.get().agent == agent


def _email_campaign(workspace):
    group = make_group(workspace, 2)
    first = Contact.objects.filter(memberships__group=group).order_by("pk").first()
    Contact.objects.filter(pk=first.pk).update(first_name="<script>alert(1)</script>Ann")
    return make_campaign(
        workspace,
        group,
        channel="email",
        subject="News",
        message_template="Hi {{first_name}}",
        html_template='<h1 style="color:red">Hi {{first_name}}</h1><a href="https://shop.example/x">Shop</a>',
    )


def test_email_preview_is_the_email_as_the_first_recipient_gets_it(client_logged_in, workspace):
    campaign = _email_campaign(workspace)
    response = client_logged_in.get(reverse("campaigns:campaign-email-preview", args=[campaign.pk]))
    assert response.status_code == 200
    html = response.content.decode()
    assert '<h1 style="color:red">Hi &lt;script&gt;alert(1)&lt;/script&gt;Ann</h1>' in html
    assert "<script>" not in html
    assert "https://shop.example/x" not in html  # a tracked link, in its short form
    assert "Unsubscribe</a> from these emails." in html
    policy = response["Content-Security-Policy"]
    assert "sandbox" in policy and "frame-ancestors 'self'" in policy
    assert "script-src" not in policy and "default-src 'none'" in policy
    assert response["X-Frame-Options"] == "SAMEORIGIN"


def test_review_frames_the_email_preview_sandboxed(client_logged_in, workspace):
    campaign = _email_campaign(workspace)
    review = _step(client_logged_in, campaign, "review").content.decode()
    url = reverse("campaigns:campaign-email-preview", args=[campaign.pk])
    assert f'<iframe class="email-preview" sandbox src="{url}"' in review


def test_email_preview_of_another_workspace_is_404(client_logged_in, other_workspace):
    foreign = make_campaign(other_workspace, make_group(other_workspace, 1), channel="email")
    url = reverse("campaigns:campaign-email-preview", args=[foreign.pk])
    assert client_logged_in.get(url).status_code == 404
