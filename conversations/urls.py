from django.urls import path

from . import inbox_views, views

app_name = "conversations"

urlpatterns = [
    path("agents/", views.agent_list, name="agent-list"),
    path("agents/new/", views.agent_edit, name="agent-new"),
    path("agents/<int:pk>/", views.agent_edit, name="agent-edit"),
    path("agents/<int:pk>/replies/", views.agent_rules, name="agent-rules"),
    path("agents/<int:pk>/delete/", views.agent_delete, name="agent-delete"),
    path("agents/<int:pk>/console/", views.agent_console, name="agent-console"),
    path(
        "agents/<int:pk>/replies/<int:rule_id>/delete/",
        views.agent_rule_remove,
        name="agent-rule-delete",
    ),
]

urlpatterns += [
    path("", inbox_views.inbox, name="inbox"),
    path("<int:pk>/", inbox_views.conversation_detail, name="conversation-detail"),
    path("<int:pk>/reply/", inbox_views.conversation_reply, name="conversation-reply"),
    path("<int:pk>/counter/", inbox_views.conversation_counter, name="conversation-counter"),
    path("<int:pk>/assign/", inbox_views.conversation_assign, name="conversation-assign"),
    path("<int:pk>/<slug:action>/", inbox_views.conversation_action, name="conversation-action"),
]
