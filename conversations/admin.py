from django.contrib import admin

from .models import Agent, AgentRule, VoiceCall, VoiceTurn


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
