from django.urls import path

from transactions import api

urlpatterns = [
    path("event-dispatcher/transactions/events", api.ingest_events, name="transactions-ingest-events"),
    path("event-dispatcher/transactions/<str:transaction_id>", api.transaction_detail, name="transactions-detail"),
]
