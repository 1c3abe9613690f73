from django.http import HttpRequest
from ninja.security import HttpBearer

from accounts.services import api_key_authenticate


class ApiKeyAuth(HttpBearer):
    """`Authorization: Bearer <key>`; sets request.workspace to the key's workspace (W4)."""

    def authenticate(self, request: HttpRequest, token: str):
        key = api_key_authenticate(token)
        if key is None:
            return None
        request.workspace = key.workspace
        request.api_key = key
        return key
