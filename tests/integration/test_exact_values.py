# SPDX-License-Identifier: MIT
"""Every CircleCI sample of /metrics equals the value computed from the
fixture files, and the whole response is valid Prometheus text."""

import os
import shutil
import subprocess
import sys
import unittest

# Keep the source tree free of __pycache__ folders.
sys.dont_write_bytecode = True
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import expected  # noqa: E402
import harness  # noqa: E402

CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"

BUILD_RATIO_LINE = (
    'circleci_workflow_success_ratio{project="gh/CircleCI-Public/'
    'api-preview-docs",workflow="build",branch="master",'
    'window="last-7-days"} 0.5975609756097561\n')

EXPORTER_FAMILIES = [
    "circleci_exporter_build_info",
    "circleci_exporter_project_up",
    "circleci_exporter_last_refresh_timestamp_seconds",
    "circleci_exporter_refresh_duration_seconds",
    "circleci_exporter_next_refresh_timestamp_seconds",
    "circleci_exporter_api_requests_total",
    "circleci_exporter_api_parse_errors_total",
    "circleci_exporter_series",
    "process_cpu_seconds_total",
    "process_resident_memory_bytes",
    "process_open_fds",
    "process_start_time_seconds",
]

PER_PROJECT_FAMILIES = [
    "circleci_exporter_last_refresh_timestamp_seconds",
    "circleci_exporter_refresh_duration_seconds",
    "circleci_exporter_next_refresh_timestamp_seconds",
]


class ExactValuesTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        workdir = harness.temp_dir(cls)
        api = harness.start_fake_api(cls, workdir)
        cls.exporter = harness.start_exporter(
            cls, workdir, harness.demo_config_path(),
            env=harness.demo_env(api))
        cls.exporter.wait_ready()
        cls.response = cls.exporter.scrape({"Accept-Encoding": "identity"})
        cls.text = cls.response.text

    def setUp(self):
        self.expected = expected.expected_samples(harness.fixtures_dir())
        self.samples = harness.parse_samples(self.text, as_text=True)
        self.circleci = expected.circleci_only(self.samples)

    def test_every_expected_sample_present_with_value(self):
        for key, value in sorted(self.expected.items(),
                                 key=lambda kv: harness.format_key(kv[0])):
            with self.subTest(series=harness.format_key(key)):
                self.assertIn(key, self.circleci,
                              "expected series missing, value %s" % value)
                self.assertEqual(self.circleci[key], value,
                                 "expected value %s, seen %s"
                                 % (value, self.circleci[key]))

    def test_no_unexpected_circleci_sample(self):
        extra = sorted(harness.format_key(k) + " " + v
                       for k, v in self.circleci.items()
                       if k not in self.expected)
        self.assertEqual(extra, [], "expected no CircleCI samples beyond "
                         "the fixtures, seen %d extra" % len(extra))

    def test_expected_model_is_not_empty(self):
        # A broken model that expects nothing would pass the tests above.
        names = {k[0] for k in self.expected}
        for prefix in ("circleci_workflow_runs", "circleci_job_runs",
                       "circleci_workflow_last_run_status",
                       "circleci_project_info"):
            self.assertIn(prefix, names)

    def test_build_success_ratio_line_literal(self):
        self.assertIn(BUILD_RATIO_LINE, self.text)

    def test_promtool_check_metrics_silent(self):
        promtool = shutil.which("promtool")
        self.assertIsNotNone(promtool, "expected promtool on PATH (Debian "
                             "package prometheus), found none")
        result = subprocess.run([promtool, "check", "metrics"],
                                input=self.text, capture_output=True,
                                encoding="utf-8", timeout=120)
        self.assertEqual(result.returncode, 0,
                         "promtool exit status: expected 0, seen %d; "
                         "output:\n%s%s" % (result.returncode, result.stdout,
                                            result.stderr))
        self.assertEqual(result.stdout + result.stderr, "",
                         "expected promtool to print nothing")

    def test_content_type(self):
        self.assertEqual(self.response.header("Content-Type"), CONTENT_TYPE)
        self.assertIsNone(self.response.header("Content-Encoding"),
                          "expected no Content-Encoding for a plain scrape")

    def test_ends_with_newline(self):
        self.assertTrue(self.text.endswith("\n"),
                        "expected the response to end with a newline, seen "
                        "%r" % self.text[-40:])

    def test_help_and_type_for_every_family(self):
        exposition = harness.parse_exposition(self.text)
        for family in exposition.families.values():
            with self.subTest(family=family.name):
                self.assertIsNotNone(family.help, "expected a HELP line")
                self.assertIsNotNone(family.type, "expected a TYPE line")
                self.assertTrue(family.samples, "expected samples after "
                                "HELP and TYPE")

    def test_circleci_help_says_cached(self):
        exposition = harness.parse_exposition(self.text)
        for family in exposition.families.values():
            if not expected.is_circleci_metric(family.name):
                continue
            with self.subTest(family=family.name):
                self.assertIn("cached", family.help.lower(),
                              "expected HELP to say the values are cached "
                              "from the CircleCI API, seen %r" % family.help)

    def test_families_contiguous(self):
        sequence = [family for family, _ in
                    harness.parse_exposition(self.text).lines]
        seen = set()
        previous = None
        for name in sequence:
            if name != previous:
                self.assertNotIn(name, seen, "expected the lines of family "
                                 "%s together, seen it again after %s"
                                 % (name, previous))
                seen.add(name)
            previous = name

    def test_exporter_families_present(self):
        names = {s.name for s in harness.parse_exposition(self.text).samples}
        for name in EXPORTER_FAMILIES:
            with self.subTest(metric=name):
                self.assertIn(name, names)

    def test_build_info(self):
        info = harness.select(harness.parse_samples(self.text),
                              "circleci_exporter_build_info")
        self.assertEqual(len(info), 1, "expected one build_info series, "
                         "seen %d" % len(info))
        key, value = next(iter(info.items()))
        self.assertEqual(value, 1.0)
        self.assertEqual({k for k, _ in key[1]},
                         {"version", "revision", "curl_version"})

    def test_project_up_for_each_demo_project(self):
        samples = harness.parse_samples(self.text)
        up = harness.select(samples, "circleci_exporter_project_up")
        self.assertEqual(len(up), len(expected.DEMO_SLUGS),
                         "expected one project_up per demo project, seen "
                         "%s" % sorted(map(harness.format_key, up)))
        for slug in expected.DEMO_SLUGS:
            with self.subTest(project=slug):
                self.assertEqual(harness.value_of(
                    samples, "circleci_exporter_project_up", project=slug),
                    1.0)

    def test_per_project_gauges(self):
        samples = harness.parse_samples(self.text)
        for name in PER_PROJECT_FAMILIES:
            for slug in expected.DEMO_SLUGS:
                with self.subTest(metric=name, project=slug):
                    value = harness.value_of(samples, name, project=slug)
                    self.assertIsNotNone(value, "expected a sample")
                    self.assertGreater(value, 0)

    def test_api_requests_counted_by_endpoint_and_code(self):
        samples = harness.parse_samples(self.text)
        requests = harness.select(samples,
                                  "circleci_exporter_api_requests_total")
        for key in requests:
            self.assertEqual({k for k, _ in key[1]}, {"endpoint", "code"})
        for endpoint in ("project", "workflows", "jobs", "runs"):
            with self.subTest(endpoint=endpoint):
                value = harness.value_of(
                    samples, "circleci_exporter_api_requests_total",
                    endpoint=endpoint, code="200")
                self.assertIsNotNone(value, "expected a code=\"200\" sample")
                self.assertGreater(value, 0)

    def test_no_parse_errors(self):
        samples = harness.parse_samples(self.text)
        errors = harness.select(samples,
                                "circleci_exporter_api_parse_errors_total")
        self.assertTrue(errors, "expected api_parse_errors_total samples")
        for key, value in errors.items():
            self.assertEqual(value, 0.0, "%s: expected 0, seen %s"
                             % (harness.format_key(key), value))

    def test_series_equals_circleci_sample_count(self):
        samples = harness.parse_samples(self.text)
        series = harness.value_of(samples, "circleci_exporter_series")
        self.assertEqual(series, float(len(self.circleci)),
                         "expected circleci_exporter_series to equal the "
                         "%d CircleCI samples, seen %s"
                         % (len(self.circleci), series))

    def test_process_metrics_positive(self):
        samples = harness.parse_samples(self.text)
        for name in ("process_resident_memory_bytes", "process_open_fds",
                     "process_start_time_seconds"):
            with self.subTest(metric=name):
                value = harness.value_of(samples, name)
                self.assertIsNotNone(value, "expected an unlabelled sample")
                self.assertGreater(value, 0)
        cpu = harness.value_of(samples, "process_cpu_seconds_total")
        self.assertIsNotNone(cpu, "expected process_cpu_seconds_total")
        self.assertGreaterEqual(cpu, 0)


if __name__ == "__main__":
    harness.main()
