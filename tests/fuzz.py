"""Run schemathesis against the app under gunicorn (see bin/fuzz)."""

import subprocess
import sys
import urllib.request

from tests.processes import KEY, ROOT, gunicorn, manage, workspace

# Every check and every phase: the schema must say exactly what the server does.
CHECKS = "all"
PHASES = "examples,coverage,fuzzing,stateful"


def main(seconds: str) -> int:
    with workspace() as (workdir, env), gunicorn(env) as base:
        manage("load_configs", env=env)
        request = urllib.request.Request(
            f"{base}/api/schema/?format=json", headers={"X-Dash-Key": KEY}
        )
        schema = workdir / "openapi.json"
        schema.write_bytes(urllib.request.urlopen(request).read())
        command = [str(ROOT / ".venv-fuzz/bin/schemathesis"), "run", str(schema), "-u", base]
        command += ["-H", f"X-Dash-Key: {KEY}", "-c", CHECKS, "--phases", PHASES]
        command += ["--max-time", seconds, "-w", "2"]
        command += ["--suppress-health-check", "all"]
        return subprocess.run(command).returncode


if __name__ == "__main__":
    sys.exit(main(sys.argv[1] if len(sys.argv) > 1 else "120"))
