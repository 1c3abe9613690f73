from django.contrib import admin

from .models import (
    Agent,
    AgentAnswer,
    AgentRule,
    ConsoleAnswer,
    Conversation,
    ConversationMessage,
    VoiceCall,
    VoiceTurn,
)


@admin.register(Agent)
class AgentAdmin(admin.ModelAdmin):
    list_display = ("name", "voice", "max_call_seconds", "workspace", "created_at")
    list_filter = ("workspace",)
    search_fields = ("name", "instructions", "opening_message")
    raw_id_fields = ("workspace",)
    list_select_related = ("workspace",)


@admin.register(AgentRule)
class AgentRuleAdmin(admin.ModelAdmin):
    list_display = ("keyword", "agent", "short_reply", "workspace", "created_at")
    list_filter = ("workspace",)
    search_fields = ("keyword", "reply", "agent__name")
    raw_id_fields = ("workspace", "agent")
    list_select_related = ("workspace", "agent")

    @admin.display(description="Reply")
    def short_reply(self, obj: AgentRule) -> str:
        return obj.reply[:60]


class TurnInline(admin.TabularInline):
    model = ConversationMessage
    fields = ("created_at", "direction", "author", "channel", "body", "message", "inbound", "user")
    readonly_fields = fields
    raw_id_fields = ("message", "inbound", "user")
    extra = 0
    can_delete = False
    show_change_link = False


@admin.register(Conversation)
class ConversationAdmin(admin.ModelAdmin):
    list_display = ("id", "contact", "status", "channel", "agent", "assignee", "unread")
    list_filter = ("status", "channel", "unread", "workspace")
    search_fields = ("contact__phone", "contact__email", "contact__first_name", "preview")
    raw_id_fields = ("workspace", "contact", "agent", "campaign", "sender", "assignee")
    list_select_related = ("contact", "agent", "assignee")
    readonly_fields = ("generation", "waiting_since", "agent_replies", "handoffs")
    date_hierarchy = "last_activity_at"
    inlines = [TurnInline]


@admin.register(ConversationMessage)
class ConversationMessageAdmin(admin.ModelAdmin):
    """Each turn on its own too, to search every thread's words at once."""

    list_display = ("created_at", "conversation", "direction", "author", "channel", "body")
    list_filter = ("direction", "author", "channel", "workspace")
    search_fields = ("body",)
    raw_id_fields = ("workspace", "conversation", "message", "inbound", "user")
    list_select_related = ("conversation",)
    date_hierarchy = "created_at"


@admin.register(AgentAnswer)
class AgentAnswerAdmin(admin.ModelAdmin):
    list_display = ("created_at", "conversation", "agent", "outcome", "total_tokens", "latency_ms")
    list_filter = ("outcome", "workspace")
    search_fields = ("reason", "error")
    raw_id_fields = ("workspace", "conversation", "agent")
    list_select_related = ("agent",)
    date_hierarchy = "created_at"


@admin.register(ConsoleAnswer)
class ConsoleAnswerAdmin(admin.ModelAdmin):
    """What the agents' test consoles spent (read-only: it counts toward the daily budget)."""

    list_display = ("created_at", "agent", "total_tokens", "workspace")
    list_filter = ("workspace",)
    raw_id_fields = ("workspace", "agent")
    list_select_related = ("agent", "workspace")
    date_hierarchy = "created_at"

    def has_add_permission(self, request) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False


class VoiceTurnInline(admin.TabularInline):
    model = VoiceTurn
    extra = 0
    fields = ("number", "speech", "confidence", "reply", "action", "model_ms", "received_at")
    readonly_fields = fields
    can_delete = False


@admin.register(VoiceCall)
class VoiceCallAdmin(admin.ModelAdmin):
    list_display = ("call_sid", "contact", "outcome", "ending", "handoff", "started_at")
    list_filter = ("outcome", "ending", "handoff", "workspace")
    search_fields = ("call_sid", "contact__first_name", "contact__phone")
    raw_id_fields = ("workspace", "campaign", "message", "contact", "agent")
    list_select_related = ("contact",)
    inlines = [VoiceTurnInline]


@admin.register(VoiceTurn)
class VoiceTurnAdmin(admin.ModelAdmin):
    list_display = ("call", "number", "action", "received_at")
    list_filter = ("action",)
    search_fields = ("call__call_sid", "speech", "reply")
    raw_id_fields = ("call",)
