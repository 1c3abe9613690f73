from django.urls import include, path

from .views import contact, exports, groups, listing

app_name = "contacts"

urlpatterns = [
    path("", listing.contact_list, name="contact-list"),
    path("import/", include("contacts.import_urls")),
    path("count/", listing.contact_count, name="contact-count"),
    path("bulk/", listing.contacts_bulk, name="contact-bulk"),
    path("export/", exports.contacts_export, name="contact-export"),
    path("exports/<int:job_id>/", exports.export_detail, name="export-detail"),
    path("exports/<int:job_id>/download/", exports.export_download, name="export-download"),
    path("delete-all/", listing.contacts_delete_all, name="contact-delete-all"),
    path("new/", contact.contact_create, name="contact-create"),
    path("<int:contact_id>/", contact.contact_detail, name="contact-detail"),
    path("<int:contact_id>/edit/", contact.contact_edit, name="contact-edit"),
    path("<int:contact_id>/delete/", contact.contact_delete, name="contact-delete"),
    path("<int:contact_id>/opt-out/", contact.contact_opt_out, name="contact-opt-out"),
    path("<int:contact_id>/opt-in/", contact.contact_opt_in, name="contact-opt-in"),
    path("groups/panel/", groups.group_panel, name="group-panel"),
    path("groups/new/", groups.group_create, name="group-create"),
    path("groups/<int:group_id>/", groups.group_detail, name="group-detail"),
    path("groups/<int:group_id>/edit/", groups.group_edit, name="group-edit"),
    path("groups/<int:group_id>/delete/", groups.group_delete, name="group-delete"),
]
