from django.contrib import admin

from .models import (
    Contact,
    ContactEvent,
    ContactGroup,
    ExportJob,
    GroupMembership,
    ImportJob,
    ImportRowError,
    Tag,
)


class MembershipInline(admin.TabularInline):
    model = GroupMembership
    extra = 0
    raw_id_fields = ("group",)
    fields = ("group", "source", "created_at")


@admin.register(Contact)
class ContactAdmin(admin.ModelAdmin):
    list_display = (
        "__str__",
        "phone",
        "email",
        "company",
        "status",
        "opt_out_reason",
        "workspace",
        "created_at",
    )
    list_filter = ("status", "opt_out_reason", "is_valid", "line_type", "workspace")
    search_fields = ("first_name", "last_name", "email", "phone", "company")
    raw_id_fields = ("workspace", "tags")
    readonly_fields = ("created_at", "updated_at")
    inlines = [MembershipInline]
    show_full_result_count = False  # no second COUNT(*) over a million rows
    list_select_related = ("workspace",)


@admin.register(ContactGroup)
class ContactGroupAdmin(admin.ModelAdmin):
    list_display = ("name", "workspace", "created_at")
    list_filter = ("workspace",)
    search_fields = ("name", "description")
    raw_id_fields = ("workspace",)


@admin.register(GroupMembership)
class GroupMembershipAdmin(admin.ModelAdmin):
    list_display = ("contact", "group", "source", "created_at")
    list_filter = ("source",)
    search_fields = ("contact__email", "contact__phone", "group__name")
    raw_id_fields = ("contact", "group")
    list_select_related = ("contact", "group")
    show_full_result_count = False


@admin.register(Tag)
class TagAdmin(admin.ModelAdmin):
    list_display = ("name", "workspace")
    list_filter = ("workspace",)
    search_fields = ("name",)
    raw_id_fields = ("workspace",)


@admin.register(ContactEvent)
class ContactEventAdmin(admin.ModelAdmin):
    list_display = ("contact", "kind", "reason", "detail", "actor", "created_at")
    list_filter = ("kind", "reason")
    search_fields = ("contact__email", "contact__phone", "detail")
    raw_id_fields = ("workspace", "contact", "actor")
    list_select_related = ("contact", "actor")
    show_full_result_count = False


class ImportRowErrorInline(admin.TabularInline):
    model = ImportRowError
    extra = 0
    readonly_fields = ("row_number", "values", "error")
    can_delete = False


@admin.register(ImportJob)
class ImportJobAdmin(admin.ModelAdmin):
    list_display = (
        "__str__",
        "workspace",
        "status",
        "total_rows",
        "created",
        "updated",
        "duplicates",
        "invalid",
        "created_at",
    )
    list_filter = ("status", "format", "duplicate_strategy")
    search_fields = ("original_filename", "error_message")
    raw_id_fields = ("workspace", "created_by", "group")
    inlines = [ImportRowErrorInline]


@admin.register(ImportRowError)
class ImportRowErrorAdmin(admin.ModelAdmin):
    list_display = ("job", "row_number", "error")
    search_fields = ("error",)
    raw_id_fields = ("job",)


@admin.register(ExportJob)
class ExportJobAdmin(admin.ModelAdmin):
    list_display = ("__str__", "workspace", "status", "row_count", "created_at", "finished_at")
    list_filter = ("status",)
    search_fields = ("error_message",)
    raw_id_fields = ("workspace", "created_by")
    readonly_fields = ("file",)
