from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError

from accounts.models import Workspace
from accounts.services import api_key_create


class Command(BaseCommand):
    help = "Create an API key for a workspace; the key is the last word of the last line."

    def add_arguments(self, parser):
        parser.add_argument("--workspace", required=True, help="workspace slug")
        parser.add_argument("--name", default="Command line")

    def handle(self, workspace, name, **options):
        ws = Workspace.objects.filter(slug=workspace).first()
        if ws is None:
            raise CommandError(f"No workspace with slug “{workspace}”.")
        try:
            key, raw = api_key_create(workspace=ws, name=name)
        except ValidationError as exc:
            raise CommandError("; ".join(exc.messages)) from exc
        self.stdout.write(
            f"Created API key “{key.name}” for {ws.slug}. Store it now, it is not shown again:"
        )
        self.stdout.write(raw)
