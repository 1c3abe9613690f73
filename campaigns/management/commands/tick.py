from django.core.management.base import BaseCommand

from campaigns.tick import tick


class Command(BaseCommand):
    help = "Run one engine tick synchronously, sending included (cron-less set-ups, tests)."

    def handle(self, *args, **options):
        report = tick(send_inline=True)
        if "skipped" in report:
            self.stdout.write(f"Skipped: {report['skipped']}.")
            return
        sent = ", ".join(f"{n} {status}" for status, n in sorted(report["sent"].items()))
        self.stdout.write(
            f"Started {len(report['started'])} run(s); sent: {sent or 'nothing'}; "
            f"completed {len(report['completed'])} run(s)."
        )
