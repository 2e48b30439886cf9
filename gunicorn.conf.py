"""gunicorn settings it reads from the project directory (bin/run, tests, benchmarks).

- Prometheus multiprocess mode: when a worker exits, its live gauges are
  dropped (`mark_process_dead`); its counters stay, so totals never go back.
- LOG_FORMAT=json: gunicorn's own lines are JSON objects too (echopilot.logs).
"""

import os


def child_exit(server, worker):
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        from prometheus_client import multiprocess

        multiprocess.mark_process_dead(worker.pid)


if os.environ.get("LOG_FORMAT", "").strip().lower() == "json":
    _plain = {"level": "INFO", "handlers": ["console"], "propagate": False}
    logconfig_dict = {
        "version": 1,
        "disable_existing_loggers": False,
        "formatters": {"json": {"()": "echopilot.logs.JsonFormatter"}},
        "handlers": {
            "console": {
                "class": "logging.StreamHandler",
                "formatter": "json",
                "stream": "ext://sys.stderr",
            }
        },
        "root": {"level": "INFO", "handlers": []},
        "loggers": {"gunicorn.error": _plain, "gunicorn.access": _plain},
    }
