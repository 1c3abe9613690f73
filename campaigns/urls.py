from django.urls import path

from . import views

app_name = "campaigns"

urlpatterns = [
    path("", views.campaign_list, name="campaign-list"),
    path("new/", views.campaign_new, name="campaign-new"),
    path("counter/", views.campaign_counter, name="campaign-counter"),
    path("<int:pk>/", views.campaign_detail, name="campaign-detail"),
    path("<int:pk>/build/<slug:step>/", views.campaign_build, name="campaign-build"),
    path("<int:pk>/test-send/", views.campaign_test_send, name="campaign-test-send"),
    path("<int:pk>/launch/", views.campaign_launch, name="campaign-launch"),
    path("<int:pk>/rename/", views.campaign_rename, name="campaign-rename"),
    path("<int:pk>/results.csv", views.campaign_csv, name="campaign-csv"),
    path("<int:pk>/<slug:action>/", views.campaign_state, name="campaign-state"),
    path("senders/", views.sender_list, name="sender-list"),
    path("senders/new/", views.sender_edit, name="sender-new"),
    path("senders/<int:pk>/", views.sender_edit, name="sender-edit"),
]
