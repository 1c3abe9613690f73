from django.contrib import admin
from django.contrib.auth import views as auth_views
from django.urls import include, path
from django.views.generic import RedirectView

from api.api import api
from core import views as core_views

urlpatterns = [
    path("", RedirectView.as_view(pattern_name="contacts:contact-list"), name="home"),
    path("login/", auth_views.LoginView.as_view(redirect_authenticated_user=True), name="login"),
    path("logout/", auth_views.LogoutView.as_view(), name="logout"),
    path("healthz", core_views.healthz, name="healthz"),
    path("healthz/background", core_views.healthz_background, name="healthz-background"),
    path("workspace/", include("accounts.urls")),
    path("contacts/smart-groups/", include("audiences.urls")),
    path("contacts/", include("contacts.urls")),
    path("campaigns/", include("campaigns.urls")),
    path("conversations/", include("conversations.urls")),
    path("", include("messaging.urls")),
    path("", include("conversations.voice_urls")),
    path("", include("engagement.urls")),
    path("api/v1/", api.urls),
    path("admin/", admin.site.urls),
]

admin.site.site_header = "Herald administration"
admin.site.site_title = "Herald admin"
