# Existing replies get their conversation (V1): every contact who ever wrote in gets one, with
# their inbound messages and the messages sent to them as turns, in time order. A thread whose
# last word is the contact's, unanswered, waits for a person (`human`, unread); an opted-out
# contact's thread is closed. Contacts who never replied get a conversation when they do.

from django.db import migrations

BATCH = 500


def forwards(apps, schema_editor):
    Inbound = apps.get_model("messaging", "InboundMessage")
    Message = apps.get_model("messaging", "Message")
    Contact = apps.get_model("contacts", "Contact")
    Conversation = apps.get_model("conversations", "Conversation")
    Turn = apps.get_model("conversations", "ConversationMessage")
    contact_ids = (
        Inbound.objects.filter(contact__isnull=False)
        .values_list("contact_id", flat=True)
        .distinct()
        .order_by("contact_id")
    )
    ids = list(contact_ids)
    for start in range(0, len(ids), BATCH):
        for contact in Contact.objects.filter(id__in=ids[start : start + BATCH]):
            _link(contact, Inbound, Message, Conversation, Turn)


def _link(contact, Inbound, Message, Conversation, Turn):
    if Conversation.objects.filter(workspace_id=contact.workspace_id, contact=contact).exists():
        return
    turns = []
    for inbound in Inbound.objects.filter(contact=contact):
        turns.append(
            Turn(
                workspace_id=contact.workspace_id,
                direction="in",
                author="contact",
                channel="sms",
                body=inbound.body,
                inbound=inbound,
                created_at=inbound.received_at,
            )
        )
    for message in Message.objects.filter(contact=contact).exclude(status="skipped"):
        turns.append(
            Turn(
                workspace_id=contact.workspace_id,
                direction="out",
                author="campaign" if message.campaign_id else "agent",
                channel=message.channel,
                body=message.body,
                message=message,
                created_at=message.sent_at or message.created_at,
            )
        )
    if not turns:
        return
    turns.sort(key=lambda t: t.created_at)
    last = turns[-1]
    waiting = last.direction == "in" and last.inbound.action == ""
    campaign_id = next(
        (t.message.campaign_id for t in reversed(turns) if t.message_id and t.message.campaign_id),
        None,
    )
    sender_id = next((t.inbound.sender_id for t in reversed(turns) if t.inbound_id), None)
    if contact.status == "opted_out":
        status = "closed"
    else:
        status = "human" if waiting else "agent"
    conversation = Conversation.objects.create(
        workspace_id=contact.workspace_id,
        contact=contact,
        channel="sms",
        status=status,
        campaign_id=campaign_id,
        sender_id=sender_id,
        unread=waiting,
        handoff_reason="A reply from before conversations existed." if status == "human" else "",
        last_activity_at=last.created_at,
        last_inbound_at=max(t.created_at for t in turns if t.direction == "in"),
        preview=last.body[:160],
        created_at=turns[0].created_at,
    )
    for turn in turns:
        turn.conversation = conversation
    Turn.objects.bulk_create(turns)


class Migration(migrations.Migration):
    dependencies = [("conversations", "0003_conversations_and_agent_fields")]

    operations = [migrations.RunPython(forwards, migrations.RunPython.noop)]
