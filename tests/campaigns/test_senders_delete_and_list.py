"""Senders can be deleted unless a campaign still sends from them; the campaign list's
filtered empty state says nothing matches (#14 §5)."""

from django.urls import reverse

from accounts.models import Membership
from campaigns.models import Campaign
from messaging.models import Message, Sender
from tests.campaigns.helpers import make_campaign, make_group, make_sender
from tests.factories import WorkspaceFactory


def test_delete_a_sender_keeps_its_messages_and_frees_drafts(client_logged_in, workspace):
    sender = make_sender(workspace)
    draft = make_campaign(workspace, make_group(workspace, 1), sender=sender)
    message = Message.objects.create(
        workspace=workspace, channel="sms", to_address="+14155550199", body="Hi", sender=sender
    )
    response = client_logged_in.post(reverse("campaigns:sender-delete", args=[sender.pk]))
    assert response.status_code == 302
    assert not Sender.objects.exists()
    message.refresh_from_db()
    draft.refresh_from_db()
    assert message.body == "Hi" and message.sender_id is None and draft.sender_id is None


def test_a_sender_a_running_campaign_uses_is_kept_and_named(client_logged_in, workspace):
    sender = make_sender(workspace)
    make_campaign(workspace, make_group(workspace, 1), name="Flash", sender=sender, state="running")
    response = client_logged_in.post(
        reverse("campaigns:sender-delete", args=[sender.pk]), follow=True
    )
    assert "still sends for “Flash” (running)" in response.content.decode()
    assert Sender.objects.filter(pk=sender.pk).exists()


def test_a_member_cannot_delete_a_phone_sender(member_client, workspace):
    sender = make_sender(workspace)
    assert Membership.objects.filter(role=Membership.Role.MEMBER).exists()
    member_client.post(reverse("campaigns:sender-delete", args=[sender.pk]))
    assert Sender.objects.filter(pk=sender.pk).exists()


def test_another_workspaces_sender_is_404(client_logged_in):
    foreign = make_sender(WorkspaceFactory(), address="+14155550177")
    url = reverse("campaigns:sender-delete", args=[foreign.pk])
    assert client_logged_in.post(url).status_code == 404
    assert client_logged_in.get(url).status_code == 405


def test_filtered_campaign_list_says_no_campaigns_match(client_logged_in, workspace):
    make_campaign(workspace, make_group(workspace, 1), state=Campaign.State.DRAFT)
    url = reverse("campaigns:campaign-list")
    html = client_logged_in.get(url, {"state": "running"}).content.decode()
    assert "No campaigns match: none is running." in html and "No campaigns yet" not in html
    empty = client_logged_in.get(url, {"state": "bogus"}).content.decode()
    assert "No campaigns match" not in empty
