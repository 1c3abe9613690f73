"""A refused builder step shows what was posted, never the saved campaign (#14 §2)."""

import re

from django.urls import reverse

from conversations.models import Agent
from tests.campaigns.helpers import make_campaign, make_group, make_sender


def _post(client, campaign, step, data):
    response = client.post(reverse("campaigns:campaign-build", args=[campaign.pk, step]), data)
    assert response.status_code == 200, (step, response.status_code)
    return response.content.decode()


def _checked(html: str, name: str) -> list[str]:
    pattern = rf'<input type="(?:radio|checkbox)" name="{name}" value="([^"]*)" checked'
    return re.findall(pattern, html)


def _selected(html: str, select_id: str) -> list[str]:
    block = re.search(rf'<select id="{select_id}".*?</select>', html, re.S).group(0)
    return re.findall(r'<option value="([^"]*)" selected', block)


def test_refused_schedule_keeps_every_posted_field(client_logged_in, workspace):
    campaign = make_campaign(workspace, make_group(workspace, 1))  # saved: send at once
    html = _post(
        client_logged_in,
        campaign,
        "schedule",
        {
            "when": "recurring",
            "scheduled_at": "2031-05-06T09:30",
            "timezone": "contact_local",
            "frequency": "weekly",  # with no day: the one bad field
            "day_of_month": "12",
            "until": "2031-09-01",
            "window_start_hour": "8",
            "window_end_hour": "20",
            "excluded_days": ["Sunday"],
        },
    )
    assert "A weekly recurrence needs at least one day." in html
    assert _checked(html, "when") == ["recurring"]
    assert 'value="2031-05-06T09:30"' in html
    assert _selected(html, "id_timezone") == ["contact_local"]
    assert _selected(html, "id_frequency") == ["weekly"]
    assert 'name="day_of_month" min="1" max="31" value="12"' in html
    assert 'name="until" value="2031-09-01"' in html
    assert _selected(html, "id_window_start_hour") == ["8"]
    assert _selected(html, "id_window_end_hour") == ["20"]
    assert _checked(html, "excluded_days") == ["Sunday"]
    campaign.refresh_from_db()
    assert campaign.recurrence is None and campaign.scheduled_at is None


def test_refused_schedule_keeps_a_cleared_window(client_logged_in, workspace):
    campaign = make_campaign(workspace, make_group(workspace, 1))  # saved window 0-24
    html = _post(
        client_logged_in,
        campaign,
        "schedule",
        {"when": "later", "scheduled_at": "", "timezone": "UTC", "window_start_hour": ""},
    )
    assert "Enter a date and time" in html or "scheduled" in html
    assert _checked(html, "when") == ["later"]
    assert _selected(html, "id_window_start_hour") == []  # "No window", the first
    assert _selected(html, "id_timezone") == ["UTC"]


def test_refused_settings_keep_the_posted_agent_and_sender(client_logged_in, workspace):
    saved_agent = Agent.objects.create(workspace=workspace, name="Saved agent")
    new_agent = Agent.objects.create(workspace=workspace, name="New agent")
    saved_sender = make_sender(workspace, address="+14155550100")
    new_sender = make_sender(workspace, address="+14155550111")
    campaign = make_campaign(
        workspace, make_group(workspace, 1), agent=saved_agent, sender=saved_sender
    )
    html = _post(
        client_logged_in,
        campaign,
        "settings",
        {
            "name": "",  # the bad field
            "agent": new_agent.pk,
            "sender": new_sender.pk,
            "max_retries": "4",
            "retry_interval": "90",
        },
    )
    assert "Give the campaign a name." in html
    assert 'id="id_name" name="name" value=""' in html
    assert _selected(html, "id_agent") == [str(new_agent.pk)]
    assert _selected(html, "id_sender") == [str(new_sender.pk)]
    assert 'name="max_retries" min="0" max="10" value="4"' in html
    assert 'name="retry_interval" min="10" value="90"' in html


def test_refused_message_keeps_what_was_cleared_and_unticked(client_logged_in, workspace):
    campaign = make_campaign(
        workspace,
        make_group(workspace, 1),
        channel="email",
        subject="Saved subject",
        html_template="<p>Saved</p>",
        track_links=True,
    )
    html = _post(
        client_logged_in,
        campaign,
        "message",
        {"subject": "", "message_template": "", "html_template": "<p>New</p>"},
    )
    assert "An email needs a subject." in html
    assert "Saved subject" not in html
    assert 'name="subject" value=""' in html
    assert "Hi {{first_name|there}}" not in html  # the cleared body stays cleared
    assert "&lt;p&gt;New&lt;/p&gt;" in html
    assert 'id="id_track_links" name="track_links" checked' not in html


def test_refused_channel_keeps_the_posted_choice(client_logged_in, workspace):
    campaign = make_campaign(workspace, make_group(workspace, 1))
    html = _post(client_logged_in, campaign, "channel", {"channel": "fax"})
    assert "Channel must be sms, email or voice." in html
    assert _checked(html, "channel") == []


def test_refused_group_step_keeps_nothing_stale(client_logged_in, workspace):
    make_group(workspace, 1)
    response = client_logged_in.post(reverse("campaigns:campaign-new"), {"group": "999999"})
    assert response.status_code == 200
    assert "Not found in this workspace." in response.content.decode()
