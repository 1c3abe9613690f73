"""Middleware of the whole site: response headers, JSON errors under /api/."""

from http import HTTPStatus

from django.http import JsonResponse
from django.utils.cache import patch_cache_control


class PrivateCacheMiddleware:
    """`Cache-Control: private, no-store` unless the view chose its own caching.

    Pages, API responses and downloads carry contacts' personal data: no shared cache (a proxy)
    may keep them, and the browser may not store them on disk either. Static files are served
    by WhiteNoise before this middleware and keep their long cache lifetimes.
    """

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        response = self.get_response(request)
        if not response.has_header("Cache-Control"):
            patch_cache_control(response, private=True, no_store=True)
        return response


class ApiJsonErrorsMiddleware:
    """Every error under /api/ is JSON, `{"message": …, "errors": {}}`, whoever answered.

    The API's own handlers already answer JSON; this catches what happens around them: a URL
    no route matches (a non-integer id: /api/v1/campaigns/abc), a method a route does not
    allow, and an unexpected exception (500), which Django would answer with an HTML page.
    """

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        response = self.get_response(request)
        if (
            request.path_info.startswith("/api/")
            and response.status_code >= 400
            and not response.get("Content-Type", "").startswith("application/json")
        ):
            status = response.status_code
            message = {404: "Not found.", 500: "Server error."}.get(status)
            json = JsonResponse(
                {"message": message or HTTPStatus(status).phrase + ".", "errors": {}},
                status=status,
            )
            for header in ("Allow", "Retry-After"):
                if response.has_header(header):
                    json[header] = response[header]
            return json
        return response
