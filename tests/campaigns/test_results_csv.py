"""The campaign results CSV: contact-supplied text never reaches a spreadsheet as a formula."""

import csv
import io

from django.urls import reverse

from campaigns import tick as engine
from campaigns.lifecycle import campaign_launch
from contacts.models import Contact
from tests.campaigns.helpers import make_campaign, make_group

# Names an attacker would pick: the old rule let through any value whose second character is
# a digit, so the first two came out live (issue 13, item 4).
HOSTILE = ["=2+5+cmd|' /C calc'!A0", "+1+cmd|' /C calc'!A0", "-2+3", "@SUM(A1:A2)", "\t=1"]


def test_campaign_csv_neutralises_formulas_and_keeps_phone_numbers(client_logged_in, workspace):
    group = make_group(workspace, len(HOSTILE))
    contacts = list(Contact.objects.for_workspace(workspace).order_by("pk"))
    for contact, name in zip(contacts, HOSTILE, strict=True):
        contact.first_name = contact.last_name = name
    Contact.objects.bulk_update(contacts, ["first_name", "last_name"])
    campaign = make_campaign(workspace, group)
    campaign_launch(campaign=campaign)
    engine.tick(send_inline=True)

    response = client_logged_in.get(reverse("campaigns:campaign-csv", args=[campaign.pk]))
    text = b"".join(response.streaming_content).decode("utf-8-sig")
    header, *rows = csv.reader(io.StringIO(text, newline=""))
    cells = [dict(zip(header, row, strict=True)) for row in rows]
    assert sorted(c["first_name"] for c in cells) == sorted("'" + name for name in HOSTILE)
    assert all(c["last_name"] == c["first_name"] for c in cells)
    assert sorted(c["to"] for c in cells) == sorted(c.phone for c in contacts)  # E.164 as is
