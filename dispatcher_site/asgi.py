import os

from django.core.asgi import get_asgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "dispatcher_site.settings")

from dispatcher_site.observability import instrument

instrument()
application = get_asgi_application()
