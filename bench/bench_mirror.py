"""The mirror outbox: what mirroring a record adds to the transaction storing it.

The outbox adds a row insert in the caller's transaction and a flush (select,
append, delete) after commit. Baselines, measured in the same run: a
transaction that stores one row and nothing else (what every mirrored
operation does anyway), and `write_line`, the locked `O_APPEND` append alone.
"""

import time

from bench.common import django_setup, workspace

N = 2000
BATCH = 1000
RECORD_TARGET = 3.0  # a stored and mirrored record, at most this many stored-only records
BATCH_TARGET = 2.0  # a line of a 1,000-event batch, at most this many bare appends per line


def _best(fn, repeat: int = 3) -> float:
    best = float("inf")
    for _ in range(repeat):
        started = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - started)
    return best


def run() -> list[str]:
    failures = []
    with workspace() as (_workdir, env):
        django_setup(env)
        from django.db import transaction

        from echopilot import mirror

        record = {"type": "bench", "key": "ui.new_dashboard", "value": True, "actor": "bench"}
        line = mirror.encode_line(record)

        def bare():
            for _ in range(N):
                mirror.write_line("bench_bare", line)

        from echopilot.models import ScheduleRun

        def stored_only():
            for n in range(N):
                with transaction.atomic():
                    ScheduleRun.objects.create(name=f"bench-{n}")
            ScheduleRun.objects.filter(name__startswith="bench-").delete()

        def stored_and_mirrored():
            for n in range(N):
                with transaction.atomic():
                    ScheduleRun.objects.create(name=f"bench-{n}")
                    mirror.append("bench_outbox", record)
            ScheduleRun.objects.filter(name__startswith="bench-").delete()

        def batch():
            with transaction.atomic():
                mirror.append_many("bench_batch", [record] * BATCH)

        base = _best(bare) / N
        stored = _best(stored_only) / N
        per_record = _best(stored_and_mirrored) / N
        per_line = _best(batch, repeat=5) / BATCH
        print(f"  {'case':44} {'us each':>9} {'ratio':>7}  target")
        print(f"  {'a transaction storing one row (baseline)':44} {stored * 1e6:9.1f} {1:7.2f}")
        print(
            f"  {'  + mirrored through the outbox':44} {per_record * 1e6:9.1f} "
            f"{per_record / stored:7.2f}  <= {RECORD_TARGET:g}x "
            + ("ok" if per_record / stored <= RECORD_TARGET else "MISSED")
        )
        if per_record / stored > RECORD_TARGET:
            failures.append(f"mirrored record: {per_record / stored:.1f}x a stored-only record")
        print(f"  {'bare locked append (baseline)':44} {base * 1e6:9.1f} {1:7.2f}")
        rows = [(f"  line of a {BATCH:,}-event batch (one entry)", per_line, BATCH_TARGET)]
        for label, cost, target in rows:
            ratio = cost / base
            verdict = "ok" if ratio <= target else "MISSED"
            print(f"  {label:44} {cost * 1e6:9.1f} {ratio:7.2f}  <= {target:g}x {verdict}")
            if ratio > target:
                failures.append(f"{label}: {ratio:.1f}x a bare append, target {target:g}x")
        assert mirror.backlog().entries == 0, "the outbox did not drain"
    return failures
