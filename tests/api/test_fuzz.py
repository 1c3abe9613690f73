"""Property test: whatever JSON a client sends, the contact endpoints answer 2xx/4xx, never 500."""

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

json_scalars = st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text()
json_values = st.recursive(
    json_scalars,
    lambda children: (
        st.lists(children, max_size=3) | st.dictionaries(st.text(), children, max_size=3)
    ),
    max_leaves=8,
)
field_names = st.sampled_from(
    ["first_name", "last_name", "email", "phone", "company", "timezone", "metadata", "tags",
     "status", "group_ids", "id", "workspace"]
)  # fmt: skip
contact_bodies = st.dictionaries(field_names, json_values, max_size=6)

FUZZ = settings(
    max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)


@FUZZ
@given(body=contact_bodies)
def test_contact_create_never_fails_with_500(api_client, body):
    response = api_client.post("/api/v1/contacts", body, content_type="application/json")

    assert response.status_code in (201, 400, 404, 422), (body, response.content)


@FUZZ
@given(body=contact_bodies)
def test_contact_patch_never_fails_with_500(api_client, contact, body):
    response = api_client.patch(
        f"/api/v1/contacts/{contact.pk}", body, content_type="application/json"
    )

    assert response.status_code in (200, 400, 422), (body, response.content)


@FUZZ
@given(
    items=st.lists(contact_bodies, min_size=1, max_size=4),
    strategy=st.sampled_from(["skip", "update", "create"]),
)
def test_group_batch_never_fails_with_500(api_client, group, items, strategy):
    response = api_client.post(
        f"/api/v1/campaigns/contact-groups/{group.pk}/contacts",
        {"contacts": items, "duplicate_strategy": strategy},
        content_type="application/json",
    )

    assert response.status_code in (200, 422), (items, response.content)
    if response.status_code == 200:
        body = response.json()
        assert body["created"] + body["updated"] + body["duplicates"] + body["invalid"] == len(
            items
        )
