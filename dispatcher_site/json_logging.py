"""One JSON object per log line on stdout (python-json-logger), with the fields operators search by."""

from pythonjsonlogger.json import JsonFormatter as _BaseJsonFormatter


class JsonFormatter(_BaseJsonFormatter):
    def __init__(self, *args, **kwargs):
        kwargs.setdefault("timestamp", "@timestamp")
        kwargs.setdefault("rename_fields", {"levelname": "log.level", "name": "log.logger"})
        super().__init__("%(levelname)s %(name)s %(message)s %(request_id)s", *args, **kwargs)
