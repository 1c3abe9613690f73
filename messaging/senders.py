"""Sender identities (K3, M1): the workspace's phone numbers and email From addresses."""

from django.core.exceptions import ValidationError
from django.core.validators import validate_email

from accounts.models import Workspace
from contacts.phones import InvalidPhone, normalize_phone

from .models import Sender


def sender_clean(*, workspace: Workspace, data: dict, instance: Sender | None = None) -> dict:
    errors: dict[str, str] = {}
    channel = data.get("channel") or (instance.channel if instance else "")
    if channel not in Sender.Channel.values:
        errors["channel"] = "Channel must be sms, voice or email."
    address = (data.get("address") or "").strip()
    if channel == "email":
        try:
            validate_email(address)
            address = address.lower()
        except ValidationError:
            errors["address"] = "Enter a valid email address."
    elif channel:
        try:
            address = normalize_phone(address, workspace.default_region)
        except InvalidPhone as exc:
            errors["address"] = str(exc)
    try:
        rate = float(data.get("rate_limit_per_second", 1.0) or 0)
        if not 0 <= rate <= 1000:
            errors["rate_limit_per_second"] = "Between 0 (no limit) and 1000 per second."
    except (TypeError, ValueError):
        errors["rate_limit_per_second"] = "Must be a number."
        rate = 1.0
    if not errors:
        clash = Sender.objects.for_workspace(workspace).filter(channel=channel, address=address)
        if instance is not None:
            clash = clash.exclude(pk=instance.pk)
        if clash.exists():
            errors["address"] = "This workspace already has that sender."
    if errors:
        raise ValidationError(errors)
    return {
        "channel": channel,
        "address": address,
        "name": (data.get("name") or "").strip()[:120],
        "rate_limit_per_second": rate,
    }


def sender_create(*, workspace: Workspace, data: dict) -> Sender:
    return Sender.objects.create(
        workspace=workspace, **sender_clean(workspace=workspace, data=data)
    )


def sender_update(*, sender: Sender, data: dict) -> Sender:
    for key, value in sender_clean(workspace=sender.workspace, data=data, instance=sender).items():
        setattr(sender, key, value)
    sender.save()
    return sender
