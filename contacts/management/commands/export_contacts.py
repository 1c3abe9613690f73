"""`manage.py export_contacts --workspace SLUG [--group NAME] --output FILE`: the C8 CSV."""

import sys

from django.core.management.base import BaseCommand, CommandError

from accounts.models import Workspace
from contacts.export import export_to_file
from contacts.models import Contact, ContactGroup


class Command(BaseCommand):
    help = "Write a workspace's contacts (or one group's) as the C8 CSV."

    def add_arguments(self, parser):
        parser.add_argument("--workspace", required=True, help="Workspace slug.")
        parser.add_argument("--group", help="Only this group (its name).")
        parser.add_argument("--output", required=True, help="File to write ('-' for stdout).")

    def handle(self, *args, workspace, group, output, **options):
        ws = Workspace.objects.filter(slug=workspace).first()
        if ws is None:
            raise CommandError(f"No workspace with slug “{workspace}”.")
        contacts = Contact.objects.for_workspace(ws)
        if group is not None:
            found = ContactGroup.objects.for_workspace(ws).filter(name=group).first()
            if found is None:
                raise CommandError(f"No group named “{group}” in {ws.slug}.")
            contacts = contacts.filter(memberships__group=found)
        if output == "-":
            count = export_to_file(contacts, sys.stdout, bom=False)
        else:
            with open(output, "w", encoding="utf-8", newline="") as fileobj:
                count = export_to_file(contacts, fileobj, bom=False)
        self.stderr.write(f"Exported {count} contacts to {output}.")
