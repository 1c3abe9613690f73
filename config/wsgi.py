import os

from django.core.wsgi import get_wsgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
django_application = get_wsgi_application()

from messaging.fastpath import StatusCallbackFastPath  # noqa: E402 (needs Django set up)

application = StatusCallbackFastPath(django_application)
