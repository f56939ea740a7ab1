"""gunicorn settings, from the same validated configuration as the application."""

import os

from dispatcher_site.config import load_config

_config = load_config(os.environ)

bind = _config.GUNICORN_BIND
workers = _config.GUNICORN_WORKERS
threads = _config.GUNICORN_THREADS
worker_class = "gthread"
timeout = _config.GUNICORN_TIMEOUT
graceful_timeout = _config.GUNICORN_GRACEFUL_TIMEOUT
keepalive = _config.GUNICORN_KEEPALIVE
# Its maximum: the APIs refuse URIs over 4,094 characters themselves, with a 414 in their own format
# (dispatcher_site.api_errors); at gunicorn's default the refusal would be its HTML page.
limit_request_line = 8190
accesslog = None  # request lines come from dispatcher_site.access_log (JSON, request id, no query string)
errorlog = "-"
loglevel = _config.LOG_LEVEL.lower()
# gunicorn's default control socket is one path per user ($XDG_RUNTIME_DIR or ~/.gunicorn/gunicorn.ctl):
# each instance on a machine would take it over from the last and delete it when it stops.
if _config.GUNICORN_CONTROL_SOCKET:
    control_socket = _config.GUNICORN_CONTROL_SOCKET
else:
    control_socket_disable = True
