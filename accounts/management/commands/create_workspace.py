from django.contrib.auth import get_user_model
from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError

from accounts.services import workspace_create


class Command(BaseCommand):
    help = "Create a workspace, optionally with an existing user as its owner."

    def add_arguments(self, parser):
        parser.add_argument("slug")
        parser.add_argument("--name", default="")
        parser.add_argument("--owner", help="username of an existing user")

    def handle(self, slug, name, owner, **options):
        owner_user = None
        if owner:
            owner_user = get_user_model().objects.filter(username=owner).first()
            if owner_user is None:
                raise CommandError(f"No user named “{owner}”.")
        try:
            workspace = workspace_create(slug=slug, name=name, owner=owner_user)
        except ValidationError as exc:
            raise CommandError("; ".join(exc.messages)) from exc
        self.stdout.write(f"Created workspace {workspace.slug} ({workspace.name}).")
