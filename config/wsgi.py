import os

from django.core.wsgi import get_wsgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
django_application = get_wsgi_application()

from config.guard import RequestBodyGuard  # noqa: E402 (needs Django set up)
from messaging.fastpath import StatusCallbackFastPath  # noqa: E402

# The body-size guard first: nothing, the fast path included, reads an oversized body.
application = RequestBodyGuard(StatusCallbackFastPath(django_application))
