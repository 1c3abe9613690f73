from django.contrib import admin

from .models import SmartGroup


@admin.register(SmartGroup)
class SmartGroupAdmin(admin.ModelAdmin):
    list_display = ("name", "match", "workspace", "created_at", "updated_at")
    list_filter = ("match", "workspace")
    search_fields = ("name",)
    raw_id_fields = ("workspace", "created_by")
    readonly_fields = ("created_at", "updated_at")
