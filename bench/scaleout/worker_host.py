"""Hostname callable for the scale-out proof (``AIRFLOW__CORE__HOSTNAME_CALLABLE=worker_host.hostname``).

Airflow records ``task_instance.hostname`` from ``[core] hostname_callable`` on the worker. In production each
worker is its own machine and the default (the FQDN) tells them apart; here the two Celery workers share one
machine, so each one names itself ``<VOC_SCALEOUT_WORKER>@<fqdn>``, like its Celery node name (``w1@%h``).
"""

from __future__ import annotations

import os
import socket


def hostname() -> str:
    worker = os.environ.get("VOC_SCALEOUT_WORKER")
    if not worker:
        raise RuntimeError("VOC_SCALEOUT_WORKER is not set; bench/scaleout/run.sh sets it per Celery worker")
    return f"{worker}@{socket.getfqdn()}"
