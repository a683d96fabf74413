# SPDX-License-Identifier: MIT
"""The API token stays out of logs (even when the API echoes it in an
error message), /metrics, --check-config output, config errors and URLs.
circleci.token_file is read at start and on SIGHUP, with a warning when
the file is readable by others. The process is not dumpable, so the token
is not written to core files.
"""

import os
import re
import signal
import subprocess
import sys
import tempfile
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import common  # noqa: E402
import harness  # noqa: E402

TOKEN = harness.FAKE_API_TOKEN
WRONG_TOKEN = "wrong-token-5e1f9a"
WORLD_READABLE_WARNING = "token file is readable or writable by other users"


def token_file_lines(path):
    return "  token_file: %s" % path


class TokenInLogsTest(unittest.TestCase):
    def test_token_echoed_by_api_redacted(self):
        workdir = harness.temp_dir(self)
        api = harness.start_fake_api(self, workdir)
        # The API echoes the token in its error message, as a proxy or a
        # misconfigured server might.
        api.set_faults([{"path_prefix": "/project/", "status": 401,
                         "body": {"message": "Invalid token %s for %s"
                                  % (TOKEN, TOKEN)}}])
        config = common.write_config(workdir, api)
        exporter = harness.start_exporter(self, workdir, config,
                                          args=["--log.level=debug"])
        exporter.wait_for_log(r"msg=\"request failed\".*status=401")
        exporter.wait_ready()
        text = exporter.scrape_text()
        exporter.get("/-/ready")
        exporter.proc.send_signal(signal.SIGHUP)
        exporter.wait_for_log(r"msg=\"config reloaded\"")
        exporter.stop()
        log = exporter.stderr()
        self.assertIn("Invalid token", log)
        self.assertNotIn(TOKEN, log)
        self.assertNotIn(TOKEN, text)
        for entry in api.request_log():
            self.assertNotIn(TOKEN, entry["path"] + "?" + entry["query"])

    def test_token_not_in_json_logs(self):
        workdir = harness.temp_dir(self)
        api = harness.start_fake_api(self, workdir)
        api.set_faults([{"path_prefix": "/insights/", "status": 500,
                         "body": {"message": "upstream said " + TOKEN}}])
        config = common.write_config(workdir, api)
        exporter = JsonLogExporter(workdir, config,
                                   args=["--log.level=debug"])
        self.addCleanup(exporter.stop)
        exporter.start()
        exporter.wait_for_log(r'"msg":"request failed"')
        exporter.stop()
        self.assertIn("upstream said", exporter.stderr())
        self.assertNotIn(TOKEN, exporter.stderr())


class JsonLogExporter(harness.Exporter):
    """The exporter with --log.format=json, whose listening line is JSON."""

    def start(self):
        cmd = [harness.exporter_binary(), "--config.file=" + self.config,
               "--web.listen-address=127.0.0.1:0",
               "--log.format=json"] + self.args
        with open(self.stderr_path, "wb") as err:
            self.proc = subprocess.Popen(cmd, stdin=subprocess.DEVNULL,
                                         stdout=subprocess.DEVNULL,
                                         stderr=err)
        match = self.wait_for_log(r'"msg":"listening".*"port":"(\d+)"',
                                  timeout=harness.START_TIMEOUT)
        self.port = int(match.group(1))
        return self

class TokenOutputTest(unittest.TestCase):
    def write(self, text, mode=0o600):
        path = os.path.join(harness.temp_dir(self), "file")
        harness.write_file(path, text)
        os.chmod(path, mode)
        return path

    def config_with(self, token_lines):
        workdir = harness.temp_dir(self)
        text = common.CONFIG_TEMPLATE % {
            "api_url": "http://127.0.0.1:9/api/v2",
            "token_lines": token_lines, "server": ""}
        return harness.write_file(os.path.join(workdir, "config.yml"), text)

    def test_check_config_hides_token(self):
        secret = "cci-check-config-token-81f2"
        for lines, env in (
                ("  token: " + secret, {}),
                ("  token: ${HARDENING_TOKEN}", {"HARDENING_TOKEN": secret}),
                (token_file_lines(self.write(secret + "\n")), {})):
            with self.subTest(token=lines):
                result = harness.run_exporter(
                    ["--config.file=" + self.config_with(lines),
                     "--check-config"], env=env)
                self.assertEqual(result.returncode, 0, result.stderr)
                self.assertNotIn(secret, result.stdout + result.stderr)

    def test_invalid_token_error_hides_token(self):
        secret = "cci-invalid token-with-space-31c7"
        result = harness.run_exporter(
            ["--config.file=" + self.config_with('  token: "%s"' % secret),
             "--check-config"])
        self.assertEqual(result.returncode, 2, result.stderr)
        self.assertIn("circleci.token", result.stderr)
        self.assertNotIn("31c7", result.stdout + result.stderr)

    def test_world_readable_token_file_warned(self):
        path = self.write(TOKEN + "\n", mode=0o644)
        result = harness.run_exporter(
            ["--config.file=" + self.config_with(token_file_lines(path)),
             "--check-config"])
        self.assertEqual(result.returncode, 0, result.stderr)
        self.assertIn(WORLD_READABLE_WARNING, result.stderr)
        self.assertNotIn(TOKEN, result.stdout + result.stderr)

    def test_private_token_file_not_warned(self):
        path = self.write(TOKEN + "\n", mode=0o600)
        result = harness.run_exporter(
            ["--config.file=" + self.config_with(token_file_lines(path)),
             "--check-config"])
        self.assertEqual(result.returncode, 0, result.stderr)
        self.assertNotIn(WORLD_READABLE_WARNING, result.stderr)


class TokenFileReloadTest(unittest.TestCase):
    def test_token_file_reread_on_sighup(self):
        workdir = harness.temp_dir(self)
        token_path = os.path.join(workdir, "token")
        harness.write_file(token_path, WRONG_TOKEN + "\n")
        os.chmod(token_path, 0o600)
        api = harness.start_fake_api(self, workdir)
        config = common.write_config(
            workdir, api, token_lines=token_file_lines(token_path))
        # Refresh often, so that the new token is used soon after the reload.
        harness.write_file(config, harness.derive_config(
            common.read_text(config), interval="2s"))
        exporter = harness.start_exporter(self, workdir, config)
        exporter.wait_ready()

        def project_up():
            samples = harness.parse_samples(exporter.scrape_text())
            return harness.value_of(samples, "circleci_exporter_project_up",
                                    project="gh/acme/empty")

        self.assertEqual(project_up(), 0.0, "the wrong token was accepted")
        self.assertNotIn(WORLD_READABLE_WARNING, exporter.stderr())

        harness.write_file(token_path, TOKEN + "\n")
        os.chmod(token_path, 0o644)
        exporter.proc.send_signal(signal.SIGHUP)
        exporter.wait_for_log(r"msg=\"config reloaded\"")
        harness.wait_until(lambda: project_up() == 1.0,
                           "project_up 1 with the token read on SIGHUP")
        log = exporter.stderr()
        self.assertIn(WORLD_READABLE_WARNING, log)
        self.assertNotIn(TOKEN, log)


class CoreDumpTest(unittest.TestCase):
    def test_not_dumpable_and_no_core_limit(self):
        binary = harness.exporter_binary()
        if common.is_sanitizer_build(binary):
            self.skipTest("sanitizer builds stay dumpable for LeakSanitizer")
        # Readable by another user: the exporter runs as nobody when the
        # test runs as root, to tell "owned by root because not dumpable"
        # from "owned by root because run by root".
        workdir = tempfile.mkdtemp(prefix="cie-hardening-")
        self.addCleanup(lambda: subprocess.run(["rm", "-rf", workdir],
                                               check=False))
        os.chmod(workdir, 0o755)
        api = harness.start_fake_api(self, workdir)
        config = common.write_config(workdir, api)
        os.chmod(config, 0o644)
        as_root = os.geteuid() == 0
        stderr_path = os.path.join(workdir, "exporter.stderr")

        def drop_privileges():
            os.setgid(65534)
            os.setuid(65534)

        with open(stderr_path, "wb") as err:
            proc = subprocess.Popen(
                [binary, "--config.file=" + config,
                 "--web.listen-address=127.0.0.1:0"],
                stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                stderr=err, preexec_fn=drop_privileges if as_root else None)
        self.addCleanup(harness.stop_process, proc)

        def listening():
            self.assertIsNone(proc.poll(), common.read_text(stderr_path))
            return "msg=listening" in common.read_text(stderr_path)

        harness.wait_until(listening, "the exporter to listen")
        user = 65534 if as_root else os.getuid()
        self.assertEqual(os.stat("/proc/%d" % proc.pid).st_uid, user)
        # A process that is not dumpable has its /proc/PID files owned by
        # root, so that its own user cannot read its memory or environment.
        for name in ("environ", "mem", "status"):
            self.assertEqual(os.stat("/proc/%d/%s" % (proc.pid, name)).st_uid,
                             0, "/proc/PID/%s not owned by root: the "
                             "process is still dumpable" % name)
        with open("/proc/%d/limits" % proc.pid) as f:
            core = [line for line in f if line.startswith("Max core file size")]
        self.assertEqual(core[0].split()[4:6], ["0", "0"], core)

        # The process metrics still read /proc/self.
        port = int(re.search(r"msg=listening .*\bport=(\d+)",
                             common.read_text(stderr_path)).group(1))
        text = harness.http_request(port, "/metrics").text
        self.assertRegex(text, r"(?m)^process_open_fds [1-9]")
        self.assertRegex(text, r"(?m)^process_resident_memory_bytes [1-9]")

if __name__ == "__main__":
    harness.main()
