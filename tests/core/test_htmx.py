"""core.htmx through a real page: the contacts list and its table fragment."""

import pytest

from tests.factories import ContactFactory

TABLE = {"HTTP_HX_REQUEST": "true", "HTTP_HX_TARGET": "contact-table"}


@pytest.fixture
def page(client_logged_in, workspace):
    ContactFactory(workspace=workspace, first_name="Ada")

    def get(**headers):
        response = client_logged_in.get("/contacts/", **headers)
        assert response.status_code == 200
        assert response["Vary"].replace(" ", "").split(",").count("HX-Request") == 1
        return response.content.decode()

    return get


def test_plain_request_gets_the_whole_page(page):
    assert "<html" in page()


def test_htmx_request_aimed_at_a_fragment_gets_only_it(page):
    html = page(**TABLE)
    assert "<html" not in html and 'id="contact-table"' in html and "Ada" in html


@pytest.mark.parametrize(
    "headers",
    [
        {"HTTP_HX_BOOSTED": "true"},
        {"HTTP_HX_HISTORY_RESTORE_REQUEST": "true"},
        {"HTTP_HX_TARGET": "main"},  # the group select swaps the whole of <main>
        {"HTTP_HX_TARGET": ""},
    ],
)
def test_boosted_history_and_other_targets_get_the_whole_page(page, headers):
    assert "<html" in page(**{**TABLE, **headers})
