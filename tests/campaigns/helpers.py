"""Builders shared by the campaign and outbox tests."""

from datetime import datetime

from campaigns.models import Campaign
from contacts.models import Contact, ContactGroup, GroupMembership
from messaging.models import Sender


def make_group(workspace, n: int = 3, *, name: str = "Customers", **contact_fields) -> ContactGroup:
    """A group of n contacts with valid US numbers and emails, in Los Angeles."""
    group = ContactGroup.objects.create(workspace=workspace, name=name)
    contacts = Contact.objects.bulk_create(
        Contact(
            workspace=workspace,
            first_name=f"Ann{i}",
            last_name="Lee",
            email=f"ann{i}.{group.id}@example.com",
            phone=f"+1415555{i % 10000:04d}",
            timezone=contact_fields.get("timezone", "America/Los_Angeles"),
        )
        for i in range(n)
    )
    GroupMembership.objects.bulk_create(GroupMembership(group=group, contact=c) for c in contacts)
    return group


def make_campaign(workspace, group, **fields) -> Campaign:
    defaults = {
        "name": "Spring sale",
        "channel": "sms",
        "message_template": "Hi {{first_name|there}}, 20% off today.",
        "timezone": "America/New_York",
        # Any time of day, so tests do not depend on the hour they run at.
        "window_start_hour": 0,
        "window_end_hour": 24,
    }
    defaults.update(fields)
    return Campaign.objects.create(workspace=workspace, group=group, **defaults)


def make_sender(workspace, *, channel="sms", address="+14155550100", rate=0.0) -> Sender:
    from tests.messaging.factories import claim_for

    return Sender.objects.create(
        workspace=workspace,
        channel=channel,
        address=address,
        rate_limit_per_second=rate,
        claim=claim_for(workspace, channel, address),
    )


def wall(*args) -> datetime:
    return datetime(*args)  # noqa: DTZ001 (a naive local wall time on purpose)
