# SPDX-License-Identifier: MIT
"""Markdown report of a benchmark run (see bench.py): the machine, the
method, the figures per size and the targets, each marked met or missed.

write_docs() keeps the hand-written analysis that follows NOTES_MARKER in
an existing docs/benchmarks.md, so that a new run replaces only the numbers.
"""

import json
import os
import platform
import re
import subprocess
import time

import fixtures

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(os.path.dirname(HERE))

NOTES_MARKER = ("<!-- Hand-written analysis below this line; "
                "tests/bench/run --write-docs keeps it. -->")

# Targets. Render times are CPU time of the rendering thread. RSS is in MiB
# because the kB of /proc are KiB.
TEXT_RENDER_MS = {"medium": 20.0, "large": 300.0}
PEAK_RSS_MIB = {"medium": 32.0, "large": 256.0}
THROUGHPUT_RATIO_MIN = 0.8
GZIP_CPU_RATIO_MAX = 1.25

ZLIB_LEVELS = {"Z_NO_COMPRESSION": 0, "Z_BEST_SPEED": 1, "Z_BEST_COMPRESSION": 9,
               "Z_DEFAULT_COMPRESSION": 6}


def run_command(argv):
    try:
        return subprocess.run(argv, capture_output=True, text=True,
                              check=False).stdout.strip()
    except OSError:
        return ""


def zlib_level():
    """The level that exporter/render.c passes to deflateInit2()."""
    with open(os.path.join(REPO, "exporter", "render.c")) as f:
        m = re.search(r"deflateInit2\s*\(\s*\w+\s*,\s*(\w+)", f.read())
    if not m:
        return "unknown"
    word = m.group(1)
    return "%s = %d" % (word, ZLIB_LEVELS[word]) if word in ZLIB_LEVELS else word


def machine():
    """Return (name, value) rows that describe this machine and the tools' versions."""
    model = "unknown"
    with open("/proc/cpuinfo") as f:
        for line in f:
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    with open("/proc/meminfo") as f:
        mem_kib = int(f.readline().split()[1])
    nginx = subprocess.run(["nginx", "-v"], capture_output=True, text=True,
                           check=False).stderr.strip().split("/")[-1]
    wrk = run_command(["wrk", "-v"]).split("\n")[0].split()
    system = platform.platform()
    if os.path.exists("/etc/debian_version"):
        with open("/etc/debian_version") as f:
            system = "Debian " + f.read().strip()
    return [
        ("CPU", model),
        ("cores", str(os.cpu_count())),
        ("memory", "%.1f GiB" % (mem_kib / 1048576)),
        ("kernel", platform.release()),
        ("OS", system),
        ("compiler", run_command(["cc", "--version"]).split("\n")[0]),
        ("libmicrohttpd", run_command(["pkg-config", "--modversion", "libmicrohttpd"])),
        ("zlib", run_command(["pkg-config", "--modversion", "zlib"])),
        ("nginx", nginx),
        ("wrk", wrk[1] if len(wrk) > 1 else "unknown"),
    ]


def revision():
    rev = run_command(["git", "-C", REPO, "rev-parse", "--short=12", "HEAD"])
    dirty = subprocess.run(["git", "-C", REPO, "diff", "--quiet", "HEAD", "--",
                            "exporter"], check=False).returncode != 0
    return (rev or "unknown") + (" with uncommitted changes in exporter/" if dirty else "")


def total_requests(r):
    return sum(r["requests"].values())


def rate_floor(r, run):
    """Return the seconds that the token bucket alone needs for the requests of a refresh."""
    return max(0.0, (total_requests(r) - run["burst"]) / run["rate"])


def ratio(a, b):
    return a / b if b else float("inf")


def results_table(results, run):
    rows = []

    def row(label, fn):
        rows.append("| %s | %s |" % (label, " | ".join(fn(r) for r in results)))

    def ms(us):
        return "%.1f" % (us / 1000)

    row("projects × workflows × jobs", lambda r: "%d × %d × %d" % tuple(r["shape"]))
    row("series (`circleci_exporter_series`)", lambda r: "{:,}".format(r["series"]))
    row("exposition, plain (bytes)", lambda r: "{:,}".format(r["plain_bytes"]))
    row("exposition, gzip as served (bytes)", lambda r: "{:,}".format(r["gzip_bytes"]))
    row("full refresh: wall (s)", lambda r: "%.2f" % r["refresh_wall_s"])
    row("full refresh: rate-limit floor (s)", lambda r: "%.2f" % rate_floor(r, run))
    row("full refresh: exporter CPU (s)", lambda r: "%.2f" % r["refresh_cpu_s"])
    row("API requests per refresh / minimum",
        lambda r: "%d / %d" % (total_requests(r), sum(r["minimum"].values())))
    row("render, text + deflate, all projects (ms CPU / wall)",
        lambda r: "%.1f / %.1f" % (r["render"]["render_ms"], r["render"]["render_wall_ms"]))
    row("render, deflate alone (ms CPU / wall)",
        lambda r: "%.1f / %.1f" % (r["render"]["deflate_ms"], r["render"]["deflate_wall_ms"]))
    row("render, text: difference of the two (ms CPU)",
        lambda r: "%.1f" % r["render"]["text_ms"])
    row("snapshot build (ms CPU / wall)",
        lambda r: "%.2f / %.2f" % (r["render"]["snapshot_ms"], r["render"]["snapshot_wall_ms"]))
    row("VmRSS at `/-/ready` (MiB)", lambda r: "%.1f" % (r["rss_after_refresh_kib"] / 1024))
    row("peak RSS: VmHWM after the load (MiB)", lambda r: "%.1f" % (r["peak_rss_kib"] / 1024))
    for enc in ("plain", "gzip"):
        e, n = "exporter_" + enc, "nginx_" + enc
        row("%s: exporter req/s" % enc, lambda r, e=e: "%.0f" % r[e]["rps"])
        row("%s: nginx req/s" % enc, lambda r, n=n: "%.0f" % r[n]["rps"])
        row("%s: req/s of each round, exporter; nginx" % enc,
            lambda r, e=e, n=n: "%s; %s" % (", ".join("%.0f" % v for v in r[e]["rounds_rps"]),
                                            ", ".join("%.0f" % v for v in r[n]["rounds_rps"])))
        row("%s: throughput exporter / nginx" % enc,
            lambda r, e=e, n=n: "%.2f" % ratio(r[e]["rps"], r[n]["rps"]))
        row("%s: exporter latency p50 / p99 (ms)" % enc,
            lambda r, e=e: "%s / %s" % (ms(r[e]["p50_us"]), ms(r[e]["p99_us"])))
        row("%s: nginx latency p50 / p99 (ms)" % enc,
            lambda r, n=n: "%s / %s" % (ms(r[n]["p50_us"]), ms(r[n]["p99_us"])))
        row("%s: exporter CPU per scrape (µs)" % enc,
            lambda r, e=e: "%.0f" % r[e]["cpu_us_per_request"])
        row("%s: nginx CPU per request (µs)" % enc,
            lambda r, n=n: "%.0f" % r[n]["cpu_us_per_request"])
        row("%s: CPU per request exporter / nginx" % enc,
            lambda r, e=e, n=n: "%.2f" % ratio(r[e]["cpu_us_per_request"],
                                               r[n]["cpu_us_per_request"]))
    head = "| | " + " | ".join(r["size"] for r in results) + " |"
    return "\n".join([head, "|---" * (len(results) + 1) + "|"] + rows)


def targets(results):
    """Return (target, measured, met) for every target whose size was measured."""
    by = {r["size"]: r for r in results}
    out = []
    if "medium" in by:
        r = by["medium"]
        for enc in ("plain", "gzip"):
            e, n = r["exporter_" + enc]["rps"], r["nginx_" + enc]["rps"]
            out.append(("medium, %s: throughput ≥ %.1f × nginx" % (enc, THROUGHPUT_RATIO_MIN),
                        "%.2f × (%.0f vs %.0f req/s)" % (ratio(e, n), e, n),
                        ratio(e, n) >= THROUGHPUT_RATIO_MIN))
        e = r["exporter_gzip"]["cpu_us_per_request"]
        n = r["nginx_gzip"]["cpu_us_per_request"]
        out.append(("medium: exporter CPU per gzip scrape ≤ %.2f × nginx CPU per request"
                    % GZIP_CPU_RATIO_MAX,
                    "%.2f × (%.0f vs %.0f µs)" % (ratio(e, n), e, n),
                    ratio(e, n) <= GZIP_CPU_RATIO_MAX))
    for size, limit in TEXT_RENDER_MS.items():
        if size in by:
            v = by[size]["render"]["text_ms"]
            out.append(("%s: text render < %g ms (CPU)" % (size, limit), "%.1f ms" % v,
                        v < limit))
    for size, limit in PEAK_RSS_MIB.items():
        if size in by:
            v = by[size]["peak_rss_kib"] / 1024
            out.append(("%s: peak RSS < %g MiB" % (size, limit), "%.1f MiB" % v, v < limit))
    for size in fixtures.SIZES:
        if size in by:
            got, low = total_requests(by[size]), sum(by[size]["minimum"].values())
            out.append(("%s: API requests per refresh = minimum" % size,
                        "%d / %d" % (got, low), got == low))
    return out


def method(run):
    return [
        "## What is measured",
        "",
        "- Fixtures: `tests/bench/fixtures.py` writes the fake CircleCI API's responses",
        "  for each size into `build-bench/bench/SIZE/fixtures`: one reporting window",
        "  (%s), the default branch, reals with all their digits, ISO 8601" % fixtures.WINDOW,
        "  timestamps with milliseconds and %d runs per workflow. Lists are paged by %d"
        % (fixtures.RUNS_PER_WORKFLOW, fixtures.PAGE_SIZE),
        "  items, so the large size's workflow and job lists take two pages, and every",
        "  runs list has a second page that the exporter does not need.",
        "- Exporter: the CMake `Release` build, with a rate limit of %d requests/s, a burst"
        % run["rate"],
        "  of %d, `max_concurrency: %d` and a 1h interval, so that one refresh happens"
        % (run["burst"], run["concurrency"]),
        "  during the run.",
        "- Full refresh: wall time from starting the process until `/-/ready` returns",
        "  200 (polled every 5 ms), and the process's utime + stime from",
        "  `/proc/PID/stat` over the same span. The rate-limit floor is",
        "  (requests − burst) / rate.",
        "- API requests: counted in the fake API's request log after the refresh. The",
        "  minimum per project is 1 project lookup, the pages of the workflow list, and",
        "  for each workflow the pages of its job list and 1 runs request.",
        "- Render: `tests/bench/render_bench.c`, linked against `libcie_core.a`, loads the",
        "  fixture files through `cie_parse_summary_page`, `cie_parse_runs_page` and the",
        "  `cie_store_put_*` functions, then times `cie_render_project` for all projects",
        "  (text and deflate together), the same family texts deflated again with",
        "  `cie_render_deflate_piece` (deflate alone), and `cie_snapshot_build`. The",
        "  figures are medians of %d iterations after one untimed pass, in CPU time of"
        % run["iterations"],
        "  the benchmark thread and in wall time. The text time is the first CPU time",
        "  minus the second. The targets use CPU time, because wall time also counts",
        "  waits for a core when other processes run.",
        "- Load: wrk with %d threads and %d keep-alive connections, %d s per run, on the"
        % (run["wrk_threads"], run["wrk_connections"], run["duration"]),
        "  same cores as the server. Each round runs wrk against the exporter and then",
        "  nginx, without and then with `Accept-Encoding: gzip`. There are %d rounds,"
        % run["rounds"],
        "  and every figure is the median over the rounds. CPU per request is the",
        "  server's utime + stime delta over a wrk run divided by the requests that",
        "  wrk completed, with nginx's master and workers summed.",
        "- nginx: `worker_processes 2`, `access_log off`, keep-alive, `sendfile on`,",
        "  serving the exporter's plain response saved to a file and, with `gzip_static",
        "  on`, the exporter's gzip response saved next to it as `metrics.gz`.",
        "- Peak RSS: `VmHWM` from `/proc/PID/status` after all wrk runs, in MiB",
        "  because the kB of `/proc` are KiB. The RSS targets are read as MiB.",
        "",
    ]


def checks(results):
    lines = ["## Checks of this run", ""]
    for r in results:
        errors = sum(r[k]["errors"] for k in ("exporter_plain", "exporter_gzip",
                                              "nginx_plain", "nginx_gzip"))
        lines.append(
            "- %s: requests by endpoint %s (minimum %s); responses other than 200: %d; "
            "API requests during the load: %d; wrk errors: %d."
            % (r["size"], json.dumps(r["requests"]), json.dumps(r["minimum"]),
               r["requests_not_ok"], r["requests_during_load"], errors))
    return lines + [""]


def render(results, run):
    """Return the report as Markdown text."""
    lines = [
        "# Benchmarks",
        "",
        "Every number on this page comes from one run of `tests/bench/run` on the",
        "machine below. To measure another machine:",
        "",
        "```sh",
        "tests/bench/run                 # prints the report",
        "tests/bench/run --write-docs    # and writes it to docs/benchmarks.md",
        "```",
        "",
        "## Machine and run",
        "",
        "| | |",
        "|---|---|",
    ]
    lines += ["| %s | %s |" % row for row in machine()]
    lines += [
        "| exporter revision | %s |" % revision(),
        "| zlib level of the exporter | %s (`deflateInit2` in `exporter/render.c`) |"
        % zlib_level(),
        "| command | `%s` |" % run["command"],
        "| date | %s |" % time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime(run["started"])),
        "| run time | %.0f s |" % (time.time() - run["started"]),
        "| load average (1, 5, 15 min) at the start, at the end | %s; %s |"
        % (" ".join("%.2f" % v for v in run["load_at_start"]),
           " ".join("%.2f" % v for v in os.getloadavg())),
        "",
    ]
    lines += method(run)
    lines += ["## Results", "", results_table(results, run), ""]
    lines += ["## Targets", "", "| target | measured | result |", "|---|---|---|"]
    for name, measured, met in targets(results):
        lines.append("| %s | %s | %s |" % (name, measured,
                                             "met" if met else "**missed**, see the analysis"))
    lines += [""]
    lines += checks(results)
    return "\n".join(lines) + "\n"


def write_docs(path, text):
    """Write text to path, keeping the hand-written part of the old file."""
    notes = ""
    if os.path.exists(path):
        with open(path) as f:
            old = f.read()
        if NOTES_MARKER in old:
            notes = old[old.index(NOTES_MARKER) + len(NOTES_MARKER):]
    with open(path, "w") as f:
        f.write(text + "\n" + NOTES_MARKER + (notes or "\n"))
