from django.urls import path

from console import views

urlpatterns = [
    path("event-dispatcher/console/dashboard", views.dashboard, name="console-dashboard"),
]
