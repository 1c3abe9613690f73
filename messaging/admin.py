from django.contrib import admin

from .models import InboundMessage, Message, Sender


@admin.register(Sender)
class SenderAdmin(admin.ModelAdmin):
    list_display = (
        "address",
        "name",
        "channel",
        "rate_limit_per_second",
        "workspace",
        "created_at",
    )
    list_filter = ("channel", "workspace")
    search_fields = ("address", "name")
    list_select_related = ("workspace",)


@admin.register(Message)
class MessageAdmin(admin.ModelAdmin):
    list_display = (
        "id",
        "channel",
        "to_address",
        "status",
        "skip_reason",
        "campaign",
        "attempts",
        "error_code",
        "sent_at",
        "workspace",
    )
    list_filter = ("status", "channel", "skip_reason", "workspace")
    search_fields = ("to_address", "provider_message_id", "body")
    raw_id_fields = ("workspace", "run", "campaign", "contact", "sender")
    readonly_fields = ("created_at", "updated_at", "lease_expires_at")
    list_select_related = ("workspace", "campaign")
    show_full_result_count = False  # the outbox is big: no second COUNT(*)


@admin.register(InboundMessage)
class InboundMessageAdmin(admin.ModelAdmin):
    list_display = (
        "from_address",
        "to_address",
        "short_body",
        "action",
        "received_at",
        "workspace",
    )
    list_filter = ("action", "workspace")
    search_fields = ("from_address", "to_address", "body", "provider_message_id")
    raw_id_fields = ("workspace", "contact", "sender", "in_reply_to")
    list_select_related = ("workspace",)
    show_full_result_count = False

    @admin.display(description="Body")
    def short_body(self, obj: InboundMessage) -> str:
        return obj.body[:60]
