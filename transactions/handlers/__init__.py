"""The queue handlers of the transactions app, one module per handler (spec dispatcher.md Part B §5).

Every module in this package is imported when the app is ready, so each `@queue_handler` registers
itself with the queue runtime without a list to keep in step here.
"""

import importlib
import pkgutil


def import_all_handlers() -> None:
    for module in pkgutil.iter_modules(__path__):
        importlib.import_module(f"{__name__}.{module.name}")
