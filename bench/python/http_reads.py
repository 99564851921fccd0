"""Row reads through the REST API v2 or documents through the Document API v2 with `requests`,
one Session (connection pool) per thread: N reads, C threads.

    python http_reads.py --api rest --reads 1000 --concurrency 32     # prints one JSON line
"""

import argparse
import json
import os
import threading
import time
from concurrent.futures import ThreadPoolExecutor

import requests


def main():
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--api", choices=["rest", "docs"], required=True)
    parser.add_argument("--reads", type=int, default=1000)
    parser.add_argument("--concurrency", type=int, default=1)
    parser.add_argument("--rows", type=int, default=1000)
    args = parser.parse_args()
    base = os.environ["STARGATE_REST_URL"].rstrip("/")
    keyspace = os.environ["ASTRA_DB_KEYSPACE"]
    headers = {"X-Cassandra-Token": os.environ["ASTRA_DB_APPLICATION_TOKEN"]}
    local = threading.local()

    def read(n):
        row_id = n % args.rows
        if args.api == "rest":
            url = f"{base}/v2/keyspaces/{keyspace}/bench/{row_id}"
        else:
            url = f"{base}/v2/namespaces/{keyspace}/collections/benchdocs/doc-{row_id}"
        session = getattr(local, "session", None)
        if session is None:
            session = local.session = requests.Session()
        t0 = time.perf_counter()
        response = session.get(url, headers=headers, timeout=30)
        response.raise_for_status()
        body = response.json()
        got = body["data"][0]["id"] if args.api == "rest" else body["data"]["id"]
        latency = time.perf_counter() - t0
        if got != row_id:
            raise RuntimeError(f"asked for {row_id}, got {body}")
        return latency

    started = time.perf_counter()
    if args.concurrency == 1:
        latencies = [read(n) for n in range(args.reads)]
    else:
        with ThreadPoolExecutor(max_workers=args.concurrency) as pool:
            latencies = list(pool.map(read, range(args.reads)))
    elapsed = time.perf_counter() - started
    latencies.sort()
    print(json.dumps({
        "interface": args.api, "client": "python", "reads": args.reads, "concurrency": args.concurrency,
        "connect_ms": 0, "elapsed_s": elapsed, "ops_per_s": args.reads / elapsed,
        "p50_ms": latencies[len(latencies) * 50 // 100] * 1000,
        "p99_ms": latencies[min(len(latencies) * 99 // 100, len(latencies) - 1)] * 1000,
    }))


if __name__ == "__main__":
    main()
