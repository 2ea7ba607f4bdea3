from django.urls import include, path
from lifecycle_app import views

urlpatterns = [
    path("hold-gil", views.hold_gil),
    path("hoard", views.hoard),
    path("orphan", views.orphan),
    path("bad-length", views.bad_length),
    path("", include("example.urls")),
]
