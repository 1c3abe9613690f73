import os

from django.core.wsgi import get_wsgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
django_application = get_wsgi_application()

from config.guard import RequestBodyGuard  # noqa: E402 (needs Django set up)
from conversations.fastpath import VoiceWebhookFastPath  # noqa: E402
from engagement.fastpath import LinkRedirectFastPath  # noqa: E402
from messaging.fastpath import StatusCallbackFastPath  # noqa: E402

# The body-size guard first: nothing, the fast paths included, reads an oversized body. Then
# the hot public paths, before Django: tracked link redirects, Twilio status callbacks, and
# an AI call's answer and turns (the contact waits in silence for each).
application = RequestBodyGuard(
    LinkRedirectFastPath(StatusCallbackFastPath(VoiceWebhookFastPath(django_application)))
)
