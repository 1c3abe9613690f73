from django.urls import path

from .views import imports

# Included from contacts/urls.py under "import/", inside the "contacts" namespace.
urlpatterns = [
    path("", imports.import_start, name="import-start"),
    path("sample.csv", imports.import_sample_csv, name="import-sample"),
    path("<int:job_id>/", imports.import_detail, name="import-detail"),
    path("<int:job_id>/map/", imports.import_map, name="import-map"),
    path("<int:job_id>/preview/", imports.import_preview, name="import-preview"),
    path("<int:job_id>/resume/", imports.import_resume, name="import-resume"),
    path("<int:job_id>/skipped-rows.csv", imports.import_errors_csv, name="import-errors"),
]
