"""Signed unsubscribe links for email (M6).

The token names the workspace and the contact and is signed with SECRET_KEY, so it cannot be
guessed or edited; it never expires (an unsubscribe link in an old email must still work).
"""

from django.conf import settings
from django.core import signing
from django.urls import reverse

from accounts.models import Workspace
from contacts.models import Contact
from contacts.services import contact_opt_out

_SALT = "herald.messaging.unsubscribe"


def unsubscribe_token(*, workspace_id: int, contact_id: int) -> str:
    return signing.dumps([workspace_id, contact_id], salt=_SALT, compress=True)


def unsubscribe_url(*, workspace_id: int, contact_id: int) -> str:
    """Absolute, under PUBLIC_BASE_URL: it is opened from a mail client, not from our pages."""
    token = unsubscribe_token(workspace_id=workspace_id, contact_id=contact_id)
    return settings.PUBLIC_BASE_URL + reverse("messaging:unsubscribe", args=[token])


# The contact id in a test email's link: it unsubscribes nobody and says so.
TEST_CONTACT_ID = 0


def unsubscribe_test_workspace(token: str):
    """The workspace of a test email's unsubscribe link, else None."""
    try:
        workspace_id, contact_id = signing.loads(token, salt=_SALT)
    except (signing.BadSignature, ValueError, TypeError):
        return None
    if contact_id != TEST_CONTACT_ID or not isinstance(workspace_id, int):
        return None
    return Workspace.objects.filter(pk=workspace_id).first()


def unsubscribe_contact(token: str) -> Contact | None:
    """The contact a token names, or None when it was tampered with or the contact is gone."""
    try:
        workspace_id, contact_id = signing.loads(token, salt=_SALT)
    except (signing.BadSignature, ValueError, TypeError):
        return None
    if not isinstance(workspace_id, int) or not isinstance(contact_id, int):
        return None
    return Contact.objects.filter(workspace_id=workspace_id, pk=contact_id).first()


def contact_unsubscribe(*, contact: Contact, detail: str) -> bool:
    """Opt the contact out with reason `unsubscribed`; False when already opted out."""
    return contact_opt_out(contact=contact, reason=Contact.OptOutReason.UNSUBSCRIBED, detail=detail)
