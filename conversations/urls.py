from django.urls import path

from . import views

app_name = "conversations"

urlpatterns = [
    path("agents/", views.agent_list, name="agent-list"),
    path("agents/new/", views.agent_edit, name="agent-new"),
    path("agents/<int:pk>/", views.agent_edit, name="agent-edit"),
    path("agents/<int:pk>/replies/", views.agent_rules, name="agent-rules"),
    path(
        "agents/<int:pk>/replies/<int:rule_id>/delete/",
        views.agent_rule_remove,
        name="agent-rule-delete",
    ),
]
