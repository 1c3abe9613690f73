from django import forms
from django.contrib import admin

from .models import (
    PHONE_CHANNELS,
    DailySendCount,
    InboundMessage,
    Message,
    PhoneNumber,
    Sender,
    SenderPace,
)
from .senders import phone_number_claim, sender_clean


class SenderAdminForm(forms.ModelForm):
    """The dashboard's rules in the admin too: a number another workspace holds is refused,
    and with Twilio only the account's own numbers are claimed."""

    class Meta:
        model = Sender
        fields = ("workspace", "channel", "address", "name", "rate_limit_per_second")

    def clean(self):
        data = super().clean()
        workspace = data.get("workspace")
        if workspace is None or self.errors:
            return data
        instance = self.instance if self.instance.pk else None
        cleaned = sender_clean(workspace=workspace, data=data, instance=instance)
        self.claim = None
        if cleaned["channel"] in PHONE_CHANNELS:
            self.claim = phone_number_claim(
                workspace=workspace, number=cleaned["address"], channel=cleaned["channel"]
            )
        data.update(cleaned)
        self.old_claim = self.instance.claim_id
        self.instance.claim = self.claim
        return data


@admin.register(PhoneNumber)
class PhoneNumberAdmin(admin.ModelAdmin):
    """Claims: which workspace owns each number. Deleting one releases the number (and
    deletes its senders); claims are made by adding a sender."""

    list_display = ("number", "workspace", "claimed_by", "created_at")
    list_filter = ("workspace",)
    search_fields = ("number",)
    list_select_related = ("workspace", "claimed_by")
    readonly_fields = ("workspace", "number", "key", "claimed_by", "created_at")

    def has_add_permission(self, request) -> bool:
        return False


@admin.register(Sender)
class SenderAdmin(admin.ModelAdmin):
    form = SenderAdminForm
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

    def save_model(self, request, obj, form, change):
        obj.save()
        if form.old_claim and form.old_claim != obj.claim_id:
            PhoneNumber.objects.filter(key=form.old_claim, senders__isnull=True).delete()


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


@admin.register(DailySendCount)
class DailySendCountAdmin(admin.ModelAdmin):
    """Messages each workspace handed to a provider per day (the daily send limit's count)."""

    list_display = ("day", "workspace", "sent")
    list_filter = ("workspace",)
    date_hierarchy = "day"
    list_select_related = ("workspace",)


@admin.register(SenderPace)
class SenderPaceAdmin(admin.ModelAdmin):
    """When each sender may next send (its rate, or a provider's back-off): read only, the
    send loop writes it; deleting a row lets the sender send at once."""

    list_display = ("sender", "next_at")
    readonly_fields = ("sender", "next_at")

    def has_add_permission(self, request):
        return False
