"""Twilio's voice webhooks for conversing calls (V6), under /webhooks/twilio/ like messaging's
(the body limit and the proxy's location apply to them too)."""

from django.urls import path

from . import voice_views

app_name = "voice"

urlpatterns = [
    path("webhooks/twilio/voice/answer", voice_views.voice_answer_view, name="answer"),
    path("webhooks/twilio/voice/turn", voice_views.voice_turn_view, name="turn"),
    path("webhooks/twilio/voice/status", voice_views.voice_status_view, name="status"),
    path("webhooks/twilio/voice/machine", voice_views.voice_machine_view, name="machine"),
]
