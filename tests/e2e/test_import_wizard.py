"""The whole import wizard in Chromium: upload, map, preview, confirm, progress, summary."""

from pathlib import Path

import pytest
from openpyxl import Workbook
from playwright.sync_api import expect

from contacts.models import Contact, ContactGroup

pytestmark = pytest.mark.e2e

ROWS = [
    ["Full Name", "Mobile", "E-mail", "Appointment Date", "Notes"],
    ["Ada Lovelace", "(415) 555-0132", "ada@example.com", "2026-03-15", "vip"],
    ["Grace Hopper", "+1 212 555 0199", "grace@example.com", "2026-03-16", ""],
    ["Broken Row", "12", "", "", ""],
]


@pytest.fixture
def eager_celery():
    from config.celery import app

    app.conf.task_always_eager = True  # the task runs when the confirm commits
    yield
    app.conf.task_always_eager = False


def _csv_file(tmp_path):
    path = tmp_path / "people.csv"
    path.write_text("\n".join(",".join(row) for row in ROWS) + "\n", encoding="utf-8")
    return path


def _xlsx_file(tmp_path):
    book = Workbook()
    for row in ROWS:
        book.active.append([int(c) if c.isdigit() else c for c in row])
    path = tmp_path / "people.xlsx"
    book.save(path)
    return path


@pytest.mark.parametrize("make_file", [_csv_file, _xlsx_file], ids=["csv", "xlsx"])
def test_import_wizard_end_to_end(logged_in_page, eager_celery, tmp_path, make_file):
    page = logged_in_page
    page.goto(f"{page.base_url}/contacts/")
    page.get_by_role("link", name="Import contacts").first.click()
    expect(page.get_by_role("heading", name="Import contacts")).to_be_visible()
    page.get_by_label("File").set_input_files(str(make_file(tmp_path)))
    page.get_by_role("button", name="Continue").click()

    expect(page.get_by_role("heading", name="Map columns")).to_be_visible()
    expect(page.get_by_label("Import “Mobile” as")).to_have_value("phone")
    expect(page.get_by_label("Import “Full Name” as")).to_have_value("full_name")
    expect(page.get_by_label("Import “Appointment Date” as")).to_have_value("metadata")
    page.get_by_label("Import “Notes” as").select_option("")
    page.get_by_role("button", name="Preview").click()

    expect(page.get_by_role("heading", name="Preview and confirm")).to_be_visible()
    table = page.locator(".preview-table")
    expect(table).to_contain_text("Lovelace")
    expect(table).to_contain_text("+14155550132")
    expect(table).to_contain_text("“12” is not a valid phone number")
    page.get_by_label("New group name").fill("Spring clinic")
    page.get_by_label("Update the existing contact").check()
    page.get_by_role("button", name="Start import").click()

    expect(page.get_by_text("Import complete")).to_be_visible()
    expect(page.locator("#count-created")).to_have_text("2")
    expect(page.locator("#count-invalid")).to_have_text("1")
    page.reload()  # the summary survives a reload
    expect(page.locator("#count-created")).to_have_text("2")
    with page.expect_download() as download:
        page.get_by_role("link", name="Download skipped rows (CSV)").click()
    text = Path(download.value.path()).read_text(encoding="utf-8-sig")
    assert text.splitlines()[0] == "Full Name,Mobile,E-mail,Appointment Date,Notes,error"
    assert "Broken Row" in text

    group = ContactGroup.objects.get(name="Spring clinic")
    ada = Contact.objects.get(email="ada@example.com")
    assert group.memberships.count() == 2
    assert ada.metadata == {"appointment_date": "2026-03-15"}  # Notes was ignored
    assert (ada.first_name, ada.last_name, ada.phone) == ("Ada", "Lovelace", "+14155550132")


def test_upload_page_waits_for_the_worker_then_moves_on(logged_in_page, uploads_held, tmp_path):
    # #13: the upload returns before the file is read; the page says so and polls.
    from contacts.importing import import_job_read

    page = logged_in_page
    page.goto(f"{page.base_url}/contacts/import/")
    page.get_by_label("File").set_input_files(str(_csv_file(tmp_path)))
    page.get_by_role("button", name="Continue").click()
    expect(page.get_by_role("heading", name="Reading the file…")).to_be_visible()
    expect(page.locator("#import-reading-status")).to_have_text("Inspecting people.csv…")
    assert len(uploads_held) == 1
    import_job_read(job_id=uploads_held[0])  # the worker
    expect(page.get_by_role("heading", name="Map columns")).to_be_visible()
    expect(page.get_by_label("Import “Mobile” as")).to_have_value("phone")
    # the header row is an option: the file is read again, and the page waits again
    page.get_by_label("First row").select_option("0")
    expect(page.locator("#import-reading-status")).to_be_visible()
    import_job_read(job_id=uploads_held[-1])
    expect(page.get_by_label("Import “Column 2” as")).to_be_visible()


def test_headerless_paste_and_the_default_country_rerun_the_preview(logged_in_page):
    # #14: a paste without a header row is read as data (and the page says so); choosing
    # another default country redraws the preview with numbers read for that country.
    page = logged_in_page
    page.goto(f"{page.base_url}/contacts/import/")
    page.get_by_label("…or paste rows").fill("Ada Lovelace,07911 123456,ada@example.com\n")
    page.get_by_role("button", name="Continue").click()
    expect(page.locator("#header-guessed")).to_contain_text("read as a contact")
    expect(page.get_by_label("Import “Column 2” as")).to_have_value("phone")
    expect(page.get_by_label("Import “Column 3” as")).to_have_value("email")
    page.get_by_role("button", name="Preview").click()
    table = page.locator("#preview-rows")
    expect(table).to_contain_text("is not a valid phone number")  # read as a US number
    page.get_by_label("Find a country").fill("united kingdom")
    expect(table).to_contain_text("+447911123456")
    expect(table).not_to_contain_text("is not a valid phone number")
