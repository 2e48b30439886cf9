"""Run the benchmarks: `python -m bench [name ...]` runs bench/bench_<name>.py.

Each module has `run()`, which prints its figures and returns a list of
failure messages (empty when every target was met and every response was
2xx/3xx). The run exits non-zero if any module reports a failure.
"""

import importlib
import pkgutil
import sys
import time

import bench


def main(argv: list[str]) -> int:
    names = sorted(
        m.name[len("bench_") :]
        for m in pkgutil.iter_modules(bench.__path__)
        if m.name.startswith("bench_")
    )
    wanted = argv or names
    unknown = sorted(set(wanted) - set(names))
    if unknown:
        print(f"unknown benchmark(s): {', '.join(unknown)}; have: {', '.join(names)}")
        return 2
    failures = []
    for name in wanted:
        print(f"\n=== bench {name} ===", flush=True)
        started = time.monotonic()
        module = importlib.import_module(f"bench.bench_{name}")
        failures += [f"{name}: {f}" for f in module.run() or []]
        print(f"--- {name} done in {time.monotonic() - started:.1f}s", flush=True)
    print()
    if failures:
        print("FAILED:")
        for f in failures:
            print(f"  - {f}")
        return 1
    print("all benchmarks met their targets")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
