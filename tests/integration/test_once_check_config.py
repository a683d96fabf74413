# SPDX-License-Identifier: MIT
"""--once prints what /metrics serves and exits by the refresh result;
--check-config validates, lists the projects and never prints the token."""

import os
import sys
import unittest

# Keep the source tree free of __pycache__ folders.
sys.dont_write_bytecode = True
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import expected  # noqa: E402
import harness  # noqa: E402

# The fake API accepts this token; the tests look for it in every output.
TOKEN = "cie-integ-TOKEN-4f1d9b27e0c3"

EXIT_OK = 0
EXIT_FAILURE = 1
EXIT_USAGE = 2

VALID_CONFIG = """\
circleci:
  url: http://127.0.0.1:9/api/v2
  token: %(token)s
defaults:
  interval: 60s
  windows: [last-7-days]
projects:
  - slug: gh/acme/api
"""


class OnceTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.workdir = harness.temp_dir(cls)
        cls.api = harness.start_fake_api(cls, cls.workdir, token=TOKEN)
        cls.env = harness.demo_env(cls.api, token=TOKEN)

    def run_once(self, config):
        return harness.run_exporter(["--config.file=" + config, "--once"],
                                    env=self.env)

    def assert_no_token(self, result):
        self.assertNotIn(TOKEN, result.stdout, "token found in stdout")
        self.assertNotIn(TOKEN, result.stderr, "token found in stderr")

    def test_once_prints_metrics_and_exits_0(self):
        result = self.run_once(harness.demo_config_path())
        self.assertEqual(result.returncode, EXIT_OK,
                         "exit status: expected %d, seen %d; stderr:\n%s"
                         % (EXIT_OK, result.returncode, result.stderr))
        self.assert_no_token(result)
        once = harness.parse_samples(result.stdout, as_text=True)
        want = expected.expected_samples(harness.fixtures_dir())
        self.assertEqual(expected.circleci_only(once), want,
                         "expected --once to print exactly the CircleCI "
                         "samples of the fixtures")
        process = sorted(harness.format_key(k) for k in once
                         if k[0].startswith("process_"))
        self.assertEqual(process, [], "expected no process_* samples")
        self.assertTrue(result.stdout.endswith("\n"))

    def test_once_matches_served_metrics(self):
        result = self.run_once(harness.demo_config_path())
        self.assertEqual(result.returncode, EXIT_OK, result.stderr)
        exporter = harness.start_exporter(
            self, self.workdir, harness.demo_config_path(), env=self.env,
            name="served")
        exporter.wait_ready()
        served = harness.parse_samples(exporter.scrape_text(), as_text=True)
        once = harness.parse_samples(result.stdout, as_text=True)
        self.assertEqual(expected.circleci_only(once),
                         expected.circleci_only(served),
                         "expected --once and /metrics to print the same "
                         "CircleCI samples")

    def test_once_with_missing_project_exits_1(self):
        text = harness.demo_config_text().rstrip("\n") + \
            "\n  - slug: %s\n" % expected.GONE_SLUG
        config = harness.write_file(
            os.path.join(self.workdir, "with-gone.yml"), text)
        result = self.run_once(config)
        self.assertEqual(result.returncode, EXIT_FAILURE,
                         "exit status: expected %d, seen %d; stderr:\n%s"
                         % (EXIT_FAILURE, result.returncode, result.stderr))
        self.assert_no_token(result)
        once = harness.parse_samples(result.stdout, as_text=True)
        want = expected.expected_samples(harness.fixtures_dir())
        self.assertEqual(expected.circleci_only(once), want,
                         "expected the other projects' samples despite "
                         "the missing project")
        samples = harness.parse_samples(result.stdout)
        self.assertEqual(harness.value_of(
            samples, "circleci_exporter_project_up",
            project=expected.GONE_SLUG), 0.0)
        for slug in expected.DEMO_SLUGS:
            with self.subTest(project=slug):
                self.assertEqual(harness.value_of(
                    samples, "circleci_exporter_project_up", project=slug),
                    1.0)


class CheckConfigTest(unittest.TestCase):
    def setUp(self):
        self.workdir = harness.temp_dir(self)

    def check(self, text, env=None):
        config = harness.write_file(os.path.join(self.workdir, "config.yml"),
                                    text)
        return harness.run_exporter(
            ["--config.file=" + config, "--check-config"], env=env)

    def assert_no_token(self, result):
        self.assertNotIn(TOKEN, result.stdout, "token found in stdout")
        self.assertNotIn(TOKEN, result.stderr, "token found in stderr")

    def assert_rejected(self, result, key):
        self.assertEqual(result.returncode, EXIT_USAGE,
                         "exit status: expected %d, seen %d; output:\n%s%s"
                         % (EXIT_USAGE, result.returncode, result.stdout,
                            result.stderr))
        self.assertIn(key, result.stdout + result.stderr,
                      "expected the message to name %r" % key)
        self.assert_no_token(result)

    def test_valid_sample_config_accepted(self):
        self.assertEqual(self.check(VALID_CONFIG % {"token": TOKEN})
                         .returncode, EXIT_OK)

    def test_demo_config_lists_projects(self):
        result = harness.run_exporter(
            ["--config.file=" + harness.demo_config_path(),
             "--check-config"],
            env={"DEMO_API_URL": "http://127.0.0.1:9/api/v2",
                 "DEMO_TOKEN": TOKEN})
        self.assertEqual(result.returncode, EXIT_OK,
                         "exit status: expected %d, seen %d; output:\n%s%s"
                         % (EXIT_OK, result.returncode, result.stdout,
                            result.stderr))
        for slug in expected.DEMO_SLUGS:
            with self.subTest(project=slug):
                self.assertIn(slug, result.stdout)
        self.assert_no_token(result)

    def test_invalid_window_rejected(self):
        text = VALID_CONFIG.replace("[last-7-days]", "[last-8-days]")
        result = self.check(text % {"token": TOKEN})
        self.assert_rejected(result, "windows")
        self.assertIn("last-8-days", result.stderr)

    def test_invalid_slug_rejected(self):
        text = VALID_CONFIG.replace("gh/acme/api", "gh/acme")
        result = self.check(text % {"token": TOKEN})
        self.assert_rejected(result, "slug")
        self.assertIn("gh/acme", result.stderr)

    def test_unknown_key_rejected(self):
        text = VALID_CONFIG.replace("  interval: 60s",
                                    "  interval: 60s\n  intervall: 30s")
        result = self.check(text % {"token": TOKEN})
        self.assert_rejected(result, "intervall")

    def test_unset_token_variable_rejected(self):
        text = VALID_CONFIG % {"token": "${CIE_INTEG_UNSET_TOKEN}"}
        result = self.check(text, env={"CIE_INTEG_UNSET_TOKEN": None})
        self.assert_rejected(result, "token")
        self.assertIn("CIE_INTEG_UNSET_TOKEN", result.stderr)

    def test_missing_token_key_rejected(self):
        text = VALID_CONFIG.replace("  token: %(token)s\n", "")
        result = self.check(text)
        self.assert_rejected(result, "token")

    def test_token_from_env_not_printed(self):
        text = VALID_CONFIG % {"token": "${CIE_INTEG_TOKEN}"}
        result = self.check(text, env={"CIE_INTEG_TOKEN": TOKEN})
        self.assertEqual(result.returncode, EXIT_OK, result.stderr)
        self.assert_no_token(result)


if __name__ == "__main__":
    harness.main()
