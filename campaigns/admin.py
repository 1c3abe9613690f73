from django.contrib import admin

from .models import Campaign, CampaignRun


class CampaignRunInline(admin.TabularInline):
    model = CampaignRun
    extra = 0
    can_delete = False
    show_change_link = True
    fields = ("occurrence_at", "state", "paused", "total", "skipped", "started_at", "completed_at")
    readonly_fields = fields
    ordering = ("-occurrence_at",)

    def has_add_permission(self, request, obj=None) -> bool:
        return False  # runs are created by the scheduler, never by hand


@admin.register(Campaign)
class CampaignAdmin(admin.ModelAdmin):
    list_display = (
        "name",
        "channel",
        "state",
        "workspace",
        "group",
        "sender",
        "schedule_label",
        "next_run_at",
        "launched_at",
        "created_at",
    )
    list_filter = ("state", "channel", "workspace")
    search_fields = ("name", "message_template", "subject", "workspace__name")
    raw_id_fields = ("workspace", "group", "agent", "sender")
    readonly_fields = ("created_at", "updated_at", "launched_at", "completed_at")
    list_select_related = ("workspace", "group", "sender")
    date_hierarchy = "created_at"
    inlines = [CampaignRunInline]

    @admin.display(description="Schedule")
    def schedule_label(self, obj: Campaign) -> str:
        return obj.schedule_label


@admin.register(CampaignRun)
class CampaignRunAdmin(admin.ModelAdmin):
    list_display = (
        "campaign",
        "occurrence_at",
        "state",
        "paused",
        "total",
        "skipped",
        "workspace",
        "started_at",
        "completed_at",
    )
    list_filter = ("state", "paused", "workspace")
    search_fields = ("campaign__name", "error", "workspace__name")
    raw_id_fields = ("workspace", "campaign")
    readonly_fields = ("created_at", "fanout_cursor")
    list_select_related = ("workspace", "campaign")
    date_hierarchy = "occurrence_at"
