from django.contrib import admin

from .models import ApiKey, Invitation, Membership, Workspace


class MembershipInline(admin.TabularInline):
    model = Membership
    extra = 0
    raw_id_fields = ["user"]


@admin.register(Workspace)
class WorkspaceAdmin(admin.ModelAdmin):
    list_display = [
        "name",
        "slug",
        "default_region",
        "timezone",
        "members_can_delete",
        "created_at",
    ]
    list_filter = ["default_region", "members_can_delete"]
    search_fields = ["name", "slug"]
    prepopulated_fields = {"slug": ["name"]}
    inlines = [MembershipInline]


@admin.register(Membership)
class MembershipAdmin(admin.ModelAdmin):
    list_display = ["user", "workspace", "role", "created_at"]
    list_filter = ["role", "workspace"]
    search_fields = ["user__username", "user__email", "workspace__name"]
    raw_id_fields = ["user"]


@admin.register(ApiKey)
class ApiKeyAdmin(admin.ModelAdmin):
    list_display = [
        "name",
        "workspace",
        "prefix",
        "created_by",
        "created_at",
        "last_used_at",
        "revoked_at",
    ]
    list_filter = ["workspace", "revoked_at"]
    search_fields = ["name", "prefix", "workspace__name", "created_by__username"]
    readonly_fields = ["prefix", "key_hash", "created_by", "created_at", "last_used_at"]
    list_select_related = ["workspace", "created_by"]


@admin.register(Invitation)
class InvitationAdmin(admin.ModelAdmin):
    """Read-only: invitations are made, re-sent and revoked on the members page (the link's
    secret exists only in the email)."""

    list_display = ["email", "workspace", "role", "invited_by", "sent_at", "expires_at"]
    list_filter = ["workspace", "role"]
    search_fields = ["email", "workspace__name"]
    list_select_related = ["workspace", "invited_by"]

    def has_add_permission(self, request) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False
