from django.urls import path

from .views import builder, campaign, senders

app_name = "campaigns"

urlpatterns = [
    path("", campaign.campaign_list, name="campaign-list"),
    path("new/", builder.campaign_new, name="campaign-new"),
    path("counter/", builder.campaign_counter, name="campaign-counter"),
    path("<int:pk>/", campaign.campaign_detail, name="campaign-detail"),
    path("<int:pk>/build/<slug:step>/", builder.campaign_build, name="campaign-build"),
    path(
        "<int:pk>/email-preview/",
        builder.campaign_email_preview,
        name="campaign-email-preview",
    ),
    path("<int:pk>/test-send/", builder.campaign_test_send, name="campaign-test-send"),
    path("<int:pk>/launch/", builder.campaign_launch, name="campaign-launch"),
    path("<int:pk>/rename/", campaign.campaign_rename, name="campaign-rename"),
    path("<int:pk>/results.csv", campaign.campaign_csv, name="campaign-csv"),
    path("<int:pk>/<slug:action>/", campaign.campaign_state, name="campaign-state"),
    path("senders/", senders.sender_list, name="sender-list"),
    path("senders/new/", senders.sender_edit, name="sender-new"),
    path("senders/<int:pk>/", senders.sender_edit, name="sender-edit"),
    path("senders/<int:pk>/delete/", senders.sender_delete, name="sender-delete"),
]
