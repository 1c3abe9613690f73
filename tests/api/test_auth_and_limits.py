"""A6: 401 for bad keys, bearer only (no session, so no CSRF bypass), 413, 429, OpenAPI."""

import json

import pytest
from django.test import Client

from accounts.services import api_key_create, api_key_revoke
from contacts.models import Contact, ContactGroup

ENDPOINTS = [
    ("get", "/api/v1/contacts"),
    ("post", "/api/v1/contacts"),
    ("delete", "/api/v1/contacts"),
    ("get", "/api/v1/contacts/1"),
    ("patch", "/api/v1/contacts/1"),
    ("get", "/api/v1/campaigns/contact-groups"),
    ("post", "/api/v1/campaigns/contact-groups"),
    ("post", "/api/v1/campaigns/contact-groups/1/contacts"),
    ("get", "/api/v1/campaigns/contact-groups/1/export"),
    ("post", "/api/v1/exports/contacts"),
    ("get", "/api/v1/exports/1/download"),
]


def call(client, method, url, body=None):
    if method == "get":
        return client.get(url)
    return getattr(client, method)(
        url, data=json.dumps(body or {}), content_type="application/json"
    )


@pytest.mark.parametrize(
    "header",
    [None, "Bearer", "Bearer nope", "Bearer hk_not-a-real-key", "Basic dXNlcjpwYXNz", "hk_abc"],
)
@pytest.mark.parametrize(("method", "url"), ENDPOINTS)
def test_missing_or_garbage_key_is_401(db, header, method, url):
    client = Client(HTTP_AUTHORIZATION=header) if header else Client()

    response = call(client, method, url, {"email": "a@example.com", "name": "G"})

    assert response.status_code == 401
    assert response.json()["message"] == "Missing, invalid or revoked API key."
    assert not Contact.objects.exists() and not ContactGroup.objects.exists()


def test_revoked_key_is_401_at_once(workspace):
    key, raw = api_key_create(workspace=workspace, name="soon revoked")
    client = Client(HTTP_AUTHORIZATION=f"Bearer {raw}")
    assert client.get("/api/v1/contacts").status_code == 200

    api_key_revoke(workspace=workspace, key_id=key.pk)

    assert client.get("/api/v1/contacts").status_code == 401


def test_session_login_is_not_an_api_credential(client_logged_in):
    """A browser session cannot call the API, so a cross-site form cannot either (CSRF)."""
    client_logged_in.handler.enforce_csrf_checks = True

    listing = client_logged_in.get("/api/v1/contacts")
    created = call(client_logged_in, "post", "/api/v1/campaigns/contact-groups", {"name": "X"})

    assert listing.status_code == 401
    assert created.status_code == 401
    assert not ContactGroup.objects.exists()


def test_oversized_body_is_413_and_nothing_is_written(api_client, workspace, settings):
    settings.DATA_UPLOAD_MAX_MEMORY_SIZE = 2_000
    contacts = [{"email": f"c{n}@example.com", "first_name": "x" * 50} for n in range(100)]

    response = call(
        api_client,
        "post",
        "/api/v1/campaigns/contact-groups",
        {"name": "A" * 10, "contacts": contacts},
    )

    assert response.status_code == 413
    assert response.json()["message"] == "Request body too large."
    assert not ContactGroup.objects.exists()


def test_body_under_the_limit_is_accepted(api_client, workspace, settings):
    settings.DATA_UPLOAD_MAX_MEMORY_SIZE = 2_000

    assert (
        call(api_client, "post", "/api/v1/campaigns/contact-groups", {"name": "A"}).status_code
        == 201
    )


def test_rate_limit_is_429_with_retry_after_per_key(api_client, workspace, settings):
    settings.HERALD_API_RATE_LIMIT = 3
    _, other_raw = api_key_create(workspace=workspace, name="second key")

    statuses = [api_client.get("/api/v1/contacts").status_code for _ in range(5)]

    assert statuses == [200, 200, 200, 429, 429]
    limited = api_client.get("/api/v1/contacts")
    assert limited.json()["message"] == "Too many requests; slow down."
    assert 1 <= int(limited["Retry-After"]) <= 61
    other = Client(HTTP_AUTHORIZATION=f"Bearer {other_raw}")
    assert other.get("/api/v1/contacts").status_code == 200


def test_rate_limited_writes_are_not_applied(api_client, workspace, settings):
    settings.HERALD_API_RATE_LIMIT = 1
    assert api_client.get("/api/v1/contacts").status_code == 200

    response = call(api_client, "post", "/api/v1/contacts", {"email": "late@example.com"})

    assert response.status_code == 429
    assert not Contact.objects.exists()


def test_rate_limit_zero_means_unlimited(api_client, settings):
    settings.HERALD_API_RATE_LIMIT = 0

    assert {api_client.get("/api/v1/contacts").status_code for _ in range(5)} == {200}


def test_errors_are_json_not_html(api_client, workspace):
    response = api_client.post(
        "/api/v1/contacts", data="{not json", content_type="application/json"
    )

    assert response.status_code in (400, 422)
    assert response["Content-Type"].startswith("application/json")
    assert set(response.json()) == {"message", "errors"}


def test_openapi_schema_loads_and_documents_every_endpoint(client):
    response = client.get("/api/v1/openapi.json")

    assert response.status_code == 200
    schema = response.json()
    paths = schema["paths"]
    expected = {
        "/api/v1/contacts": {"get", "post", "delete"},
        "/api/v1/contacts/{contact_id}": {"get", "put", "patch"},
        "/api/v1/campaigns/contact-groups": {"get", "post"},
        "/api/v1/campaigns/contact-groups/{group_id}": {"get", "patch", "delete"},
        "/api/v1/campaigns/contact-groups/{group_id}/contacts": {"post", "delete"},
        "/api/v1/campaigns/contact-groups/{group_id}/move": {"post"},
        "/api/v1/campaigns/contact-groups/{group_id}/copy": {"post"},
        "/api/v1/campaigns/contact-groups/{group_id}/export": {"get"},
        "/api/v1/exports/contacts": {"post"},
        "/api/v1/exports/{export_id}": {"get"},
        "/api/v1/exports/{export_id}/download": {"get"},
    }
    for path, methods in expected.items():
        assert methods <= set(paths[path]), path
        for method in methods:
            operation = paths[path][method]
            assert operation["security"], (path, method)
            assert {"401", "404", "413", "422", "429"} <= set(operation["responses"]), (
                path,
                method,
            )
    assert schema["components"]["securitySchemes"]["ApiKeyAuth"]["scheme"] == "bearer"
    assert "requestBody" in paths["/api/v1/campaigns/contact-groups/{group_id}/move"]["post"]
    assert "409" in paths["/api/v1/campaigns/contact-groups"]["post"]["responses"]
    assert "HERALD_API_COUNT_CAP" in paths["/api/v1/contacts"]["get"]["description"]
    assert "404" in schema["info"]["description"]
    for path in (
        "/api/v1/campaigns/contact-groups/{group_id}/export",
        "/api/v1/exports/{export_id}/download",
    ):
        assert "text/csv" in paths[path]["get"]["responses"]["200"]["content"]


@pytest.mark.parametrize("body", ["[null, null]", '"text"', "42", "null"])
@pytest.mark.parametrize(
    ("method", "url"),
    [
        ("post", "/api/v1/contacts"),
        ("post", "/api/v1/campaigns/contact-groups"),
        ("post", "/api/v1/exports/contacts"),
        ("delete", "/api/v1/contacts"),
    ],
)
def test_a_body_that_is_not_an_object_is_422(api_client, workspace, body, method, url):
    response = getattr(api_client, method)(url, data=body, content_type="application/json")

    assert response.status_code == 422, response.content
    assert not ContactGroup.objects.exists()


def test_patch_with_a_list_body_changes_nothing(api_client, workspace):
    group = ContactGroup.objects.create(workspace=workspace, name="Keep")

    response = api_client.patch(
        f"/api/v1/campaigns/contact-groups/{group.pk}", data="[1]", content_type="application/json"
    )

    assert response.status_code == 422


@pytest.mark.parametrize(
    "payload",
    [
        {"email": "a@example.com", "first_name": "nul\u0000byte"},
        {"email": "a@example.com", "metadata": {"k": "nul\u0000"}},
        {"email": "a@example.com", "metadata": {"nul\u0000key": 1}},
        {"email": "a@example.com", "tags": ["\u0000"]},
        {"email": "a@example.com", "company": "lone \ud800 surrogate"},
    ],
)
def test_text_postgres_cannot_store_is_422_not_500(api_client, workspace, payload):
    response = call(api_client, "post", "/api/v1/contacts", payload)

    assert response.status_code == 422, response.content
    assert not Contact.objects.exists()


def test_nul_in_group_name_and_search_is_422(api_client, workspace):
    group = call(api_client, "post", "/api/v1/campaigns/contact-groups", {"name": "a\u0000"})
    search = api_client.get("/api/v1/contacts", {"search": "a\u0000b"})

    assert group.status_code == 422 and "name" in group.json()["errors"]
    assert search.status_code == 422 and "search" in search.json()["errors"]


def test_huge_offsets_are_422_not_500(api_client, workspace):
    for url in ("/api/v1/contacts", "/api/v1/campaigns/contact-groups"):
        assert api_client.get(url, {"offset": 10**30}).status_code == 422


def test_api_docs_page_uses_local_static_files_not_a_cdn(client):
    response = client.get("/api/v1/docs")

    assert response.status_code == 200
    html = response.content.decode()
    assert "/static/ninja/swagger-ui-bundle.js" in html
    assert "cdn." not in html
