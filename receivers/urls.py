from django.urls import path

from receivers import views

urlpatterns = [
    path("event-dispatcher/event-receivers/commands", views.commands, name="receiver-commands"),
    path("event-dispatcher/event-receivers/status", views.status, name="receiver-status"),
]
