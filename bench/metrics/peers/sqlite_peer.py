"""The plain-SQLite peer: prediction records inserted with Python's sqlite3 into a naive table.

    /usr/bin/python3 sqlite_peer.py --db PATH --mode txn|executemany [--records N] [--seconds S]

One connection, one thread, the table a developer would write first (and the one index they
need, to find a prediction by uuid when its delayed metrics arrive):

    CREATE TABLE predictions (id INTEGER PRIMARY KEY, uuid TEXT NOT NULL UNIQUE,
                              start_ms INTEGER NOT NULL, end_ms INTEGER NOT NULL,
                              metrics TEXT NOT NULL)  -- the 12 metrics as JSON text

with the pragmas Lathe's metrics store uses (WAL, synchronous=NORMAL, 64 MiB of cache), so
durability is the same on both sides. Modes: `txn`, BEGIN / INSERT / COMMIT per record; and
`executemany`, one transaction per --batch records. Records and their JSON text are made before
the clock starts, in chunks; the clock runs only around the inserts and commits. Stops after
--records or once --seconds of inserting have passed, whichever is first. Prints one JSON line.
"""

import argparse
import json
import sqlite3
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from records import POINTS_PER_RECORD, RecordMaker, metrics_dict  # noqa: E402

SCHEMA = """
CREATE TABLE predictions (
    id INTEGER PRIMARY KEY,
    uuid TEXT NOT NULL UNIQUE,
    start_ms INTEGER NOT NULL,
    end_ms INTEGER NOT NULL,
    metrics TEXT NOT NULL)
"""
INSERT = "INSERT INTO predictions (uuid, start_ms, end_ms, metrics) VALUES (?, ?, ?, ?)"


def rows(records):
    return [(r[0], r[1], r[2], json.dumps(metrics_dict(r))) for r in records]


def insert(conn, mode, batch, chunk):
    """Inserts chunk (rows); returns the transactions it took."""
    if mode == "txn":
        for row in chunk:
            conn.execute("BEGIN")
            conn.execute(INSERT, row)
            conn.execute("COMMIT")
        return len(chunk)
    transactions = 0
    for i in range(0, len(chunk), batch):
        conn.execute("BEGIN")
        conn.executemany(INSERT, chunk[i : i + batch])
        conn.execute("COMMIT")
        transactions += 1
    return transactions


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--db", required=True, type=Path)
    parser.add_argument("--mode", required=True, choices=("txn", "executemany"))
    parser.add_argument("--records", type=int, default=1_000_000)
    parser.add_argument("--seconds", type=float, default=20.0)
    parser.add_argument("--batch", type=int, default=1000, help="rows per executemany")
    parser.add_argument("--warmup", type=int, default=2000, help="untimed records first")
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args()

    # isolation_level=None: no implicit transactions; BEGIN and COMMIT are ours, as written above.
    conn = sqlite3.connect(args.db, isolation_level=None)
    conn.execute("PRAGMA journal_mode=WAL")
    conn.execute("PRAGMA synchronous=NORMAL")
    conn.execute("PRAGMA cache_size=-65536")
    conn.execute(SCHEMA)
    maker = RecordMaker(args.seed)
    insert(conn, args.mode, args.batch, rows(maker.chunk(args.warmup)))

    chunk_size = max(args.batch, 10_000) if args.mode == "executemany" else 2_000
    done = transactions = 0
    seconds = 0.0
    while done < args.records and seconds < args.seconds:
        chunk = rows(maker.chunk(min(chunk_size, args.records - done)))
        began = time.perf_counter()
        transactions += insert(conn, args.mode, args.batch, chunk)
        seconds += time.perf_counter() - began
        done += len(chunk)
    stored = conn.execute("SELECT count(*) FROM predictions").fetchone()[0] - args.warmup
    conn.close()
    print(
        json.dumps(
            {
                "records": done,
                "stored": stored,
                "points": done * POINTS_PER_RECORD,
                "seconds": seconds,
                "records_per_s": done / seconds if seconds else 0.0,
                "points_per_s": done * POINTS_PER_RECORD / seconds if seconds else 0.0,
                "transactions": transactions,
                "stopped_by_time": done < args.records,
                "sqlite": sqlite3.sqlite_version,
            }
        )
    )


if __name__ == "__main__":
    main()
