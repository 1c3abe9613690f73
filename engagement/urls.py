from django.urls import path, re_path

from . import views

app_name = "engagement"

urlpatterns = [
    # Everything under /l/ is the view's: a malformed code gets the same plain 404 page.
    re_path(r"^l/(?P<code>(?s:.*))\Z", views.link_redirect, name="link-redirect"),
    path("workspace/attribution/", views.attribution_settings, name="attribution-settings"),
]
