"""django-axes' client address (AXES_CLIENT_IP_CALLABLE): the one rule, core.clientip."""

from django.http import HttpRequest

from core.clientip import client_ip as meta_client_ip


def client_ip(request: HttpRequest) -> str | None:
    return meta_client_ip(request.META) or None
