#!/usr/bin/env python
"""Django's command-line utility; a configuration error is printed plainly, without a traceback.

A queue consumer (`consume_queue`) asked to stop while it is still starting exits 0 at once: nothing
is in flight before it receives, and loading Django takes a second in which a SIGTERM would otherwise
kill it with 143. The command installs its own draining handler as soon as it has a consumer.
"""

import os
import signal
import sys


def exit_while_starting(signum, frame) -> None:
    sys.exit(0)


def main() -> None:
    if sys.argv[1:2] == ["consume_queue"]:
        signal.signal(signal.SIGTERM, exit_while_starting)
        signal.signal(signal.SIGINT, exit_while_starting)
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "dispatcher_site.settings")
    from django.core.management import execute_from_command_line

    from dispatcher_site.config import ConfigurationError

    try:
        execute_from_command_line(sys.argv)
    except ConfigurationError as error:
        sys.stderr.write(f"{error}\n")
        sys.exit(2)


if __name__ == "__main__":
    main()
