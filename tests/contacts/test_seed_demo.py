from django.contrib.auth import get_user_model
from django.core.management import call_command

from accounts.models import Membership, Workspace
from contacts.models import Contact, ContactGroup


def _run(capsys, **options) -> str:
    call_command("seed_demo", **options)
    return capsys.readouterr().out


def test_seed_demo_is_idempotent_and_reprints_the_login(db, settings, tmp_path, capsys):
    settings.VAR_DIR = tmp_path
    first = _run(capsys, url="http://127.0.0.1:9000/")
    workspace = Workspace.objects.get(slug="demo")
    assert workspace.name == "Demo workspace"
    assert 450 <= Contact.objects.for_workspace(workspace).count() <= 550
    assert ContactGroup.objects.for_workspace(workspace).count() == 4
    contacts = Contact.objects.for_workspace(workspace)
    assert contacts.filter(phone__startswith="+1").count() > 300
    assert contacts.exclude(phone__startswith="+1").exclude(phone="").exists()  # international
    assert contacts.filter(status="opted_out").exclude(opt_out_reason="").exists()
    assert contacts.filter(metadata__has_key="appointment_date").exists()
    admin = get_user_model().objects.get(username="admin")
    assert admin.is_superuser
    assert Membership.objects.get(user=admin, workspace=workspace).role == "owner"
    password = (tmp_path / "demo-admin-password.txt").read_text().strip()
    assert admin.check_password(password)
    assert "http://127.0.0.1:9000/" in first and password in first

    again = _run(capsys)
    assert password in again and "already present" in again
    assert Contact.objects.for_workspace(workspace).count() == contacts.count()


def test_seed_demo_replaces_a_password_file_of_another_database(db, settings, tmp_path, capsys):
    settings.VAR_DIR = tmp_path
    _run(capsys)
    (tmp_path / "demo-admin-password.txt").write_text("not-the-password\n")
    out = _run(capsys)
    password = (tmp_path / "demo-admin-password.txt").read_text().strip()
    assert password != "not-the-password" and password in out
    assert get_user_model().objects.get(username="admin").check_password(password)
