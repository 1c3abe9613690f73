from django.urls import include, path

from . import contact_views, views

app_name = "contacts"

urlpatterns = [
    path("", views.contact_list, name="contact-list"),
    path("import/", include("contacts.import_urls")),
    path("count/", views.contact_count, name="contact-count"),
    path("bulk/", views.contacts_bulk, name="contact-bulk"),
    path("export/", views.contacts_export, name="contact-export"),
    path("exports/<int:job_id>/", views.export_detail, name="export-detail"),
    path("exports/<int:job_id>/download/", views.export_download, name="export-download"),
    path("delete-all/", views.contacts_delete_all, name="contact-delete-all"),
    path("new/", contact_views.contact_create, name="contact-create"),
    path("<int:contact_id>/", contact_views.contact_detail, name="contact-detail"),
    path("<int:contact_id>/edit/", contact_views.contact_edit, name="contact-edit"),
    path("<int:contact_id>/delete/", contact_views.contact_delete, name="contact-delete"),
    path("<int:contact_id>/opt-out/", contact_views.contact_opt_out, name="contact-opt-out"),
    path("<int:contact_id>/opt-in/", contact_views.contact_opt_in, name="contact-opt-in"),
    path("groups/panel/", views.group_panel, name="group-panel"),
    path("groups/new/", views.group_create, name="group-create"),
    path("groups/<int:group_id>/", views.group_detail, name="group-detail"),
    path("groups/<int:group_id>/edit/", views.group_edit, name="group-edit"),
    path("groups/<int:group_id>/delete/", views.group_delete, name="group-delete"),
]
