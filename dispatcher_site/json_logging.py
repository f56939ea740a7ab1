"""One JSON object per log line on stdout (python-json-logger), with the fields operators search by."""

from pythonjsonlogger.json import JsonFormatter as _BaseJsonFormatter


class JsonFormatter(_BaseJsonFormatter):
    def __init__(self, *args, **kwargs):
        kwargs.setdefault("timestamp", "@timestamp")
        kwargs.setdefault("rename_fields", {"levelname": "log.level", "name": "log.logger"})
        super().__init__("%(levelname)s %(name)s %(message)s %(request_id)s", *args, **kwargs)

    def format(self, record):
        # A traceback already formatted (and masked, `dispatcher_site.pii`) is printed as it is, as the
        # standard formatter does; the base class would format exc_info again.
        if record.exc_info and record.exc_text:
            exc_info, record.exc_info = record.exc_info, None
            try:
                return super().format(record)
            finally:
                record.exc_info = exc_info
        return super().format(record)
