"""The benchmark's prediction records, as every peer makes them (standard library only).

A record is what lathe_metrics_bench submits: a uuid, a start and an end in ms, and 12 metrics:
"f0".."f9" uniform floats in [0, 100), "s0" ("churn" or "stay") and "s1" ("segment-0".."7").
Records are made in chunks before the clock starts, as lathe_metrics_bench makes its own, so
every figure is the store's and not the making of test data.
"""

import random
import time
import uuid

NUMERIC = tuple(f"f{k}" for k in range(10))
STRINGS = ("s0", "s1")
POINTS_PER_RECORD = len(NUMERIC) + len(STRINGS)  # 12 metric points


class RecordMaker:
    def __init__(self, seed=1):
        self.rng = random.Random(seed)
        self.now_ms = int(time.time() * 1000)
        self.made = 0

    def chunk(self, n):
        """n records: (uuid, start_ms, end_ms, [10 floats], s0, s1)."""
        rng, out = self.rng, []
        for _ in range(n):
            i = self.made
            self.made += 1
            start = self.now_ms + i // 100
            out.append(
                (
                    str(uuid.uuid4()),
                    start,
                    start + 1,
                    [rng.uniform(0, 100) for _ in NUMERIC],
                    "churn" if rng.getrandbits(1) else "stay",
                    f"segment-{rng.randrange(8)}",
                )
            )
        return out


def metrics_dict(record):
    _uuid, _start, _end, floats, s0, s1 = record
    out = dict(zip(NUMERIC, floats))
    out["s0"], out["s1"] = s0, s1
    return out
