"""Twilio error codes that say something about the contact, and what Herald does about them.

* 21211 (invalid 'To' number), 21614 (not a mobile number): opted out, `invalid_contact`.
* 21610 (the number replied STOP to this sender at Twilio): opted out, `message`; never retried.
* 30003-30006 (unreachable, unknown destination, landline or unreachable carrier): one is no
  verdict, but HERALD_BAD_RESPONSE_THRESHOLD (default 3) finished messages in a row to the
  contact failing with these opts the contact out with `bad_response`.
"""

from django.conf import settings

from contacts.models import Contact
from contacts.services import contact_opt_out

INVALID_NUMBER_CODES = frozenset({21211, 21614})
OPTED_OUT_CODE = 21610
CARRIER_FAILURE_CODES = frozenset({30003, 30004, 30005, 30006})


def contact_reason_for_error(code: int) -> str | None:
    """The opt-out reason a single error with this code implies, if any."""
    if code == OPTED_OUT_CODE:
        return Contact.OptOutReason.MESSAGE
    if code in INVALID_NUMBER_CODES:
        return Contact.OptOutReason.INVALID_CONTACT
    return None


def contact_apply_error(
    *, contact_id: int | None, code: int, repeated_carrier_failure=None
) -> bool:
    """Opt the contact out when the error says they cannot or will not receive messages.

    `repeated_carrier_failure` is a callable telling whether the carrier failures reached the
    threshold (only asked for 30003-30006). Returns whether the contact was opted out.
    """
    if contact_id is None:
        return False
    contact = Contact.objects.filter(pk=contact_id).first()
    if contact is None or contact.is_opted_out:
        return False
    reason = contact_reason_for_error(code)
    detail = f"Twilio error {code}"
    carrier = reason is None and code in CARRIER_FAILURE_CODES and repeated_carrier_failure
    if carrier and repeated_carrier_failure():
        reason = Contact.OptOutReason.BAD_RESPONSE
        detail = f"Carrier rejected the last {settings.HERALD_BAD_RESPONSE_THRESHOLD} messages"
    if reason is None:
        return False
    return contact_opt_out(contact=contact, reason=reason, detail=detail)
