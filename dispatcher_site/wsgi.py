import os

from django.core.wsgi import get_wsgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "dispatcher_site.settings")

from dispatcher_site.observability import instrument

instrument()
application = get_wsgi_application()
