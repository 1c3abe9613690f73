"""Conversions (E3): reported through the API, attributed to a message, counted on the contact.

Attribution, in the conversion's own time (`occurred_at`):
1. with a click code (the landing page's `?hc=`): that link's last counted click within the
   workspace's click window (default 5 days);
2. else the contact's last counted click within the click window;
3. else the contact's last message delivered within the delivered window (default 24 hours);
   email over SMTP is never reported delivered, so for it, accepted by the mail server;
4. else none: the conversion still counts on the contact.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import Decimal, InvalidOperation

from django.core.exceptions import ObjectDoesNotExist, ValidationError
from django.db import IntegrityError, transaction
from django.db.models import F, Q, Value
from django.db.models.functions import Coalesce, Greatest
from django.utils import timezone

from accounts.models import Workspace
from contacts.models import Contact
from contacts.phones import InvalidPhone, normalize_phone
from contacts.services import clean_email
from core.money import minor_units
from messaging.models import Message

from .codes import is_code
from .models import Click, Conversion, TrackedLink

MAX_REVENUE = Decimal(1_000_000_000)  # more than a billion for one conversion is a mistake
FUTURE_LEEWAY = timedelta(minutes=5)  # the reporting server's clock may run a little ahead
IDENTIFIERS = ("contact_id", "phone", "email", "click_code")


class TargetNotFound(ObjectDoesNotExist):
    """No contact (or link) in this workspace for the identifier given."""

    def __init__(self, field: str, value):
        self.field, self.value = field, value
        super().__init__(f"No {field.replace('_', ' ')} {value} in this workspace.")


class IdempotencyConflict(Exception):
    """The idempotency key was used before, for a different conversion."""


@dataclass(frozen=True)
class Attribution:
    to: str  # Conversion.AttributedTo
    message_id: int | None = None
    campaign_id: int | None = None
    run_id: int | None = None


def conversion_create(
    *,
    workspace: Workspace,
    name: str,
    identifier: dict,
    revenue: Decimal | None = None,
    currency: str = "",
    occurred_at: datetime | None = None,
    idempotency_key: str = "",
) -> tuple[Conversion, bool]:
    """Record a conversion; returns it and whether it is new.

    `identifier` holds exactly one of contact_id, phone, email, click_code. A key used
    before returns that first conversion and changes nothing (IdempotencyConflict if the
    data differ). Invalid input is a ValidationError naming the fields, nothing written.
    """
    cleaned = _clean(workspace, name, identifier, revenue, currency, occurred_at)
    key = idempotency_key.strip()
    if len(key) > 255:
        raise ValidationError({"idempotency_key": "At most 255 characters."})
    fingerprint = _fingerprint(cleaned, given_time=occurred_at is not None)
    if key and (first := _by_key(workspace, key)) is not None:
        return _replayed(first, fingerprint), False
    contact, link = _target(workspace, cleaned["field"], cleaned["value"])
    attribution = _attribute(workspace, contact, link, cleaned["occurred_at"])
    try:
        with transaction.atomic():
            conversion = Conversion.objects.create(
                workspace=workspace,
                contact=contact,
                name=cleaned["name"],
                revenue=cleaned["revenue"],
                currency=cleaned["currency"],
                occurred_at=cleaned["occurred_at"],
                idempotency_key=key,
                request_hash=fingerprint,
                attributed_to=attribution.to,
                campaign_id=attribution.campaign_id,
                run_id=attribution.run_id,
                message_id=attribution.message_id,
            )
            _count_on_contact(contact, conversion)
    except IntegrityError:  # the same key, sent twice at once: the other request won
        if key and (first := _by_key(workspace, key)) is not None:
            return _replayed(first, fingerprint), False
        raise
    return conversion, True


def _clean(workspace, name, identifier, revenue, currency, occurred_at) -> dict:
    errors: dict[str, str] = {}
    given = {f: v for f, v in identifier.items() if f in IDENTIFIERS and v not in (None, "")}
    if len(given) != 1:
        errors["__all__"] = "Give exactly one of contact_id, phone, email or click_code."
    field, value = next(iter(given.items())) if len(given) == 1 else ("", "")
    try:
        value = _identifier(workspace, field, value)
    except ValidationError as exc:
        errors[field] = exc.messages[0]
    name = (name or "").strip()
    if not name or len(name) > 100:
        errors["name"] = "Give the conversion a name of 1 to 100 characters, e.g. “purchase”."
    code = (currency or workspace.currency).strip().upper()
    try:
        revenue = _revenue(revenue, code)
    except ValidationError as exc:
        errors.setdefault("currency" if exc.code == "currency" else "revenue", exc.messages[0])
    at = occurred_at or timezone.now()
    if timezone.is_naive(at):
        at = at.replace(tzinfo=UTC)  # documented: a time without offset is UTC
    if at > timezone.now() + FUTURE_LEEWAY:
        errors["occurred_at"] = "A conversion cannot happen in the future."
    if code != workspace.currency and "currency" not in errors:
        errors["currency"] = (
            f"This workspace reports revenue in {workspace.currency}: send the amount in "
            f"{workspace.currency} (Herald converts no currencies)."
        )
    if errors:
        raise ValidationError(errors)
    return {
        "field": field,
        "value": value,
        "name": name,
        "revenue": revenue,
        "currency": code,
        "occurred_at": at,
    }


def _identifier(workspace: Workspace, field: str, value):
    if field == "phone":
        try:
            return normalize_phone(str(value), workspace.default_region)
        except InvalidPhone as exc:
            raise ValidationError(str(exc)) from None
    if field == "email":
        return clean_email(str(value))
    return value


def _revenue(value: Decimal | None, code: str) -> Decimal:
    exponent = minor_units(code)
    if exponent is None:  # not a currency, or a unit without minor units (gold, test codes)
        raise ValidationError(f"“{code}” is not an ISO 4217 currency code.", code="currency")
    try:
        revenue = Decimal(0) if value is None else Decimal(value)
    except (InvalidOperation, TypeError, ValueError):
        raise ValidationError("Revenue must be a number.") from None
    if not revenue.is_finite():
        raise ValidationError("Revenue must be a number.")
    if revenue < 0:
        raise ValidationError("Revenue cannot be negative (report refunds in your own system).")
    if revenue > MAX_REVENUE:
        raise ValidationError(f"Revenue over {MAX_REVENUE:,} for one conversion is refused.")
    if revenue != revenue.quantize(Decimal(1).scaleb(-exponent)):
        raise ValidationError(f"{code} amounts have at most {exponent} decimal places.")
    return revenue.quantize(Decimal(1).scaleb(-exponent))


def _fingerprint(cleaned: dict, *, given_time: bool) -> str:
    """What makes two requests "the same conversion" (a default time is not part of it)."""
    parts = [cleaned["field"], str(cleaned["value"]), cleaned["name"], str(cleaned["revenue"])]
    parts += [cleaned["currency"], cleaned["occurred_at"].isoformat() if given_time else ""]
    return hashlib.sha256(json.dumps(parts).encode()).hexdigest()


def _by_key(workspace: Workspace, key: str) -> Conversion | None:
    return Conversion.objects.for_workspace(workspace).filter(idempotency_key=key).first()


def _replayed(first: Conversion, fingerprint: str) -> Conversion:
    if first.request_hash != fingerprint:
        raise IdempotencyConflict(
            "This idempotency key was already used for a different conversion."
        )
    return first


def _target(workspace: Workspace, field: str, value) -> tuple[Contact, TrackedLink | None]:
    contacts = Contact.objects.for_workspace(workspace)
    if field == "click_code":
        link = (
            TrackedLink.objects.filter(code=value, message__workspace=workspace)
            .select_related("message__contact")
            .first()
            if isinstance(value, str) and is_code(value)
            else None
        )
        if link is None or link.message.contact is None:
            raise TargetNotFound(field, value)
        return link.message.contact, link
    lookup = {"contact_id": "pk", "phone": "phone", "email": "email"}[field]
    contact = contacts.filter(**{lookup: value}).order_by("pk").first()
    if contact is None:
        raise TargetNotFound(field, value)
    return contact, None


def _attribute(
    workspace: Workspace, contact: Contact, link: TrackedLink | None, at: datetime
) -> Attribution:
    since = at - timedelta(days=workspace.click_window_days)
    clicks = Click.objects.for_workspace(workspace).filter(
        contact=contact, kind=Click.Kind.HUMAN, clicked_at__gt=since, clicked_at__lte=at
    )
    click = None
    if link is not None:
        click = clicks.filter(link=link).order_by("-clicked_at").first()
    click = click or clicks.order_by("-clicked_at").first()
    if click is not None:
        return Attribution(
            Conversion.AttributedTo.CLICK, click.message_id, click.campaign_id, click.run_id
        )
    since = at - timedelta(hours=workspace.delivered_window_hours)
    reached = Coalesce("delivered_at", "sent_at")
    message = (
        Message.objects.for_workspace(workspace)
        .filter(contact=contact)
        .filter(
            Q(status__in=[Message.Status.DELIVERED, Message.Status.READ])
            | Q(channel="email", status=Message.Status.SENT)
        )
        .alias(reached=reached)
        .filter(reached__gt=since, reached__lte=at)
        .order_by("-reached", "-id")
        .first()
    )
    if message is not None:
        return Attribution(
            Conversion.AttributedTo.DELIVERED, message.pk, message.campaign_id, message.run_id
        )
    return Attribution(Conversion.AttributedTo.NONE)


def _count_on_contact(contact: Contact, conversion: Conversion) -> None:
    fields = {"conversion_count": F("conversion_count") + 1}
    if conversion.revenue > 0:
        at = Value(conversion.occurred_at)
        fields["revenue_total"] = F("revenue_total") + conversion.revenue
        fields["last_revenue_at"] = Greatest(Coalesce("last_revenue_at", at), at)
    Contact.objects.filter(pk=contact.pk).update(**fields)
