from django.urls import path

from . import member_views, views

app_name = "accounts"

urlpatterns = [
    path("settings/members/", member_views.member_list, name="member-list"),
    path("settings/members/invite/", member_views.member_invite, name="member-invite"),
    path(
        "settings/members/<int:membership_id>/role/", member_views.member_role, name="member-role"
    ),
    path(
        "settings/invitations/<int:invitation_id>/resend/",
        member_views.invitation_resend,
        name="invitation-resend",
    ),
    path(
        "settings/invitations/<int:invitation_id>/revoke/",
        member_views.invitation_revoke,
        name="invitation-revoke",
    ),
    path("invitations/<str:token>/", member_views.invitation_accept, name="invitation-accept"),
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
