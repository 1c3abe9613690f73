"""`manage.py seed_demo [--url URL]`: a demo workspace with ~500 realistic contacts.

Idempotent: the workspace, the admin login and the contacts are created once; later runs
re-print the login (its generated password is kept under var/).
"""

import random
import secrets
import unicodedata
from datetime import timedelta

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand
from django.db import transaction
from django.utils.timezone import now
from faker import Faker

from accounts.models import Membership, Workspace
from contacts.models import Contact, ContactEvent, ContactGroup, GroupMembership, Tag
from contacts.phones import InvalidPhone, normalize_phone, phone_info

SLUG = "demo"
USERNAME = "admin"
CONTACTS = 500
GROUPS = {
    "Customers": "Paying customers, for renewal and product news.",
    "Newsletter": "Signed up for the monthly newsletter.",
    "Webinar leads": "Registered for the spring webinar.",
    "Appointments": "Booked an appointment: reminders go to this group.",
}
US_AREA_CODES = ["212", "312", "415", "512", "617", "206", "303", "404", "305", "702", "213"]
INTERNATIONAL = [("fr_FR", "+336{:08d}"), ("de_DE", "+49151{:08d}"), ("en_AU", "+614{:08d}")]
OPT_OUT_REASONS = ["message", "manual", "unsubscribed", "bad_response", "complaint"]


def password_file():
    return settings.VAR_DIR / "demo-admin-password.txt"


class Command(BaseCommand):
    help = "Create the demo workspace, an admin login and ~500 demo contacts (safe to re-run)."

    def add_arguments(self, parser):
        parser.add_argument("--url", default="http://127.0.0.1:8000/", help="Printed at the end.")

    def handle(self, *args, url, **options):
        workspace, _ = Workspace.objects.get_or_create(
            slug=SLUG, defaults={"name": "Demo workspace"}
        )
        user, password = self._admin()
        Membership.objects.get_or_create(
            user=user, workspace=workspace, defaults={"role": Membership.Role.OWNER}
        )
        if Contact.objects.for_workspace(workspace).exists():
            self.stdout.write("Demo data already present: left as it is.")
        else:
            count = seed_contacts(workspace)
            self.stdout.write(f"Created {count} demo contacts in {len(GROUPS)} groups.")
        self.stdout.write(
            self.style.SUCCESS(
                "\nHerald is ready.\n"
                f"  Open:     {url}\n"
                f"  Username: {USERNAME}\n"
                f"  Password: {password}\n"
                f"  (saved in {password_file()})\n"
            )
        )

    def _admin(self):
        User = get_user_model()
        path = password_file()
        user = User.objects.filter(username=USERNAME).first()
        if user is not None and path.exists():
            saved = path.read_text().strip()
            if user.check_password(saved):  # else var/ belongs to another database
                return user, saved
        password = secrets.token_urlsafe(12)
        if user is None:
            user = User.objects.create_superuser(USERNAME, "admin@example.com", password)
        else:  # the saved password was lost or is not this user's: set a new one
            user.set_password(password)
            user.save(update_fields=["password"])
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(password + "\n")
        path.chmod(0o600)
        return user, password


def _phone(rng: random.Random, index: int) -> str:
    if index % 25 == 0:
        _, pattern = INTERNATIONAL[index // 25 % len(INTERNATIONAL)]
        raw = pattern.format(rng.randrange(10_000_000, 99_999_999))
    else:
        raw = f"+1{rng.choice(US_AREA_CODES)}{rng.randrange(200, 999)}{rng.randrange(0, 9999):04d}"
    return normalize_phone(raw, "US")


@transaction.atomic
def seed_contacts(workspace: Workspace, count: int = CONTACTS, seed: int = 2026) -> int:
    rng = random.Random(seed)
    fake = Faker(["en_US", "en_US", "en_GB", "es_MX", "fr_FR", "de_DE"])
    fake.seed_instance(seed)
    groups = [
        ContactGroup.objects.get_or_create(
            workspace=workspace, name=name, defaults={"description": d}
        )[0]
        for name, d in GROUPS.items()
    ]
    tags = [
        Tag.objects.get_or_create(workspace=workspace, name=n)[0]
        for n in ("vip", "trial", "partner")
    ]
    contacts, seen = [], set()
    start = now() - timedelta(days=120)
    while len(contacts) < count:
        i = len(contacts)
        first, last = fake.first_name(), fake.last_name()
        try:
            phone = _phone(rng, i) if i % 9 else ""
        except InvalidPhone:
            continue
        local = unicodedata.normalize("NFKD", f"{first}.{last}").encode("ascii", "ignore")
        local = "".join(ch for ch in local.decode().lower() if ch.isalnum() or ch in ".-_")
        email = f"{local}{rng.randrange(1, 99)}@{fake.free_email_domain()}"
        if i % 13 == 0 and phone:
            email = ""
        if (phone and phone in seen) or (email and email in seen):
            continue
        seen.update({phone, email} - {""})
        info = phone_info(phone) if phone else None
        contact = Contact(
            workspace=workspace,
            first_name=first,
            last_name=last,
            email=email,
            phone=phone,
            company=fake.company() if rng.random() < 0.7 else "",
            timezone=(info.timezone if info else "") or "America/New_York",
            carrier=info.carrier if info else "",
            line_type=info.line_type if info else "",
            metadata=_metadata(rng, fake),
            created_at=start + timedelta(minutes=rng.randrange(0, 120 * 24 * 60)),
        )
        if rng.random() < 0.04:
            contact.status = Contact.Status.OPTED_OUT
            contact.opt_out_reason = rng.choice(OPT_OUT_REASONS)
            later = contact.created_at + timedelta(days=rng.randrange(1, 30))
            contact.opted_out_at = min(later, now() - timedelta(hours=1))
        contacts.append(contact)
    Contact.objects.bulk_create(contacts, batch_size=500)
    memberships, tag_links, events = [], [], []
    through = Contact.tags.through
    for contact in contacts:
        for group in rng.sample(groups, rng.choice([1, 1, 2, 2, 3])):
            source = rng.choice(["import", "import", "manual", "api"])
            memberships.append(GroupMembership(group=group, contact=contact, source=source))
        if rng.random() < 0.25:
            tag_links.append(through(contact_id=contact.pk, tag_id=rng.choice(tags).pk))
        events.append(_event(workspace, contact, ContactEvent.Kind.CREATED, contact.created_at))
        if contact.is_opted_out:
            events.append(
                _event(workspace, contact, ContactEvent.Kind.OPTED_OUT, contact.opted_out_at)
            )
    GroupMembership.objects.bulk_create(memberships, batch_size=1000)
    through.objects.bulk_create(tag_links, batch_size=1000)
    ContactEvent.objects.bulk_create(events, batch_size=1000)
    return len(contacts)


def _event(workspace, contact, kind, when):
    reason = contact.opt_out_reason if kind == ContactEvent.Kind.OPTED_OUT else ""
    detail = "demo data" if kind == ContactEvent.Kind.CREATED else ""
    return ContactEvent(
        workspace=workspace,
        contact=contact,
        kind=kind,
        reason=reason,
        detail=detail,
        created_at=when,
    )


def _metadata(rng: random.Random, fake: Faker) -> dict:
    metadata = {"plan": rng.choice(["free", "starter", "pro", "enterprise"])}
    if rng.random() < 0.5:
        day = now().date() + timedelta(days=rng.randrange(1, 60))
        metadata["appointment_date"] = day.isoformat()
    if rng.random() < 0.6:
        metadata["city"] = fake.city()
    return metadata
