"""Every API error is JSON (issue 13, item 8), also when no API route answered it."""

import pytest
from django.test import Client


def assert_json_error(response, status: int):
    assert response.status_code == status
    assert response["Content-Type"].startswith("application/json"), response.content[:200]
    body = response.json()
    assert isinstance(body["message"], str) and body["errors"] == {}


@pytest.mark.parametrize(
    "path", ["/api/v1/campaigns/abc", "/api/v1/contacts/1x", "/api/v1/no-such-thing"]
)
def test_unmatched_api_path_is_json_404(api_client, path):
    assert_json_error(api_client.get(path), 404)


def test_non_integer_id_is_json_404_without_a_key_too(db):
    assert_json_error(Client().get("/api/v1/campaigns/abc"), 404)


def test_method_not_allowed_is_json_405(api_client):
    response = api_client.put("/api/v1/campaigns", data={}, content_type="application/json")
    assert_json_error(response, 405)
    assert "GET" in response["Allow"]


def test_unexpected_exception_is_json_500(api_key, monkeypatch):
    import api.campaigns

    def boom(*args, **kwargs):
        raise RuntimeError("unexpected")

    monkeypatch.setattr(api.campaigns.Campaign.objects, "for_workspace", boom)
    client = Client(HTTP_AUTHORIZATION=f"Bearer {api_key}", raise_request_exception=False)
    response = client.get("/api/v1/campaigns")
    assert_json_error(response, 500)
    assert b"unexpected" not in response.content


def test_pages_outside_the_api_keep_html_errors(client_logged_in):
    response = client_logged_in.get("/contacts/no-such-page/")
    assert response.status_code == 404
    assert response["Content-Type"].startswith("text/html")
