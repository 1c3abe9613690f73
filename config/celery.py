import logging
import os
import threading
import time

from celery import Celery
from celery.signals import worker_ready

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")

logger = logging.getLogger(__name__)
app = Celery("herald", task_cls="celery.contrib.django.task:DjangoTask")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()


@app.on_after_configure.connect
def _make_broker_dirs(sender, **kwargs):
    # kombu's filesystem transport needs its folders to exist before the first message.
    options = sender.conf.broker_transport_options or {}
    for key in ("data_folder_in", "data_folder_out", "control_folder", "unacked_folder"):
        if options.get(key):
            os.makedirs(options[key], exist_ok=True)


@worker_ready.connect
def _start_heartbeat(sender, **kwargs):
    # A thread, not a periodic task: it goes on while the only (solo) worker runs a long
    # import, and stops exactly when the worker process does.
    threading.Thread(target=_heartbeat_loop, name="herald-heartbeat", daemon=True).start()


def _heartbeat_loop() -> None:
    from django.conf import settings
    from django.db import close_old_connections

    from core.heartbeat import WORKER, heartbeat_record

    while True:
        try:
            heartbeat_record(name=WORKER)
        except Exception:  # the database away for a moment: say so, try again next time
            logger.warning("Could not record the worker heartbeat", exc_info=True)
        close_old_connections()
        time.sleep(settings.HERALD_HEARTBEAT_SECONDS)
