from django.urls import path

from . import import_views

# Included from contacts/urls.py under "import/", inside the "contacts" namespace.
urlpatterns = [
    path("", import_views.import_start, name="import-start"),
    path("sample.csv", import_views.import_sample_csv, name="import-sample"),
    path("<int:job_id>/", import_views.import_detail, name="import-detail"),
    path("<int:job_id>/map/", import_views.import_map, name="import-map"),
    path("<int:job_id>/preview/", import_views.import_preview, name="import-preview"),
    path("<int:job_id>/resume/", import_views.import_resume, name="import-resume"),
    path("<int:job_id>/skipped-rows.csv", import_views.import_errors_csv, name="import-errors"),
]
