"""Prepared-statement reads with the DataStax Python driver, through the bundle and proxy:
N reads of the table `bench` (see `astra-bench setup`), at most C in flight, as the driver's
documentation recommends for throughput (execute_async with callbacks, no thread per request).

    python cql_reads.py --reads 10000 --concurrency 64     # prints one JSON line
"""

import argparse
import json
import os
import threading
import time

from cassandra.auth import PlainTextAuthProvider
from cassandra.cluster import Cluster


def main():
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--reads", type=int, default=10000)
    parser.add_argument("--concurrency", type=int, default=64)
    parser.add_argument("--rows", type=int, default=1000)
    args = parser.parse_args()
    keyspace = os.environ["ASTRA_DB_KEYSPACE"]

    started = time.perf_counter()
    cluster = Cluster(
        cloud={"secure_connect_bundle": os.environ["ASTRA_DB_SECURE_BUNDLE_PATH"]},
        auth_provider=PlainTextAuthProvider("token", os.environ["ASTRA_DB_APPLICATION_TOKEN"]),
    )
    session = cluster.connect()
    prepared = session.prepare(f"SELECT id, title, done FROM {keyspace}.bench WHERE id = ?")
    connect_s = time.perf_counter() - started

    latencies = []
    errors = []
    lock = threading.Lock()
    done = threading.Event()
    state = {"next": 0, "finished": 0}

    def start_one():
        with lock:
            n = state["next"]
            if n >= args.reads:
                return
            state["next"] = n + 1
        row_id = n % args.rows
        t0 = time.perf_counter()
        future = session.execute_async(prepared, (row_id,))
        future.add_callbacks(on_rows, on_error, callback_args=(row_id, t0))

    def finish():
        with lock:
            state["finished"] += 1
            last = state["finished"] == args.reads
        if last:
            done.set()
        else:
            start_one()

    def on_rows(rows, row_id, t0):
        latency = time.perf_counter() - t0
        if not rows or rows[0].id != row_id:
            errors.append(f"asked for row {row_id}, got {rows}")
        latencies.append(latency)
        finish()

    def on_error(error, row_id, t0):
        errors.append(f"row {row_id}: {error}")
        done.set()

    t_start = time.perf_counter()
    for _ in range(min(args.concurrency, args.reads)):
        start_one()
    done.wait()
    elapsed = time.perf_counter() - t_start
    cluster.shutdown()
    if errors:
        raise SystemExit(f"error: {errors[0]}")
    latencies.sort()
    print(json.dumps({
        "interface": "cql", "client": "python", "reads": args.reads, "concurrency": args.concurrency,
        "connect_ms": connect_s * 1000, "elapsed_s": elapsed, "ops_per_s": args.reads / elapsed,
        "p50_ms": latencies[len(latencies) * 50 // 100] * 1000,
        "p99_ms": latencies[min(len(latencies) * 99 // 100, len(latencies) - 1)] * 1000,
    }))


if __name__ == "__main__":
    main()
