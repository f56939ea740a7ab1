"""`manage.py consume_queue QUEUE [QUEUE ...] | --all`: run queue receivers until told to stop.

Steps: choose the queues; replay the latest receiver command from Redis; start one receiver thread
per queue, the controller thread (commands and statuses) and, when CONSUMER_HEARTBEAT_FILE is set, the
heartbeat thread (`receivers.heartbeat`); wait, writing a summary now and then.
The first SIGTERM/SIGINT stops receiving and lets in-flight messages finish (exit 0); meanwhile the
process keeps reporting (DOWN, shutting down, messages in flight) and ignores START. A second signal
exits at once, leaving unfinished messages on their queues for redelivery. One during start-up, before
there is anything to finish, exits 0 at once (manage.py). `--once` exits 1 when a queue could not be
read at all, so a drain that reached nothing does not pass for an empty queue. With `--processes N`
the command supervises N such processes instead (`receivers.supervisor`).
"""

from __future__ import annotations

import logging
import os
import signal
import sys
import threading
import time
from pathlib import Path

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from dispatcher_site.observability import instrument
from receivers.control import ReceiverController
from receivers.handlers import HANDLERS
from receivers.heartbeat import HeartbeatWriter
from receivers.queues import DEAD_LETTER_QUEUE, QUEUES
from receivers.runtime import Consumer, ConsumerOptions
from receivers.supervisor import supervise

logger = logging.getLogger("receivers.consume_queue")

FORCED_EXIT_CODE = 1


def servable_queues() -> list[str]:
    """Every queue with a registered handler, plus the dead-letter queue."""
    return [key for key in QUEUES if key in HANDLERS or key == DEAD_LETTER_QUEUE]


class Command(BaseCommand):
    help = "Consume queues: run their handlers, dead-letter what cannot be handled, obey START/STOP commands."

    def add_arguments(self, parser):
        config = settings.DISPATCHER
        parser.add_argument("queues", nargs="*", metavar="QUEUE", help="queue keys, e.g. close-payment dead-letter")
        parser.add_argument("--all", action="store_true", help="every queue with a handler, and the dead letters")
        parser.add_argument("--batch-size", type=int, default=config.CONSUMER_BATCH_SIZE, help="1 to 32")
        parser.add_argument(
            "--visibility-timeout",
            type=int,
            default=config.CONSUMER_VISIBILITY_TIMEOUT_SECONDS,
            help="lease of a received message, seconds",
        )
        parser.add_argument("--poll-interval", type=float, default=config.CONSUMER_POLL_INTERVAL_SECONDS)
        parser.add_argument("--max-poll-interval", type=float, default=config.CONSUMER_MAX_POLL_INTERVAL_SECONDS)
        parser.add_argument("--worker-threads", type=int, default=config.CONSUMER_WORKER_THREADS)
        parser.add_argument("--once", action="store_true", help="process what is visible now, then exit")
        parser.add_argument("--max-messages", type=int, default=None, help="exit after handling this many")
        parser.add_argument("--summary-interval", type=float, default=60.0, help="seconds between summaries")
        parser.add_argument(
            "--processes",
            type=int,
            default=1,
            help="run this many consumer processes under one supervisor (restarted on a crash)",
        )

    def handle(self, *args, **options):
        queue_keys = self.chosen_queues(options)
        consumer_options = self.consumer_options(options)
        if options["processes"] > 1:
            sys.exit(
                supervise(options["processes"], consumer_options.once, settings.DISPATCHER.CONSUMER_HEARTBEAT_FILE)
            )
        instrument()
        self.consumer = Consumer(queue_keys, consumer_options)
        # The controller outlives the receivers, so a draining process still reports (and ignores START).
        finished = threading.Event()
        self.controller = controller = ReceiverController(
            apply=self.consumer.set_running,
            statuses=lambda: [(r.name, r.status()) for r in self.consumer.receivers],
            stopped=finished,
            extra=lambda: {"shuttingDown": self.consumer.shutdown.is_set(), "inFlight": self.consumer.in_flight()},
        )
        self.signals_received = 0
        signal.signal(signal.SIGTERM, self.on_signal)
        signal.signal(signal.SIGINT, self.on_signal)
        controller.replay()
        self.consumer.start()
        controller.thread.start()
        self.start_heartbeat(controller, finished)
        logger.info("consuming %s as %s (%s)", ", ".join(queue_keys), controller.instance_id, controller.version)
        self.wait_for_receivers(options["summary_interval"])
        self.consumer.shutdown.set()
        self.consumer.close()
        finished.set()
        controller.report_final()
        summary = self.consumer.totals.summary()
        logger.info("finished: %s", summary)
        self.stdout.write(f"finished: {summary}")
        unread = [r.queue_key for r in self.consumer.receivers if r.failed_to_read and not r.read_queue]
        if options["once"] and unread and not self.signals_received:
            raise CommandError(f"--once could not read {', '.join(unread)}")
        crashed = [r.queue_key for r in self.consumer.receivers if r.crashed]
        if options["once"] and crashed:
            raise CommandError(f"--once: the receiver of {', '.join(crashed)} crashed (see the log)")

    def start_heartbeat(self, controller: ReceiverController, finished: threading.Event) -> None:
        path = settings.DISPATCHER.CONSUMER_HEARTBEAT_FILE
        if path:
            HeartbeatWriter(Path(path), controller.status_document, finished).thread.start()

    def chosen_queues(self, options) -> list[str]:
        if options["all"] == bool(options["queues"]):
            raise CommandError("name the queues to consume, or pass --all (not both)")
        undefined = [key for key in HANDLERS if key not in QUEUES]
        if undefined:
            raise CommandError(
                f"handlers registered for undefined queues {', '.join(undefined)}: register_queue() them"
            )
        if options["all"]:
            return servable_queues()
        unknown = [key for key in options["queues"] if key not in QUEUES]
        if unknown:
            raise CommandError(f"unknown queues {', '.join(unknown)}; known: {', '.join(QUEUES)}")
        without_handler = [key for key in options["queues"] if key not in servable_queues()]
        if without_handler:
            raise CommandError(f"no handler is registered for {', '.join(without_handler)}")
        return list(dict.fromkeys(options["queues"]))

    def consumer_options(self, options) -> ConsumerOptions:
        if not 1 <= options["batch_size"] <= 32:
            raise CommandError("--batch-size must be between 1 and 32")
        if options["visibility_timeout"] < 1 or options["worker_threads"] < 1:
            raise CommandError("--visibility-timeout and --worker-threads must be at least 1")
        if options["processes"] < 1:
            raise CommandError("--processes must be at least 1")
        if options["max_messages"] is not None and options["max_messages"] < 1:
            raise CommandError("--max-messages must be at least 1")
        return ConsumerOptions(
            batch_size=options["batch_size"],
            visibility_timeout=options["visibility_timeout"],
            poll_interval=options["poll_interval"],
            max_poll_interval=max(options["max_poll_interval"], options["poll_interval"]),
            worker_threads=options["worker_threads"],
            once=options["once"],
            max_messages=options["max_messages"],
        )

    def wait_for_receivers(self, summary_interval: float) -> None:
        next_summary = time.monotonic() + summary_interval
        while self.consumer.alive():
            self.consumer.join(timeout=0.2)
            if time.monotonic() >= next_summary:
                logger.info("summary: %s", self.consumer.totals.summary())
                next_summary = time.monotonic() + summary_interval

    def on_signal(self, signum, frame) -> None:
        self.signals_received += 1
        if self.signals_received > 1:
            logger.warning("second signal: exiting now; unfinished messages stay on their queues")
            os._exit(FORCED_EXIT_CODE)
        logger.info("signal %s: finishing in-flight messages, taking no new ones", signal.Signals(signum).name)
        self.consumer.shutdown.set()
        self.controller.next_report = 0.0  # say "shutting down" at once
