from chat.views import room
from django.urls import path

from example import views

urlpatterns = [
    path("", views.index),
    path("hello", views.hello),
    path("notes", views.notes),
    path("sleep", views.sleep),
    path("cpu", views.cpu),
    path("stream", views.stream),
    path("echo", views.echo),
    path("pid", views.pid),
    path("chat", room),
    path("report", views.report),
    path("async-sleep", views.async_sleep),
]
