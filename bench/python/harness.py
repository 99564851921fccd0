"""Runs every benchmark pair of scripts/bench, interleaved (A/B, then B/A in the next round), and
writes bench/RESULTS.md and bench/results.png. Run it through scripts/bench, which builds the
release binaries, creates this venv and exports the local stack's settings.
"""

import argparse
import datetime
import json
import os
import platform
import re
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
BIN = ROOT / "target" / "release"
PY = sys.executable
HERE = Path(__file__).resolve().parent


def log(message):
    print(f"==> {message}", file=sys.stderr, flush=True)


def run(cmd, env_extra=None, timeout=900):
    """Runs cmd; returns (wall seconds, stdout). Fails loudly with its stderr."""
    env = dict(os.environ, **(env_extra or {}))
    started = time.perf_counter()
    done = subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=timeout, cwd=ROOT)
    wall = time.perf_counter() - started
    if done.returncode != 0:
        raise SystemExit(f"error: {' '.join(map(str, cmd))} failed ({done.returncode}): {done.stderr.strip()[-800:]}")
    return wall, done.stdout


def json_line(stdout):
    for line in reversed(stdout.splitlines()):
        if line.startswith("{"):
            return json.loads(line)
    raise SystemExit(f"error: no JSON line in {stdout[-400:]!r}")


def stats(values):
    values = sorted(values)
    return {"median": statistics.median(values), "min": values[0], "max": values[-1], "n": len(values)}


def interleave(rounds, a, b):
    """Runs a() and b() once per round, alternating which goes first; returns both lists."""
    results_a, results_b = [], []
    for r in range(rounds):
        if r % 2 == 0:
            results_a.append(a())
            results_b.append(b())
        else:
            results_b.append(b())
            results_a.append(a())
    return results_a, results_b


def paired_ratio(nums, dens):
    return stats([n / d for n, d in zip(nums, dens)])


# ---- the pairs -----------------------------------------------------------------------------------


def connect_pair(rounds):
    log(f"CQL connect: tutorial Python program vs sample-cql --connect-only, {rounds} rounds")

    def python():
        wall, out = run([PY, HERE / "tutorial_connect.py"])
        assert out.strip(), "the Python program printed no cluster name"
        return wall

    def rust():
        wall, out = run([BIN / "sample-cql", "--connect-only"])
        assert "Connected to cluster" in out, out
        return wall

    py, rs = interleave(rounds, python, rust)
    return {"python_s": stats(py), "rust_s": stats(rs), "ratio": paired_ratio(py, rs), "raw": {"python": py, "rust": rs}}


def reads_pair(rounds, reads, concurrency):
    log(f"CQL prepared reads: {reads} at concurrency {concurrency}, {rounds} rounds")
    args = ["--reads", str(reads), "--concurrency", str(concurrency)]
    py, rs = interleave(
        rounds,
        lambda: json_line(run([PY, HERE / "cql_reads.py", *args])[1]),
        lambda: json_line(run([BIN / "astra-bench", "cql", *args])[1]),
    )
    return summarize_reads(py, rs)


def summarize_reads(py, rs):
    out = {}
    for key in ("ops_per_s", "p50_ms", "p99_ms", "connect_ms"):
        out[key] = {"python": stats([r[key] for r in py]), "rust": stats([r[key] for r in rs])}
    out["ratio_ops"] = paired_ratio([r["ops_per_s"] for r in rs], [r["ops_per_s"] for r in py])
    return out


def http_pair(rounds, api, reads, concurrency):
    log(f"{api}: {reads} reads at concurrency {concurrency}, requests vs Rust, {rounds} rounds")
    args = ["--reads", str(reads), "--concurrency", str(concurrency)]
    py, rs = interleave(
        rounds,
        lambda: json_line(run([PY, HERE / "http_reads.py", "--api", api, *args])[1]),
        lambda: json_line(run([BIN / "astra-bench", api, *args])[1]),
    )
    return summarize_reads(py, rs)


SUMMARY = re.compile(r"produce (\d+) msg/s, consume (\d+) msg/s")


def pulsar_pair(rounds, messages, size):
    log(f"Pulsar: {messages} messages of {size} bytes, pulsar-client vs sample-pulsar-producer, {rounds} rounds")
    env = {"ASTRA_STREAMING_TOPIC": "astra-bench"}

    def python():
        result = json_line(run([PY, HERE / "pulsar_produce.py", "--messages", str(messages), "--size", str(size)],
                               env_extra=env)[1])
        return result["produce_per_s"], result["consume_per_s"]

    def rust():
        _, out = run([BIN / "sample-pulsar-producer", "--messages", str(messages), "--size", str(size)], env_extra=env)
        match = SUMMARY.search(out)
        if not match:
            raise SystemExit(f"error: no summary line from sample-pulsar-producer: {out[-400:]}")
        return float(match.group(1)), float(match.group(2))

    py, rs = interleave(rounds, python, rust)
    out = {}
    for i, key in enumerate(("produce_per_s", "consume_per_s")):
        out[key] = {"python": stats([p[i] for p in py]), "rust": stats([r[i] for r in rs])}
        out["ratio_" + key] = paired_ratio([r[i] for r in rs], [p[i] for p in py])
    return out


def interfaces(rounds, reads):
    log(f"Interface cost from Rust: {reads} reads through CQL, REST, Documents, gRPC, GraphQL, {rounds} rounds")
    names = ["cql", "grpc", "rest", "docs"]
    if os.environ.get("STARGATE_GRAPHQL_URL"):
        names.append("graphql")
    out = {}
    for concurrency in (1, 32):
        results = {name: [] for name in names}
        for r in range(rounds):
            order = names if r % 2 == 0 else list(reversed(names))
            for name in order:
                cmd = [BIN / "astra-bench", name, "--reads", str(reads), "--concurrency", str(concurrency)]
                results[name].append(json_line(run(cmd)[1]))
        out[str(concurrency)] = {
            name: {key: stats([x[key] for x in rows]) for key in ("ops_per_s", "p50_ms", "p99_ms")}
            for name, rows in results.items()
        }
        for name in names:
            out[str(concurrency)][name]["vs_cql"] = paired_ratio(
                [x["ops_per_s"] for x in results[name]], [x["ops_per_s"] for x in results["cql"]])
    return out


def floor(rounds):
    log("Connect floor: metadata request, proxy TLS, one login")
    return json_line(run([BIN / "astra-bench", "floor", "--rounds", str(rounds)])[1])["floor"]


def footprint():
    log("Footprint: release binary sizes, duplicated crates, TLS stacks per sample")
    sizes = {}
    for path in sorted(BIN.glob("sample-*")):
        if path.is_file() and os.access(path, os.X_OK) and path.suffix == "":
            sizes[path.name] = path.stat().st_size
    _, dup = run(["cargo", "tree", "--workspace", "--locked", "--duplicates", "--edges", "normal,build",
                  "--depth", "0", "--prefix", "none"])
    # `--duplicates` also lists one version twice when it is built for the host and the target:
    # keep only the names that really come in more than one version.
    dup_lines = sorted({line.split(" (")[0].strip() for line in dup.splitlines() if line.strip()})
    versions = {}
    for line in dup_lines:
        name, version = line.split()[:2]
        versions.setdefault(name, set()).add(version)
    dup_names = sorted(name for name, found in versions.items() if len(found) > 1)
    dup_lines = [line for line in dup_lines if line.split()[0] in dup_names]
    tls = {}
    markers = {"rustls": "rustls", "aws-lc-rs": "aws-lc-rs", "ring": "ring", "native-tls": "native-tls",
               "openssl": "openssl-sys"}
    for name in sizes:
        _, tree = run(["cargo", "tree", "--locked", "-p", name, "--edges", "normal", "--prefix", "none"])
        crates = {line.split()[0] for line in tree.splitlines() if line.strip()}
        tls[name] = [label for label, crate in markers.items() if crate in crates]
    return {"binary_bytes": sizes, "duplicates": dup_lines, "duplicate_names": dup_names, "tls": tls}


# ---- the report ----------------------------------------------------------------------------------


def fmt(s, digits=0, scale=1.0):
    return f"{s['median'] * scale:,.{digits}f} ({s['min'] * scale:,.{digits}f}–{s['max'] * scale:,.{digits}f})"


def fmt_ratio(s):
    return f"**{s['median']:.2f}×** ({s['min']:.2f}–{s['max']:.2f})"


def machine():
    cpu = "unknown CPU"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return f"{platform.system()} {platform.machine()}, {os.cpu_count()} cores ({cpu})"


def load():
    return " ".join(Path("/proc/loadavg").read_text().split()[:3])


def git(*args):
    return subprocess.run(["git", *args], capture_output=True, text=True, cwd=ROOT).stdout.strip()


def versions():
    import cassandra
    import pulsar
    import requests
    rustc = subprocess.run(["rustc", "--version"], capture_output=True, text=True).stdout.strip()
    return (f"{rustc}; Python {platform.python_version()}, cassandra-driver {cassandra.__version__}, "
            f"pulsar-client {pulsar.__version__}, requests {requests.__version__}")


def write_report(results, path):
    m = results["meta"]
    lines = [
        "# Benchmarks: the Rust samples next to the clients users would otherwise pick",
        "",
        f"Measured by `scripts/bench{m['args']}` on {m['date']} at commit `{m['commit']}`, against the local stack",
        f"(`astra-local`: Cassandra 5.0 behind Astra's TLS front door, Pulsar 4.0, the Stargate-compatible gateway).",
        "",
        f"- Machine: {m['machine']}. **Shared and noisy**: other builds ran at the same time.",
        f"- Load average (1/5/15 min): {m['load_before']} at the start, {m['load_after']} at the end.",
        f"- {m['versions']}.",
        *([f"- Merged: {m['merged']}."] if m.get("merged") else []),
        f"- Each pair ran back to back, {m['rounds']} rounds, alternating which side goes first. Cells are",
        "  **median (min–max)** over the rounds; a ratio is the median of the per-round ratios (same round,",
        "  same noise). Trust the ratios; absolute numbers are context only.",
        "",
    ]
    fl = results.get("floor")
    if fl:
        floor_ms = fl["metadata_ms"] + fl["proxy_tls_ms"] + fl["proxy_login_ms"]
        lines += [
            "## The floor: what one connect costs the server",
            "",
            "A client connecting through the bundle must at least fetch the metadata (HTTPS with the bundle's",
            "client certificate), open TLS to the proxy and log in once; Cassandra checks the password with",
            "bcrypt. Measured one step at a time by `astra-bench floor` (median of",
            f"{fl['rounds']}):",
            "",
            "| step | ms |",
            "| --- | ---: |",
            f"| metadata request (new HTTPS connection) | {fl['metadata_ms']:.1f} |",
            f"| TLS handshake with the proxy | {fl['proxy_tls_ms']:.1f} |",
            f"| one CQL login through the proxy (STARTUP + AUTH_RESPONSE) | {fl['proxy_login_ms']:.1f} |",
            f"| one CQL login straight to Cassandra, no TLS (bcrypt alone, nearly) | {fl['cassandra_login_ms']:.1f} |",
            f"| **floor: metadata + TLS + one login** | **{floor_ms:.1f}** |",
            "",
        ]
    c = results.get("connect")
    if c:
        lines += [
            "## CQL: connect, read `system.local`, exit (whole process)",
            "",
            "The original tutorial's Python program (`bench/python/tutorial_connect.py`: `Cluster(cloud=…,",
            "auth_provider=PlainTextAuthProvider('token', …))`, `select cluster_name from system.local`) against",
            "`sample-cql --connect-only` (connect, print release version and cluster name, exit), same bundle,",
            "same proxy. Wall time from process start to exit.",
            "",
            "| client | wall time, ms | × the floor |",
            "| --- | ---: | ---: |",
        ]
        for label, key in (("Python, cassandra-driver", "python_s"), ("Rust, sample-cql --connect-only", "rust_s")):
            x_floor = f"{c[key]['median'] * 1000 / floor_ms:.1f}×" if fl else "–"
            lines.append(f"| {label} | {fmt(c[key], 0, 1000)} | {x_floor} |")
        lines += ["", f"Python takes {fmt_ratio(c['ratio'])} as long as Rust.", ""]
    r = results.get("cql_reads")
    if r:
        lines += [
            f"## CQL: {m['cql_reads']:,} prepared-statement reads at concurrency {m['cql_concurrency']}",
            "",
            "`bench/python/cql_reads.py` (prepare once, `execute_async` with callbacks, 64 in flight) against",
            "`astra-bench cql` (scylla, prepare once, 64 futures in flight), one session each, same table.",
            "",
            "| client | reads/s | p50 ms | p99 ms | connect + prepare ms |",
            "| --- | ---: | ---: | ---: | ---: |",
        ]
        for label, key in (("Python, cassandra-driver", "python"), ("Rust, scylla", "rust")):
            lines.append(f"| {label} | {fmt(r['ops_per_s'][key])} | {fmt(r['p50_ms'][key], 2)} | "
                         f"{fmt(r['p99_ms'][key], 2)} | {fmt(r['connect_ms'][key])} |")
        lines += ["", f"Rust reads {fmt_ratio(r['ratio_ops'])} as many rows per second.", ""]
    p = results.get("pulsar")
    if p:
        lines += [
            f"## Pulsar: {m['pulsar_messages']:,} messages of {m['pulsar_size']:,} bytes, batching on, TLS + token",
            "",
            "`bench/python/pulsar_produce.py` (`pulsar-client`, the same steps and batching settings as the sample)",
            f"against `sample-pulsar-producer --messages {m['pulsar_messages']} --size {m['pulsar_size']}`: subscribe,",
            "send all with a key and properties, wait for every receipt (produce rate), then read all back",
            "and acknowledge each (consume rate, end to end).",
            "",
            "| client | produced msg/s | consumed msg/s |",
            "| --- | ---: | ---: |",
        ]
        for label, key in (("Python, pulsar-client", "python"), ("Rust, sample-pulsar-producer", "rust")):
            lines.append(f"| {label} | {fmt(p['produce_per_s'][key])} | {fmt(p['consume_per_s'][key])} |")
        lines += ["", f"Rust/Python: produce {fmt_ratio(p['ratio_produce_per_s'])}, consume "
                      f"{fmt_ratio(p['ratio_consume_per_s'])}.", ""]
    h = results.get("http")
    if h:
        lines += [
            f"## REST and Documents: {m['http_reads']:,} reads, sequential and at concurrency 32",
            "",
            "`bench/python/http_reads.py` (`requests`, one `Session` per thread) against `astra-bench rest|docs`",
            "(the samples' `common::http` reqwest client: one pool, retries, checked statuses). REST reads",
            "`GET /v2/keyspaces/{ks}/bench/{id}`, Documents `GET /v2/namespaces/{ks}/collections/benchdocs/doc-{id}`.",
            "",
            "| API | concurrency | Python reads/s | Rust reads/s | Rust/Python | Python p99 ms | Rust p99 ms |",
            "| --- | ---: | ---: | ---: | ---: | ---: | ---: |",
        ]
        for key, x in h.items():
            api, conc = key.split("@")
            lines.append(f"| {api} | {conc} | {fmt(x['ops_per_s']['python'])} | {fmt(x['ops_per_s']['rust'])} | "
                         f"{fmt_ratio(x['ratio_ops'])} | {fmt(x['p99_ms']['python'], 1)} | {fmt(x['p99_ms']['rust'], 1)} |")
        lines.append("")
    i = results.get("interfaces")
    if i:
        lines += [
            f"## What each interface costs: the same {m['interface_reads']:,} row reads from Rust",
            "",
            "`astra-bench cql|grpc|rest|docs|graphql`: one row by primary key per read, each interface through",
            "its usual client (scylla prepared statement; tonic `ExecuteQuery` with a bound value; reqwest GET;",
            "reqwest POST of a GraphQL query). Ratio = reads/s relative to CQL in the same round.",
            "",
            "| interface | concurrency | reads/s | p50 ms | p99 ms | vs CQL |",
            "| --- | ---: | ---: | ---: | ---: | ---: |",
        ]
        for conc, per in i.items():
            for name, x in per.items():
                lines.append(f"| {name} | {conc} | {fmt(x['ops_per_s'])} | {fmt(x['p50_ms'], 2)} | "
                             f"{fmt(x['p99_ms'], 2)} | {fmt_ratio(x['vs_cql'])} |")
        if "graphql" not in next(iter(i.values())):
            lines += ["", "GraphQL: not measured (STARGATE_GRAPHQL_URL is not set: the stack serves no GraphQL API yet)."]
        lines.append("")
    f = results.get("footprint")
    if f:
        lines += [
            "## Build and footprint",
            "",
            "| sample | release binary | TLS stacks compiled in |",
            "| --- | ---: | --- |",
        ]
        for name, size in f["binary_bytes"].items():
            lines.append(f"| {name} | {size / 1e6:.1f} MB | {', '.join(f['tls'].get(name, [])) or '–'} |")
        lines += [
            "",
            f"`cargo tree --workspace --duplicates` (normal and build edges): {len(f['duplicate_names'])} crates "
            f"in more than one version: {', '.join(f['duplicates'])}.",
            "",
        ]
    cb = results.get("cold_build")
    if cb:
        lines += [
            f"Cold `cargo build --workspace --release --locked` (fresh target dir, crates already downloaded): "
            f"**{cb['wall_s'] / 60:.1f} min** wall at commit `{cb['commit']}`, "
            f"{cb['date']}; load average {cb['load_before']} before, {cb['load_after']} after, on the shared "
            f"{os.cpu_count()}-core machine: a noisy number, an upper bound.",
            "",
        ]
    for note in results.get("notes", []):
        lines.append(note)
    lines += ["", "![results](results.png)", ""]
    Path(path).write_text("\n".join(lines))


def chart(results, path):
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(2, 3, figsize=(16, 9))
    fig.suptitle(f"astra-rust-samples vs reference clients ({results['meta']['date']}, median with min–max)")
    py_color, rs_color = "#3572A5", "#dea584"

    def bars(ax, labels, py_stats, rs_stats, title, ylabel, floor=None):
        xs = range(len(labels))
        for offset, data, color, name in ((-0.2, py_stats, py_color, "Python"), (0.2, rs_stats, rs_color, "Rust")):
            if data is None:
                continue
            med = [d["median"] for d in data]
            err = [[d["median"] - d["min"] for d in data], [d["max"] - d["median"] for d in data]]
            ax.bar([x + offset for x in xs], med, 0.4, yerr=err, color=color, label=name, capsize=3)
        if floor:
            ax.axhline(floor, color="gray", linestyle="--", label=f"floor {floor:.0f} ms")
        ax.set_xticks(list(xs))
        ax.set_xticklabels(labels)
        ax.set_title(title)
        ax.set_ylabel(ylabel)
        ax.legend(fontsize=8)

    fl = results.get("floor")
    floor_ms = fl["metadata_ms"] + fl["proxy_tls_ms"] + fl["proxy_login_ms"] if fl else None
    c = results.get("connect")
    if c:
        scale = lambda s: {k: (v * 1000 if k != "n" else v) for k, v in s.items()}  # noqa: E731
        bars(axes[0][0], ["connect + query + exit"], [scale(c["python_s"])], [scale(c["rust_s"])],
             "CQL connect (whole process)", "ms (lower is better)", floor_ms)
    r = results.get("cql_reads")
    if r:
        bars(axes[0][1], ["reads/s"], [r["ops_per_s"]["python"]], [r["ops_per_s"]["rust"]],
             "CQL prepared reads, concurrency 64", "reads/s (higher is better)")
    p = results.get("pulsar")
    if p:
        bars(axes[0][2], ["produce", "consume"], [p["produce_per_s"]["python"], p["consume_per_s"]["python"]],
             [p["produce_per_s"]["rust"], p["consume_per_s"]["rust"]], "Pulsar, 1 KiB messages", "msg/s")
    h = results.get("http")
    if h:
        keys = list(h)
        bars(axes[1][0], [k.replace("@", " c") for k in keys], [h[k]["ops_per_s"]["python"] for k in keys],
             [h[k]["ops_per_s"]["rust"] for k in keys], "REST / Documents reads", "reads/s")
    i = results.get("interfaces")
    if i:
        ax = axes[1][1]
        names = list(next(iter(i.values())))
        xs = range(len(names))
        for offset, conc, color in ((-0.2, "1", "#999999"), (0.2, "32", rs_color)):
            data = [i[conc][n]["ops_per_s"] for n in names]
            med = [d["median"] for d in data]
            err = [[d["median"] - d["min"] for d in data], [d["max"] - d["median"] for d in data]]
            ax.bar([x + offset for x in xs], med, 0.4, yerr=err, color=color, label=f"concurrency {conc}", capsize=3)
        ax.set_xticks(list(xs))
        ax.set_xticklabels(names)
        ax.set_title("Same reads per interface, from Rust")
        ax.set_ylabel("reads/s")
        ax.legend(fontsize=8)
    f = results.get("footprint")
    if f:
        ax = axes[1][2]
        names = list(f["binary_bytes"])
        ax.barh(names, [f["binary_bytes"][n] / 1e6 for n in names], color=rs_color)
        ax.set_title("Release binary size")
        ax.set_xlabel("MB")
    for ax in axes.flat:
        if not ax.has_data():
            ax.set_visible(False)
    fig.tight_layout()
    fig.savefig(path, dpi=90)


def main():
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--quick", action="store_true", help="a smoke run: 2 rounds, small counts")
    parser.add_argument("--rounds", type=int)
    parser.add_argument("--only", default="floor,connect,cql,pulsar,http,interfaces,footprint",
                        help="comma-separated subset")
    parser.add_argument("--out", default=str(ROOT / "bench" / "RESULTS.md"))
    parser.add_argument("--png", default=str(ROOT / "bench" / "results.png"))
    parser.add_argument("--json", default=str(ROOT / "target" / "bench" / "results.json"))
    parser.add_argument("--cold-build", default=str(ROOT / "target" / "bench" / "cold-build.json"))
    parser.add_argument("--args", default="", help="how scripts/bench was called (for the report)")
    parser.add_argument("--merge", action="store_true",
                        help="keep the sections of the last run (--json) that this run does not measure")
    a = parser.parse_args()
    only = set(a.only.split(","))
    q = a.quick
    rounds = a.rounds or (2 if q else 5)
    meta = {
        "date": datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
        "commit": git("rev-parse", "--short", "HEAD") + (" + uncommitted changes" if git("status", "--porcelain", "--untracked-files=no") else ""),
        "machine": machine(), "versions": versions(), "load_before": load(), "rounds": rounds, "args": a.args,
        "cql_reads": 1000 if q else 10000, "cql_concurrency": 64,
        "pulsar_messages": 5000 if q else 100000, "pulsar_size": 1024,
        "http_reads": 200 if q else 1000, "interface_reads": 200 if q else 1000,
    }
    results = {"meta": meta}
    if a.merge and Path(a.json).exists():
        earlier = json.loads(Path(a.json).read_text())
        measured = sorted(only)
        meta["merged"] = (f"{', '.join(measured)} measured on {meta['date']} at `{meta['commit']}`; "
                          f"the other sections come from the run of {earlier['meta']['date']}")
        results = {**earlier, "meta": {**earlier["meta"], "merged": meta["merged"]}}
    log("setup: the table `bench` and the collection `benchdocs`")
    run([BIN / "astra-bench", "setup"])
    if "floor" in only:
        results["floor"] = floor(3 if q else 10)
    if "connect" in only:
        results["connect"] = connect_pair(3 if q else max(10, rounds * 2))
    if "cql" in only:
        results["cql_reads"] = reads_pair(rounds, meta["cql_reads"], meta["cql_concurrency"])
    if "pulsar" in only:
        results["pulsar"] = pulsar_pair(1 if q else max(3, rounds - 2), meta["pulsar_messages"], meta["pulsar_size"])
    if "http" in only:
        results["http"] = {f"{api}@{conc}": http_pair(rounds, api, meta["http_reads"], conc)
                           for api in ("rest", "docs") for conc in (1, 32)}
    if "interfaces" in only:
        results["interfaces"] = interfaces(rounds, meta["interface_reads"])
    if "footprint" in only:
        results["footprint"] = footprint()
    if Path(a.cold_build).exists():
        results["cold_build"] = json.loads(Path(a.cold_build).read_text())
    meta["load_after"] = load()
    Path(a.json).parent.mkdir(parents=True, exist_ok=True)
    Path(a.json).write_text(json.dumps(results, indent=1))
    write_report(results, a.out)
    chart(results, a.png)
    log(f"wrote {a.out} and {a.png} (raw numbers: {a.json})")


if __name__ == "__main__":
    main()
