# SPDX-License-Identifier: MIT
"""Generate fake CircleCI API fixtures for the benchmark.

One directory per size: routes.json for tests/fake_api, the response files,
and manifest.tsv, which maps each file to its project and workflow for
render_bench.c. Values look like real Insights responses: reals with
all their digits, ISO 8601 timestamps with milliseconds, and a list of runs
per workflow. Every project has one reporting window (last-7-days) and
is polled on its default branch, so no request carries a branch parameter.
The output is deterministic for a given size.
"""

import json
import os
import random
from datetime import datetime, timedelta, timezone
from urllib.parse import quote

# name: (projects, workflows per project, jobs per workflow)
SIZES = {
    "small": (5, 5, 5),
    "medium": (50, 5, 8),
    "large": (200, 10, 10),
}

WINDOW = "last-7-days"
DEFAULT_BRANCH = "main"
ORG = "gh/bench-org"
# Items per page of every paged route. The large size has two pages of
# workflows and of jobs. Every runs list (RUNS_PER_WORKFLOW) spans two
# pages, of which the exporter needs only the first.
PAGE_SIZE = 8
RUNS_PER_WORKFLOW = 12

WORKFLOW_NAMES = [
    "build-and-test", "deploy-production", "nightly-e2e", "lint", "release",
    "security-scan", "docs", "canary-rollout", "db-migrations", "benchmarks",
]
JOB_NAMES = [
    "checkout-code", "install-dependencies", "unit-tests", "integration-tests",
    "build-image", "push-image", "static-analysis", "coverage-report",
    "deploy-staging", "smoke-tests",
]
RUN_STATUSES = ["success"] * 8 + ["failed", "failed", "error", "canceled"]

# The end of every reporting window, fixed so that the output is reproducible.
WINDOW_END = datetime(2024, 12, 3, 23, 58, 10, 776000, tzinfo=timezone.utc)


def iso(t):
    """Format t as the API does: UTC with milliseconds, e.g. 2024-12-03T23:58:10.776Z."""
    return t.strftime("%Y-%m-%dT%H:%M:%S.") + "%03dZ" % (t.microsecond // 1000)


def project_slug(index):
    return "%s/service-%03d" % (ORG, index)


def duration_metrics(rng, base):
    """Return duration_metrics in whole seconds and a real standard deviation, as the API sends them."""
    low = max(1, int(base * rng.uniform(0.4, 0.8)))
    high = int(base * rng.uniform(1.5, 3.0)) + low
    median = rng.randint(low, (low + high) // 2)
    return {
        "min": low,
        "max": high,
        "median": median,
        "mean": median + rng.randint(0, max(1, (high - median) // 4)),
        "p95": rng.randint((median + high) // 2, high),
        "standard_deviation": rng.uniform(0.05, 0.3) * base,
    }


def summary_item(rng, name, window_start, workflow):
    total = rng.randint(3, 900)
    failed = rng.randint(0, total // 4)
    metrics = {
        "success_rate": (total - failed) / total,
        "total_runs": total,
        "failed_runs": failed,
        "successful_runs": total - failed,
        "throughput": total / 7,
    }
    if workflow:
        metrics["mttr"] = rng.randint(300, 90000)
    metrics["duration_metrics"] = duration_metrics(rng, rng.randint(20, 3000))
    metrics["total_credits_used"] = rng.randint(10, 5000000)
    if workflow:
        metrics["total_recoveries"] = rng.randint(0, max(0, failed))
    item = {
        "name": name,
        "metrics": metrics,
        "window_start": iso(window_start + timedelta(milliseconds=rng.randint(0, 3600000))),
        "window_end": iso(WINDOW_END - timedelta(milliseconds=rng.randint(0, 3600000))),
    }
    return item


def runs_page(rng, workflow_id_prefix):
    """Return the runs of one workflow, newest first, as GET /insights/{slug}/workflows/{name} lists them."""
    items = []
    created = WINDOW_END - timedelta(milliseconds=rng.randint(0, 7200000))
    for k in range(RUNS_PER_WORKFLOW):
        duration = rng.randint(30, 4000)
        items.append({
            "id": "%s-%04d-4000-8000-%012x" % (workflow_id_prefix, k, rng.getrandbits(48)),
            "branch": DEFAULT_BRANCH,
            "duration": duration,
            "created_at": iso(created),
            "stopped_at": iso(created + timedelta(seconds=duration,
                                                  milliseconds=rng.randint(0, 999))),
            "credits_used": rng.randint(5, 60000),
            "status": rng.choice(RUN_STATUSES),
            "is_approval": False,
        })
        created -= timedelta(milliseconds=rng.randint(600000, 40000000))
    return {"next_page_token": None, "items": items}


def write_json(root, rel, obj):
    with open(os.path.join(root, rel), "w", encoding="utf-8") as f:
        json.dump(obj, f, separators=(",", ":"))


def pages(count):
    """Return the number of pages the fake API serves for a list of count items (at least one)."""
    return max(1, -(-count // PAGE_SIZE))


def generate(size, root):
    """Write the fixtures of size into root; return the expected request counts."""
    project_count, workflow_count, job_count = SIZES[size]
    rng = random.Random("circleci-insights-exporter bench " + size)
    window_start = WINDOW_END - timedelta(days=7)
    routes, manifest = [], []
    minimum = {"project": 0, "workflows": 0, "jobs": 0, "runs": 0}
    os.makedirs(root, exist_ok=True)

    for p in range(project_count):
        slug = project_slug(p + 1)
        pdir = "p%03d" % (p + 1)
        os.makedirs(os.path.join(root, pdir), exist_ok=True)
        write_json(root, pdir + "/project.json", {
            "slug": slug,
            "name": slug.rsplit("/", 1)[1],
            "id": "%08x-1111-4222-8333-%012x" % (p + 1, rng.getrandbits(48)),
            "organization_name": "bench-org",
            "organization_slug": ORG,
            "organization_id": "0b5e1c2d-7f3a-4e9b-8c6d-2a1f0e9d8c7b",
            "vcs_info": {"vcs_url": "https://github.com/" + slug[3:],
                         "provider": "GitHub", "default_branch": DEFAULT_BRANCH},
        })
        routes.append({"path": "/project/" + slug, "query": {},
                       "file": pdir + "/project.json"})
        manifest.append(("P", slug, pdir + "/project.json"))
        minimum["project"] += 1

        workflows = WORKFLOW_NAMES[:workflow_count]
        write_json(root, pdir + "/workflows.json", {
            "next_page_token": None,
            "items": [summary_item(rng, w, window_start, True) for w in workflows],
        })
        routes.append({"path": "/insights/%s/workflows" % slug,
                       "query": {"reporting-window": WINDOW},
                       "file": pdir + "/workflows.json", "page_size": PAGE_SIZE})
        manifest.append(("W", pdir + "/workflows.json"))
        minimum["workflows"] += pages(len(workflows))

        for w, name in enumerate(workflows):
            jobs = JOB_NAMES[:job_count]
            jobs_file = "%s/jobs-%02d.json" % (pdir, w)
            runs_file = "%s/runs-%02d.json" % (pdir, w)
            write_json(root, jobs_file, {
                "next_page_token": None,
                "items": [summary_item(rng, j, window_start, False) for j in jobs],
            })
            write_json(root, runs_file, runs_page(rng, "%08x" % (p * 100 + w)))
            base = "/insights/%s/workflows/%s" % (slug, quote(name, safe=""))
            routes.append({"path": base + "/jobs",
                           "query": {"reporting-window": WINDOW},
                           "file": jobs_file, "page_size": PAGE_SIZE})
            routes.append({"path": base, "query": {}, "file": runs_file,
                           "page_size": PAGE_SIZE})
            manifest.append(("J", name, jobs_file))
            manifest.append(("R", name, runs_file))
            minimum["jobs"] += pages(len(jobs))
            minimum["runs"] += 1

    with open(os.path.join(root, "routes.json"), "w", encoding="utf-8") as f:
        json.dump(routes, f, indent=1)
    with open(os.path.join(root, "manifest.tsv"), "w", encoding="utf-8") as f:
        for row in manifest:
            f.write("\t".join(row) + "\n")
    return {
        "projects": [project_slug(p + 1) for p in range(project_count)],
        "minimum": minimum,
    }
