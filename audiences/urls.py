from django.urls import path

from . import views

app_name = "audiences"

urlpatterns = [
    path("", views.smartgroup_list, name="smartgroup-list"),
    path("new/", views.smartgroup_new, name="smartgroup-new"),
    path("<int:pk>/", views.smartgroup_edit, name="smartgroup-edit"),
    path("<int:pk>/count/", views.smartgroup_count, name="smartgroup-count"),
    path("<int:pk>/delete/", views.smartgroup_delete, name="smartgroup-delete"),
    path("<int:pk>/freeze/", views.smartgroup_freeze, name="smartgroup-freeze"),
]
