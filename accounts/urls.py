from django.urls import path

from . import views

app_name = "accounts"

urlpatterns = [
    path("switch/", views.workspace_switch, name="workspace-switch"),
    path("settings/", views.workspace_settings, name="workspace-settings"),
    path("settings/api-keys/", views.api_key_new, name="api-key-create"),
    path(
        "settings/inbound-email/secret/",
        views.inbound_email_secret_new,
        name="inbound-email-secret",
    ),
    path(
        "settings/members/<int:membership_id>/remove/",
        views.member_remove,
        name="member-remove",
    ),
    path(
        "settings/api-keys/<int:key_id>/revoke/", views.api_key_revoke_view, name="api-key-revoke"
    ),
]
