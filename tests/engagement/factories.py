import factory
from django.utils import timezone

from campaigns.models import Campaign, CampaignRun
from engagement.codes import new_codes
from engagement.models import TrackedLink
from tests.factories import WorkspaceFactory
from tests.messaging.factories import MessageFactory


class CampaignFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Campaign

    workspace = factory.SubFactory(WorkspaceFactory)
    name = factory.Sequence(lambda n: f"Campaign {n}")
    channel = "sms"
    message_template = "Hi {{first_name}}, see https://shop.example.com/sale"
    state = Campaign.State.RUNNING


class RunFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = CampaignRun

    campaign = factory.SubFactory(CampaignFactory)
    workspace = factory.SelfAttribute("campaign.workspace")
    occurrence_at = factory.LazyFunction(timezone.now)
    state = CampaignRun.State.RUNNING


class CampaignMessageFactory(MessageFactory):
    """A delivered SMS of a campaign run."""

    run = factory.SubFactory(RunFactory, campaign__workspace=factory.SelfAttribute("...workspace"))
    campaign = factory.SelfAttribute("run.campaign")
    status = "delivered"
    delivered_at = factory.LazyFunction(timezone.now)


class TrackedLinkFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = TrackedLink

    code = factory.LazyFunction(lambda: new_codes(1)[0])
    message = factory.SubFactory(CampaignMessageFactory)
    url = "https://shop.example.com/sale?utm_source=herald"
