from django.urls import path

from . import views, webhooks

app_name = "messaging"

urlpatterns = [
    path("webhooks/twilio/status", webhooks.twilio_status, name="twilio-status"),
    path("webhooks/twilio/inbound", webhooks.twilio_inbound, name="twilio-inbound"),
    path(
        "webhooks/email/inbound/<int:workspace_id>",
        webhooks.email_inbound,
        name="email-inbound",
    ),
    path("unsubscribe/<str:token>/", views.unsubscribe, name="unsubscribe"),
    path(
        "messaging/contacts/<int:contact_id>/activity/",
        views.contact_activity,
        name="contact-activity",
    ),
]
