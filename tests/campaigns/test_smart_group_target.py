"""Campaigns to a smart group (G2): evaluated at each run's fan-out, in the builder, the API,
and refused at launch when nobody matches or the smart group is gone."""

from contextlib import nullcontext
from datetime import timedelta

import pytest
from django.core.exceptions import ValidationError
from django.db import connection, transaction
from django.urls import reverse
from django.utils import timezone

from audiences.services import smart_group_create
from campaigns import fanout
from campaigns import tick as engine
from campaigns.lifecycle import campaign_launch
from campaigns.models import Campaign, CampaignRun
from campaigns.selectors import campaign_results
from campaigns.validation import campaign_validate
from contacts.models import Contact
from messaging.models import Message
from tests.campaigns.helpers import make_campaign, make_group
from tests.messaging.test_outbox import scripted  # noqa: F401 (fixture)

PRO = {"conditions": [{"field": "metadata.plan", "op": "eq", "value": "pro"}]}


def _contacts(workspace, plans: list[str]) -> list[Contact]:
    group = make_group(workspace, len(plans))
    contacts = list(Contact.objects.filter(memberships__group=group).order_by("id"))
    for contact, plan in zip(contacts, plans, strict=True):
        Contact.objects.filter(pk=contact.pk).update(metadata={"plan": plan})
    return contacts


def _smart_campaign(workspace, name="Pro users", **fields):
    smart_group = smart_group_create(workspace=workspace, name=name, definition=PRO)
    return make_campaign(workspace, None, smart_group=smart_group, **fields)


def _recipients(run) -> set[int]:
    return set(Message.objects.filter(run=run).values_list("contact_id", flat=True))


def test_smart_group_is_evaluated_when_each_run_fans_out(workspace, scripted):  # noqa: F811
    free, pro, later = _contacts(workspace, ["free", "pro", "free"])
    campaign = campaign_launch(campaign=_smart_campaign(workspace))
    # Between launch and fan-out: one contact stops matching, another starts.
    Contact.objects.filter(pk=pro.pk).update(metadata={"plan": "free"})
    Contact.objects.filter(pk=later.pk).update(metadata={"plan": "pro"})
    Contact.objects.filter(pk=free.pk).update(metadata={"plan": "pro"})

    engine.tick(send_inline=True)

    run = campaign.runs.get()
    assert _recipients(run) == {free.pk, later.pk}
    assert run.total == 2 and len(scripted.calls) == 2
    # The next run (a recurring campaign's next date) reaches whoever matches then.
    Contact.objects.filter(pk=free.pk).update(metadata={})
    Contact.objects.filter(pk=pro.pk).update(metadata={"plan": "pro"})
    following = CampaignRun.objects.create(
        workspace=workspace, campaign=campaign, occurrence_at=timezone.now() + timedelta(days=1)
    )
    assert fanout.run_fan_out(run_id=following.pk, batch=1) is True
    assert _recipients(following) == {pro.pk, later.pk}


def test_smart_group_fan_out_sees_only_its_workspace(workspace, other_workspace, scripted):  # noqa: F811
    _contacts(other_workspace, ["pro", "pro"])
    mine = _contacts(workspace, ["pro"])
    campaign = campaign_launch(campaign=_smart_campaign(workspace))
    engine.tick(send_inline=True)
    assert _recipients(campaign.runs.get()) == {mine[0].pk}


def test_launch_refuses_a_smart_group_that_matches_nobody(workspace):
    _contacts(workspace, ["free"])
    campaign = _smart_campaign(workspace)
    with pytest.raises(ValidationError, match="“Pro users” matches no contacts"):
        campaign_launch(campaign=campaign)
    assert Campaign.objects.get().state == Campaign.State.DRAFT


def test_deleted_smart_group_keeps_results_refuses_launch_and_fails_the_next_run(
    workspace,
    scripted,  # noqa: F811
):
    _contacts(workspace, ["pro", "pro"])
    campaign = campaign_launch(campaign=_smart_campaign(workspace))
    engine.tick(send_inline=True)
    draft = _smart_campaign(workspace, name="Pro again")
    draft.smart_group.delete()
    campaign.smart_group.delete()
    campaign.refresh_from_db()

    assert campaign.smart_group_id is None
    assert campaign_results(campaign=campaign)["sent"] == 2
    with pytest.raises(ValidationError, match="group or smart group was deleted"):
        campaign_launch(campaign=Campaign.objects.get(pk=draft.pk))
    run = CampaignRun.objects.create(
        workspace=workspace, campaign=campaign, occurrence_at=timezone.now() + timedelta(days=1)
    )
    engine.tick(send_inline=True)
    run.refresh_from_db()
    assert run.state == CampaignRun.State.FAILED and "was deleted" in run.error
    assert Message.objects.filter(run=run).count() == 0


def test_results_before_the_first_run_count_the_matches(workspace):
    _contacts(workspace, ["pro", "free", "pro"])
    assert campaign_results(campaign=_smart_campaign(workspace))["total_contacts"] == 2


def test_a_campaign_targets_a_group_or_a_smart_group_of_its_workspace(workspace, other_workspace):
    group = make_group(workspace, 1)
    mine = smart_group_create(workspace=workspace, name="Pro", definition=PRO)
    theirs = smart_group_create(workspace=other_workspace, name="Pro", definition=PRO)

    def errors(**data):
        return campaign_validate(workspace=workspace, data=data)[1].get("group") or (
            campaign_validate(workspace=workspace, data=data)[1].get("smart_group")
        )

    assert errors(smart_group=mine.pk) is None
    assert errors(smart_group=theirs.pk) == "Not found in this workspace."
    assert errors(group=group.pk, smart_group=mine.pk) == (
        "Choose a contact group or a smart group, not both."
    )
    assert errors() == "Choose a contact group or a smart group."


def test_builder_targets_a_smart_group_and_reviews_its_matches(
    client_logged_in,
    workspace,
    other_workspace,
):
    _contacts(workspace, ["pro", "free", "pro"])
    smart_group = smart_group_create(workspace=workspace, name="Pro <b>users</b>", definition=PRO)
    theirs = smart_group_create(workspace=other_workspace, name="Theirs", definition=PRO)
    new = reverse("campaigns:campaign-new")

    page = client_logged_in.get(new).content.decode()
    assert f'value="smart:{smart_group.pk}"' in page and "Pro &lt;b&gt;users&lt;/b&gt;" in page
    assert "Theirs" not in page
    refused = client_logged_in.post(new, {"group": f"smart:{theirs.pk}"})
    assert refused.status_code == 200 and "Not found in this workspace" in refused.content.decode()
    assert not Campaign.objects.exists()

    response = client_logged_in.post(new, {"group": f"smart:{smart_group.pk}"})
    campaign = Campaign.objects.get()
    assert campaign.smart_group == smart_group and campaign.group is None
    assert response.url == reverse("campaigns:campaign-build", args=[campaign.pk, "channel"])
    Campaign.objects.filter(pk=campaign.pk).update(
        message_template="Hi", window_start_hour=0, window_end_hour=24
    )
    review = client_logged_in.get(reverse("campaigns:campaign-build", args=[campaign.pk, "review"]))
    html = review.content.decode()
    assert "Pro &lt;b&gt;users&lt;/b&gt; (smart group) (2 contacts match now)" in html


def test_api_creates_a_campaign_for_a_smart_group(api_client, workspace, other_workspace):
    _contacts(workspace, ["pro"])
    smart_group = smart_group_create(workspace=workspace, name="Pro", definition=PRO)
    theirs = smart_group_create(workspace=other_workspace, name="Pro", definition=PRO)
    base = {"name": "To pros", "type": "sms", "message_template": "Hi"}

    def post(**extra):
        return api_client.post("/api/v1/campaigns", base | extra, content_type="application/json")

    created = post(smart_group_id=smart_group.pk)
    assert created.status_code == 201, created.json()
    assert created.json()["smart_group_id"] == smart_group.pk
    assert created.json()["contact_group_id"] is None
    refused = post(smart_group_id=theirs.pk)
    assert refused.status_code == 400 and "smart_group_id" in refused.json()["errors"]
    both = post(
        smart_group_id=smart_group.pk, contact_group_id=make_group(workspace, 1, name="Static").pk
    )
    assert both.status_code == 400 and "not both" in str(both.json()["errors"])
    neither = post()
    assert neither.status_code == 400 and "contact_group_id" in neither.json()["errors"]
    assert Campaign.objects.count() == 1
    launched = api_client.post(f"/api/v1/campaigns/{created.json()['id']}/launch")
    assert launched.status_code == 200, launched.json()


def test_the_review_counts_each_reason_once_for_a_group_and_a_smart_group(workspace):
    from campaigns.selectors import group_audience

    opted, no_phone, invalid, *_ = _contacts(workspace, ["pro"] * 5)
    Contact.objects.filter(pk=opted.pk).update(status="opted_out", opt_out_reason="manual")
    Contact.objects.filter(pk=no_phone.pk).update(phone="")
    Contact.objects.filter(pk=invalid.pk).update(is_valid=False)
    group = Contact.objects.get(pk=opted.pk).memberships.get().group
    for campaign in (make_campaign(workspace, group), _smart_campaign(workspace)):
        audience = group_audience(campaign=campaign)
        counts = [audience[k] for k in ("total", "opted_out", "no_address", "invalid")]
        assert counts == [5, 1, 1, 1] and audience["sendable"] == 2, campaign


def _plan_of(plan, *, ordered: bool) -> str:
    with transaction.atomic():
        reading = fanout.in_id_order(plan) if ordered else nullcontext()
        with reading, connection.cursor() as cursor:
            sql, params = fanout._members(plan, 0, 10).query.sql_with_params()
            cursor.execute("EXPLAIN " + sql, params)
            return "\n".join(line for (line,) in cursor.fetchall())


@pytest.mark.skipif(connection.vendor != "postgresql", reason="the plan is PostgreSQL's")
def test_fan_out_reads_a_smart_groups_batches_in_id_order_without_sorting_them(workspace):
    """Sorting each batch's matches made the planner read every contact after the cursor for
    each batch (it guesses a custom-field condition matches 0.5%): a million contacts' fan-out
    grew with the square of its size. The batch walks the primary key from the cursor."""
    _contacts(workspace, ["pro", "free"] * 20)
    campaign = campaign_launch(campaign=_smart_campaign(workspace))
    run = CampaignRun.objects.create(
        workspace=workspace, campaign=campaign, occurrence_at=timezone.now()
    )
    plan = fanout._plan(run)
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE contacts_contact")

    by_itself = _plan_of(plan, ordered=False)
    ordered = _plan_of(plan, ordered=True)

    assert "Sort" in by_itself  # what the planner chooses without the setting
    assert "contacts_contact_pkey" in ordered and "Sort" not in ordered
    assert "Gather" not in ordered  # no parallel workers to start for one batch
    with connection.cursor() as cursor:  # the settings end with the batch's read
        cursor.execute("SHOW enable_sort")
        assert cursor.fetchone()[0] == "on"
        cursor.execute("SHOW max_parallel_workers_per_gather")
        assert cursor.fetchone()[0] != "0"
