# SPDX-License-Identifier: MIT
"""The token stays secret and goes in the Circle-Token header only; the
request URLs are encoded and paged as the CircleCI API expects."""

import os
import sys
import unittest
import urllib.parse

# Keep the source tree free of __pycache__ folders.
sys.dont_write_bytecode = True
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import expected  # noqa: E402
import harness  # noqa: E402

# The fake API returns 401 to any request without this Circle-Token.
TOKEN = "cie-integ-TOKEN-8d2e6a51c7b9"

PREVIEW = "gh/CircleCI-Public/api-preview-docs"
STANDALONE = ("circleci/8e3bd2c4-0b9a-4f2e-9d62-3a1c7f5e6b10/"
              "4c7a1f93-5d2e-4b8a-a0c6-9e1d2f3b4a57")
BILLING = "bb/acme/billing"
API_PREFIX = "/api/v2"

ENCODED_WORKFLOWS = [
    "deploy%20%22prod%22%20%5C%20eu",
    "lint%2Funit",
    "caf%C3%A9",
]


def query_params(entry):
    """The query of a request log entry as a list of (name, value),
    percent-decoded."""
    return urllib.parse.parse_qsl(entry["query"], keep_blank_values=True)


def param_names(entry):
    return [name for name, _ in query_params(entry)]


class TokenTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.workdir = harness.temp_dir(cls)
        cls.api = harness.start_fake_api(cls, cls.workdir, token=TOKEN)
        # One refresh only, so the request log contains each request once.
        text = harness.derive_config(harness.demo_config_text(),
                                     interval="1h")
        config = harness.write_file(os.path.join(cls.workdir, "hourly.yml"),
                                    text)
        cls.exporter = harness.start_exporter(
            cls, cls.workdir, config,
            env=harness.demo_env(cls.api, token=TOKEN))
        cls.exporter.wait_ready()
        cls.text = cls.exporter.scrape_text()
        cls.log = cls.api.request_log()

    def entries_of(self, slug):
        return [e for e in self.log
                if e["path"].startswith(API_PREFIX + "/insights/" + slug + "/")
                or e["path"] == API_PREFIX + "/project/" + slug]

    def test_log_not_empty(self):
        self.assertGreater(len(self.log), 0, "expected API requests")
        for slug in expected.DEMO_SLUGS:
            with self.subTest(project=slug):
                self.assertTrue(self.entries_of(slug),
                                "expected requests for the project")

    def test_token_not_in_stderr(self):
        self.assertNotIn(TOKEN, self.exporter.stderr())

    def test_token_not_in_metrics(self):
        self.assertNotIn(TOKEN, self.text)
        gz = self.exporter.scrape({"Accept-Encoding": "gzip"})
        self.assertNotIn(TOKEN.encode(), gz.body)

    def test_token_not_in_check_config(self):
        result = harness.run_exporter(
            ["--config.file=" + harness.demo_config_path(),
             "--check-config"],
            env=harness.demo_env(self.api, token=TOKEN))
        self.assertEqual(result.returncode, 0, result.stderr)
        self.assertNotIn(TOKEN, result.stdout)
        self.assertNotIn(TOKEN, result.stderr)

    def test_token_not_in_urls(self):
        for entry in self.log:
            url = entry["path"] + "?" + entry["query"]
            with self.subTest(url=url):
                self.assertNotIn(TOKEN, urllib.parse.unquote(url))
                self.assertNotIn("circle-token", url.lower())

    def test_every_request_authenticated(self):
        rejected = [e["path"] for e in self.log if e["status"] == 401]
        self.assertEqual(rejected, [], "expected no 401 responses")
        codes = harness.select(harness.parse_samples(self.text),
                               "circleci_exporter_api_requests_total",
                               code="401")
        self.assertEqual(codes, {}, "expected no api_requests_total with "
                         "code 401")
        statuses = sorted({e["status"] for e in self.log})
        self.assertEqual(statuses, [200])

    def test_request_headers(self):
        for entry in self.log:
            with self.subTest(path=entry["path"]):
                self.assertEqual(entry["accept"], "application/json")
                self.assertRegex(entry["user_agent"] or "",
                                 r"^circleci-insights-exporter/\S+")

    def test_workflow_names_percent_encoded(self):
        paths = {e["path"] for e in self.entries_of(STANDALONE)}
        base = API_PREFIX + "/insights/" + STANDALONE + "/workflows/"
        for name in ENCODED_WORKFLOWS:
            with self.subTest(workflow=name):
                self.assertIn(base + name, paths, "expected the runs request")
                self.assertIn(base + name + "/jobs", paths,
                              "expected the jobs request")

    def test_named_branch_encoded(self):
        queries = [e["query"] for e in self.entries_of(STANDALONE)
                   if "/workflows" in e["path"]]
        release = [q for q in queries if "release" in q]
        self.assertTrue(release, "expected requests for release/2.0")
        for query in release:
            with self.subTest(query=query):
                self.assertIn("branch=release%2F2.0", query.split("&"))
        main = [q for q in queries if "branch=main" in q.split("&")]
        self.assertTrue(main, "expected requests for main")

    def test_all_branches_for_star(self):
        entries = [e for e in self.entries_of(BILLING)
                   if "/workflows" in e["path"]]
        self.assertTrue(entries, "expected insights requests")
        for entry in entries:
            with self.subTest(path=entry["path"], query=entry["query"]):
                params = query_params(entry)
                self.assertIn(("all-branches", "true"), params)
                self.assertNotIn("branch", [n for n, _ in params])

    def test_default_branch_sends_no_branch(self):
        entries = [e for e in self.entries_of(PREVIEW)
                   if "/workflows" in e["path"]]
        self.assertTrue(entries, "expected insights requests")
        for entry in entries:
            with self.subTest(path=entry["path"], query=entry["query"]):
                names = param_names(entry)
                self.assertNotIn("branch", names)
                self.assertNotIn("all-branches", names)

    def paged_requests(self, path, window):
        """Log entries of one paged response of the standalone project's main
        branch, in the order they arrived."""
        want = {("branch", "main"), ("reporting-window", window)}
        return [e for e in self.log if e["path"] == path and
                {p for p in query_params(e) if p[0] != "page-token"} == want]

    def check_three_pages(self, pages):
        tokens = [dict(query_params(e)).get("page-token") for e in pages]
        self.assertEqual(len(pages), 3, "expected 3 requests of the paged "
                         "response, seen %d: %s"
                         % (len(pages), [e["query"] for e in pages]))
        self.assertIsNone(tokens[0], "expected the first request without "
                          "page-token, seen %r" % pages[0]["query"])
        self.assertEqual(len(set(tokens[1:]) - {None}), 2,
                         "expected two distinct page tokens, seen %s"
                         % tokens[1:])
        for entry in pages:
            with self.subTest(query=entry["query"]):
                self.assertEqual(entry["status"], 200)
                self.assertLessEqual(param_names(entry).count("page-token"),
                                     1)
        for entry in pages[1:]:
            with self.subTest(query=entry["query"]):
                # The fake API's tokens start with "+/+/", which must be
                # percent-encoded in a query.
                self.assertIn("page-token=%2B%2F%2B%2F", entry["query"])

    def test_three_workflow_pages_fetched(self):
        path = API_PREFIX + "/insights/" + STANDALONE + "/workflows"
        self.check_three_pages(self.paged_requests(path, "last-7-days"))

    def test_three_job_pages_fetched(self):
        # The fake API serves the five jobs of this response two per page.
        path = (API_PREFIX + "/insights/" + STANDALONE +
                "/workflows/build-and-test/jobs")
        self.check_three_pages(self.paged_requests(path, "last-7-days"))

if __name__ == "__main__":
    harness.main()
