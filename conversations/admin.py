from django.contrib import admin

from .models import Agent, AgentRule


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
