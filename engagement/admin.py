from django.contrib import admin

from .models import Click, ClickToCount, Conversion, TrackedLink


@admin.register(TrackedLink)
class TrackedLinkAdmin(admin.ModelAdmin):
    list_display = ("code", "url", "message")
    search_fields = ("=code", "url")
    raw_id_fields = ("message",)
    show_full_result_count = False  # one row per link and recipient: no COUNT(*) of millions


@admin.register(Click)
class ClickAdmin(admin.ModelAdmin):
    list_display = ("clicked_at", "kind", "link", "contact", "campaign", "workspace")
    list_filter = ("kind", "workspace")
    search_fields = ("=link__code", "user_agent")
    raw_id_fields = ("workspace", "link", "message", "campaign", "run", "contact")
    list_select_related = ("workspace", "campaign", "contact")
    show_full_result_count = False


@admin.register(Conversion)
class ConversionAdmin(admin.ModelAdmin):
    list_display = (
        "occurred_at",
        "name",
        "revenue",
        "currency",
        "attributed_to",
        "contact",
        "campaign",
        "workspace",
    )
    list_filter = ("attributed_to", "workspace")
    search_fields = ("name", "idempotency_key")
    raw_id_fields = ("workspace", "contact", "campaign", "run", "message")
    list_select_related = ("workspace", "campaign", "contact")
    readonly_fields = ("request_hash", "created_at")


@admin.register(ClickToCount)
class ClickToCountAdmin(admin.ModelAdmin):
    """The clicks the tick has yet to add to their contacts' counts: read-only (the tick
    empties it every few seconds)."""

    list_display = ("clicked_at", "contact_id")
    show_full_result_count = False

    def has_add_permission(self, request) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False
