"""A phone number belongs to one workspace: claims, and every SMS/voice sender points at one.

Existing senders get their workspace's claim. A number that is a sender of several workspaces
cannot be migrated silently (one of them would lose its sender and its inbound messages): the
migration stops and names them; remove the wrong senders with the previous version, then
migrate again.
"""

from django.db import migrations


def claim_existing_numbers(apps, schema_editor):
    Sender = apps.get_model("messaging", "Sender")
    PhoneNumber = apps.get_model("messaging", "PhoneNumber")
    owners: dict[str, set[int]] = {}
    for number, workspace_id in Sender.objects.filter(channel__in=["sms", "voice"]).values_list(
        "address", "workspace_id"
    ):
        owners.setdefault(number, set()).add(workspace_id)
    shared = {number: sorted(ids) for number, ids in owners.items() if len(ids) > 1}
    if shared:
        listed = "; ".join(
            f"{n} (workspaces {', '.join(map(str, ids))})" for n, ids in shared.items()
        )
        raise RuntimeError(
            "These phone numbers are senders of more than one workspace; a number may belong "
            f"to one workspace only. Delete the senders that are not the number's owner: {listed}"
        )
    for number, (workspace_id,) in owners.items():
        key = f"{workspace_id}:{number}"
        PhoneNumber.objects.create(workspace_id=workspace_id, number=number, key=key)
        Sender.objects.filter(channel__in=["sms", "voice"], address=number).update(claim_id=key)


class Migration(migrations.Migration):
    dependencies = [("messaging", "0010_phone_number_claims")]

    operations = [
        migrations.RunPython(claim_existing_numbers, migrations.RunPython.noop),
    ]
