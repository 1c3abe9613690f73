from django.http import HttpRequest
from ninja.security import HttpBearer

from accounts.services import api_key_authenticate

from .ratelimit import api_rate_limit_hit


class ApiKeyAuth(HttpBearer):
    """`Authorization: Bearer <key>`; sets request.workspace to the key's workspace (W4).

    Bearer only: a logged-in browser session is not a credential here, so the API needs no
    CSRF token and a cross-site form cannot call it. Each authenticated request counts
    against the key's per-minute limit (HERALD_API_RATE_LIMIT), 429 past it.
    """

    openapi_description = "An API key created in the dashboard (Workspace > API keys)."

    def authenticate(self, request: HttpRequest, token: str):
        key = api_key_authenticate(token)
        if key is None:
            return None
        api_rate_limit_hit(key_hash=key.key_hash)
        request.workspace = key.workspace
        request.api_key = key
        return key
