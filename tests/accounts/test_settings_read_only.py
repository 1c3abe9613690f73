"""A member reads the workspace settings without inputs that could never be saved (#14 §5)."""

from django.urls import reverse


def test_member_reads_settings_without_dead_inputs(member_client, workspace):
    workspace.timezone = "Europe/Berlin"
    workspace.save()
    html = member_client.get(reverse("accounts:workspace-settings")).content.decode()
    general = html[html.index('id="general-heading"') : html.index('id="attribution-heading"')]
    assert "<input" not in general and "<select" not in general and "Save settings" not in general
    assert 'id="settings-read"' in general and workspace.name in general
    assert "Berlin" in general
    assert "Only owners and admins can change these settings." in general


def test_owner_still_edits_settings(client_logged_in):
    html = client_logged_in.get(reverse("accounts:workspace-settings")).content.decode()
    general = html[html.index('id="general-heading"') : html.index('id="attribution-heading"')]
    assert 'name="name"' in general and "Save settings" in general
    assert 'id="settings-read"' not in general
