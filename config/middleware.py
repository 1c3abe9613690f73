"""Response headers every Django response gets."""

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
