"""Campaign input, step by step: each builder step refuses its own bad values, with the message
a user sees, and lets the later steps stay incomplete (campaigns/validation.py)."""

from datetime import timedelta

import pytest
from django.utils import timezone

from campaigns.validation import campaign_data, campaign_validate, step_errors
from conversations.models import Agent
from messaging.models import Sender
from tests.campaigns.helpers import make_campaign, make_group, make_sender
from tests.factories import ContactGroupFactory, WorkspaceFactory

pytestmark = pytest.mark.django_db

LATER = (timezone.now() + timedelta(days=30)).strftime("%Y-%m-%dT%H:%M")
PAST = "2020-01-01T09:00"

# step → [(what the step posts, the error it shows, or None when it passes)]; the values of
# the other steps are a valid SMS campaign's.
CASES = {
    "group": [
        ({"group": None}, {"group": "Choose a contact group or a smart group."}),
        ({"group": "other"}, {"group": "Not found in this workspace."}),
        ({"group": "not-an-id"}, {"group": "Not found in this workspace."}),
        ({}, None),
    ],
    "channel": [
        ({"channel": "fax"}, {"channel": "Channel must be sms, email or voice."}),
        ({"channel": "email", "subject": "Hi"}, None),
        ({"channel": "voice"}, None),
    ],
    "message": [
        ({"message_template": "  "}, {"message_template": "Write the message."}),
        ({"message_template": "", "html_template": "<p>Hi</p>", "channel": "email"}, "subject"),
        ({"channel": "email", "subject": " "}, {"subject": "An email needs a subject."}),
        (
            {"channel": "voice", "message_template": ""},
            {"message_template": "A call needs an opening message or an agent."},
        ),
        ({"channel": "voice", "message_template": "", "agent": "agent"}, None),
        ({"message_template": "Hi {{first_name|there}}"}, None),
    ],
    "settings": [
        ({"name": "   "}, {"name": "Give the campaign a name."}),
        ({"max_retries": "11"}, {"max_retries": "Must be between 0 and 10."}),
        ({"max_retries": "two"}, {"max_retries": "Must be a whole number."}),
        ({"retry_interval": "5"}, {"retry_interval": "Must be between 10 and 86400."}),
        ({"agent": "other-agent"}, {"agent": "Not found in this workspace."}),
        ({"sender": "email-sender"}, {"sender": "This sender is for Email, not sms."}),
        ({"name": "Spring", "sender": "sms-sender", "agent": "agent"}, None),
    ],
    "schedule": [
        ({"timezone": "Mars/Olympus"}, {"timezone": "Unknown time zone “Mars/Olympus”."}),
        ({"scheduled_at": "tomorrow"}, {"scheduled_at": "Enter a date and time."}),
        ({"scheduled_at": PAST}, {"scheduled_at": "The scheduled time is in the past."}),
        (
            {"recurrence": {"frequency": "daily"}},
            {"scheduled_at": "A recurring campaign needs its first date and time."},
        ),
        ({"window_start_hour": 9, "window_end_hour": 9}, "sending_window"),
        ({"recurrence": {"frequency": "yearly"}, "scheduled_at": LATER}, "recurrence"),
        ({"scheduled_at": LATER, "timezone": "contact_local"}, None),
        ({"scheduled_at": PAST, "recurrence": {"frequency": "daily"}}, None),
    ],
}


@pytest.fixture
def valid(workspace):
    """A valid SMS draft's input, and the objects the cases name."""
    campaign = make_campaign(workspace, make_group(workspace, 1))
    other = WorkspaceFactory()
    names = {
        "other": ContactGroupFactory(workspace=other).pk,
        "agent": Agent.objects.create(workspace=workspace, name="Ava").pk,
        "other-agent": Agent.objects.create(workspace=other, name="Bo").pk,
        "sms-sender": make_sender(workspace).pk,
        "email-sender": Sender.objects.create(
            workspace=workspace, channel="email", address="a@b.co"
        ).pk,
    }
    return campaign_data(campaign), names


@pytest.mark.parametrize(
    ("step", "posted", "expected"),
    [(step, posted, expected) for step, cases in CASES.items() for posted, expected in cases],
)
def test_each_step_shows_its_own_errors(workspace, valid, step, posted, expected):
    data, names = valid
    posted = {
        key: names.get(value, value) if isinstance(value, str) else value
        for key, value in posted.items()
    }
    clean, errors = campaign_validate(workspace=workspace, data=data | posted)
    shown = step_errors(step, errors)
    if expected is None:
        assert shown == {}
    elif isinstance(expected, str):  # the message comes from scheduling; its key is the point
        assert list(shown) == [expected]
    else:
        assert shown == expected


def test_a_step_does_not_show_the_errors_of_later_steps(workspace, valid):
    data, _ = valid
    _, errors = campaign_validate(workspace=workspace, data=data | {"name": "", "timezone": "X"})
    assert step_errors("channel", errors) == {}
    assert set(step_errors("settings", errors)) == {"name"}
    assert set(step_errors("schedule", errors)) == {"timezone"}
