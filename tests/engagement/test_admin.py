"""Django admin for links, clicks and conversions."""

import pytest
from django.test import Client

from engagement.clicks import PendingClick, clicks_store
from engagement.conversions import conversion_create
from tests.factories import UserFactory

from .factories import TrackedLinkFactory


@pytest.mark.django_db
@pytest.mark.parametrize("model", ["trackedlink", "click", "conversion"])
def test_admin_lists_and_opens_each_model(workspace, model):
    link = TrackedLinkFactory(message__workspace=workspace)
    clicks_store([PendingClick(link.code, link.message_id, link.message.sent_at, "GET", "", "")])
    conversion_create(workspace=workspace, name="<b>sale</b>", identifier={"click_code": link.code})
    client = Client()
    client.force_login(UserFactory(username="root", is_staff=True, is_superuser=True))
    listing = client.get(f"/admin/engagement/{model}/")
    assert listing.status_code == 200
    assert b"<b>sale</b>" not in listing.content
    obj = listing.context["cl"].result_list[0]
    assert client.get(f"/admin/engagement/{model}/{obj.pk}/change/").status_code == 200
