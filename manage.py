#!/usr/bin/env python
"""Django's command-line utility; a configuration error is printed plainly, without a traceback."""

import os
import sys


def main() -> None:
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
