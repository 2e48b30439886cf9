import json
from pathlib import Path

from django.core.management.base import BaseCommand

from echopilot.mirror import atomic_write, now_iso
from incidents import clock
from incidents.sources import FILE_SOURCES, source_path

# ops_sentinel.ndjson is replaced (not appended to) only when it is this small
# and holds nothing but lines this command wrote.
EXAMPLE_MARK = "incident_signals"
MAX_REWRITE = 1024 * 1024

HEALTHY = {
    "slo": {"p95_ms": 420, "success_rate": 0.998},
    "payout": {"missing": 0, "mismatched": 0},
    "production_alerts": {"active": []},
}
BREACH = {
    "slo": {"p95_ms": 1500, "success_rate": 0.96},
    "payout": {"missing": 2, "mismatched": 1},
    "production_alerts": {"active": [{"name": "api_5xx_rate", "severity": "critical"}]},
}


def _write_json(path: Path, doc: dict) -> None:
    atomic_write(path, json.dumps({**doc, "source": EXAMPLE_MARK}, indent=2) + "\n")


def _only_examples(path: Path) -> bool:
    if not path.exists():
        return True
    if path.stat().st_size > MAX_REWRITE:
        return False
    for line in path.read_text(errors="replace").splitlines():
        try:
            if line.strip() and json.loads(line).get("source") != EXAMPLE_MARK:
                return False
        except (ValueError, AttributeError):
            return False
    return True


class Command(BaseCommand):
    help = "Write example signal files (healthy or breaching) to watch an incident's life."

    def add_arguments(self, parser):
        group = parser.add_mutually_exclusive_group(required=True)
        group.add_argument("--healthy", action="store_true", help="Signals within the SLOs.")
        group.add_argument("--breach", action="store_true", help="Signals that open an incident.")

    def handle(self, *args, **options):
        docs = BREACH if options["breach"] else HEALTHY
        paths = {name: source_path(setting, default) for name, setting, default in FILE_SOURCES}
        for name, doc in docs.items():
            _write_json(paths[name], doc)
            self.stdout.write(f"wrote {paths[name]}")

        ops = paths["ops"]
        ops.parent.mkdir(parents=True, exist_ok=True)
        ts = now_iso(clock.now())
        if options["breach"]:
            lines = [
                {"ts_iso": ts, "level": "warning", "type": "high_cpu", "source": EXAMPLE_MARK},
                {
                    "ts_iso": ts,
                    "level": "warning",
                    "warnings": ["high_ram"],
                    "source": EXAMPLE_MARK,
                },
            ]
            mode = "a"
        else:
            lines = [{"ts_iso": ts, "level": "info", "type": "heartbeat", "source": EXAMPLE_MARK}]
            mode = "w" if _only_examples(ops) else "a"
        with ops.open(mode) as fh:
            fh.writelines(json.dumps(line) + "\n" for line in lines)
        self.stdout.write(f"{'replaced' if mode == 'w' else 'appended to'} {ops}")
        if options["healthy"] and mode == "a":
            self.stdout.write(
                "note: recent warnings already in that file count until they are older than "
                "OPS_WARNING_WINDOW_MINUTES."
            )
        self.stdout.write("now run: manage.py incident_scan")
