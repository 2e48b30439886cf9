"""Run schemathesis against the app under gunicorn (see bin/fuzz).

`python -m tests.fuzz SECONDS [schemathesis options…]`, e.g. `--include-path-regex flags`.
"""

import subprocess
import sys
import urllib.request

from tests.processes import KEY, ROOT, gunicorn, manage, workspace

# Every check and every phase: the schema must say exactly what the server does.
CHECKS = "all"
PHASES = "examples,coverage,fuzzing,stateful"
CONFIG = ROOT / "tests" / "schemathesis.toml"


def main(seconds: str) -> int:
    with workspace() as (workdir, env):
        # An SLO report in breach: a scan opens an incident, so the stateful
        # phase can follow scan -> acknowledge -> resolve.
        slo = workdir / "slo_report.json"
        slo.write_text('{"p95_ms": 5000, "success_rate": 0.5}')
        env["INCIDENT_SLO_REPORT_PATH"] = str(slo)
        manage("load_configs", env=env)
        with gunicorn(env) as base:
            return fuzz(workdir, base, seconds)


def fuzz(workdir, base: str, seconds: str) -> int:
    """Fetch the schema the server serves and run schemathesis against it."""
    request = urllib.request.Request(f"{base}/api/schema/?format=json", headers={"X-Dash-Key": KEY})
    schema = workdir / "openapi.json"
    schema.write_bytes(urllib.request.urlopen(request).read())
    command = [str(ROOT / ".venv-fuzz/bin/schemathesis"), "--config-file", str(CONFIG)]
    command += ["run", str(schema), "-u", base]
    command += ["-H", f"X-Dash-Key: {KEY}", "-c", CHECKS, "--phases", PHASES]
    command += ["--max-time", seconds, "-w", "2"]
    # NUL is refused in every JSON string and object key (echopilot.parsers); the
    # schema says it for strings, but OpenAPI 3.0 cannot say it for object keys.
    command += ["--generation-allow-x00", "false"]
    command += ["--suppress-health-check", "all", *sys.argv[2:]]
    return subprocess.run(command).returncode


if __name__ == "__main__":
    sys.exit(main(sys.argv[1] if len(sys.argv) > 1 else "120"))
