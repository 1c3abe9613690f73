"""Sender identities (K3, M1): the workspace's phone numbers and email From addresses.

A phone number belongs to one workspace (`PhoneNumber`, a claim the database checks): the
first workspace to make it an SMS or voice sender claims it, and every other workspace is
refused. When the channel sends through Twilio, a number is claimed only if it is one of the
Twilio account's own numbers (IncomingPhoneNumbers). Who may add or change a phone sender
(owners and admins in the dashboard) is the caller's rule; see `can_manage_numbers`.
"""

import logging

import requests
from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.validators import validate_email
from django.db import IntegrityError, transaction
from twilio.base.exceptions import TwilioException

from accounts.models import Workspace
from contacts.phones import InvalidPhone, normalize_phone

from .models import PHONE_CHANNELS, PhoneNumber, Sender
from .twilio_client import twilio_account_has_number

logger = logging.getLogger("herald.senders")

NUMBER_TAKEN = (
    "This number belongs to another Herald workspace: a phone number can be a sender of one "
    "workspace only."
)
NUMBER_NOT_IN_ACCOUNT = (
    "This number is not one of your Twilio account's phone numbers (Twilio > Phone Numbers)."
)
NUMBER_UNCHECKED = "Could not check this number with Twilio just now; try again in a minute."
# Messages per second a new sender gets when none is given: a long code sends one SMS
# segment a second (Twilio), calls go one a second; an SMTP server takes many emails a second.
DEFAULT_RATE = {"sms": 1.0, "voice": 1.0, "email": 10.0}
MANAGERS_ONLY = "Only owners and admins can add or change phone-number senders."


def can_manage_numbers(*, membership, sender: Sender | None, data: dict) -> bool:
    """Owners and admins assign phone numbers; a member may add and edit email senders only."""
    if membership is not None and membership.is_manager:
        return True
    touches_number = data.get("channel") in PHONE_CHANNELS
    return not touches_number and (sender is None or sender.channel not in PHONE_CHANNELS)


def sender_clean(*, workspace: Workspace, data: dict, instance: Sender | None = None) -> dict:
    errors: dict[str, str] = {}
    channel = data.get("channel") or (instance.channel if instance else "")
    if channel not in Sender.Channel.values:
        errors["channel"] = "Channel must be sms, voice or email."
    address = (data.get("address") or "").strip()
    if channel == "email" and len(address) > 254:  # validate_email takes up to 320
        errors["address"] = "An email address has at most 254 characters."
    elif channel == "email":
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
    raw_rate = data.get("rate_limit_per_second")
    if raw_rate in (None, ""):  # not given: the sender's, else the channel's default
        raw_rate = instance.rate_limit_per_second if instance else DEFAULT_RATE.get(channel, 1.0)
    try:
        rate = float(raw_rate or 0)
        if not 0 <= rate <= 1000:
            errors["rate_limit_per_second"] = "Between 0 (no limit) and 1000 per second."
    except (TypeError, ValueError):
        errors["rate_limit_per_second"] = "Must be a number."
        rate = 1.0
    name = (data.get("name") or "").strip()
    if "\x00" in name or "\x00" in address:
        errors["name" if "\x00" in name else "address"] = "Contains a NUL character."
    if not errors:
        clash = Sender.objects.for_workspace(workspace).filter(channel=channel, address=address)
        if instance is not None:
            clash = clash.exclude(pk=instance.pk)
        if clash.exists():
            errors["address"] = "This workspace already has that sender."
    if not errors and channel in PHONE_CHANNELS:
        owner = PhoneNumber.objects.filter(number=address).values_list("workspace", flat=True)
        if owner and owner[0] != workspace.pk:
            errors["address"] = NUMBER_TAKEN
    if errors:
        raise ValidationError(errors)
    return {
        "channel": channel,
        "address": address,
        "name": (data.get("name") or "").strip()[:120],
        "rate_limit_per_second": rate,
    }


def _uses_twilio(channel: str) -> bool:
    backend = settings.HERALD_SMS_BACKEND if channel == "sms" else settings.HERALD_VOICE_BACKEND
    return backend == "twilio"


def phone_number_claim(*, workspace: Workspace, number: str, channel: str, user=None):
    """The workspace's claim on `number`, made now if no workspace holds it.

    ValidationError (on "address") when another workspace holds it, or when the channel sends
    through Twilio and the number is not the Twilio account's (or Twilio cannot be asked).
    """
    claim = PhoneNumber.objects.filter(number=number).first()
    if claim is None:
        if _uses_twilio(channel):
            try:
                owned = twilio_account_has_number(number)
            except (TwilioException, requests.RequestException) as exc:
                logger.warning("Twilio number check for %s failed: %s", number, exc)
                raise ValidationError({"address": NUMBER_UNCHECKED}) from exc
            if not owned:
                raise ValidationError({"address": NUMBER_NOT_IN_ACCOUNT})
        try:
            with transaction.atomic():
                return PhoneNumber.objects.create(
                    workspace=workspace,
                    number=number,
                    key=f"{workspace.pk}:{number}",
                    claimed_by=user if getattr(user, "pk", None) else None,
                )
        except IntegrityError:  # another workspace claimed it at the same moment
            claim = PhoneNumber.objects.filter(number=number).first()
    if claim is None or claim.workspace_id != workspace.pk:
        raise ValidationError({"address": NUMBER_TAKEN})
    return claim


def _release_unused(claim_key: str | None) -> None:
    if claim_key:
        PhoneNumber.objects.filter(key=claim_key, senders__isnull=True).delete()


def sender_create(*, workspace: Workspace, data: dict, user=None) -> Sender:
    cleaned = sender_clean(workspace=workspace, data=data)
    claim = None
    if cleaned["channel"] in PHONE_CHANNELS:
        claim = phone_number_claim(
            workspace=workspace, number=cleaned["address"], channel=cleaned["channel"], user=user
        )
    try:
        with transaction.atomic():
            return Sender.objects.create(workspace=workspace, claim=claim, **cleaned)
    except IntegrityError as exc:  # the same sender added twice at once
        raise ValidationError({"address": "This workspace already has that sender."}) from exc


def sender_update(*, sender: Sender, data: dict, user=None) -> Sender:
    cleaned = sender_clean(workspace=sender.workspace, data=data, instance=sender)
    old_claim = sender.claim_id
    claim = None
    if cleaned["channel"] in PHONE_CHANNELS:
        claim = phone_number_claim(
            workspace=sender.workspace,
            number=cleaned["address"],
            channel=cleaned["channel"],
            user=user,
        )
    for key, value in cleaned.items():
        setattr(sender, key, value)
    sender.claim = claim
    try:
        with transaction.atomic():
            sender.save()
    except IntegrityError as exc:
        raise ValidationError({"address": "This workspace already has that sender."}) from exc
    if old_claim != sender.claim_id:
        _release_unused(old_claim)
    return sender


def sender_delete(*, sender: Sender) -> None:
    """Delete a sender; its sent messages keep their text and lose the link to it. A phone
    number stays the workspace's (its claim is kept, so replies to what it sent still reach
    this workspace)."""
    sender.delete()
