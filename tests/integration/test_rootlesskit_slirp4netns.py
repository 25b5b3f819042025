"""Real RootlessKit (Debian bookworm's 1.1, the network half of Docker and nerdctl rootless
and BuildKit) with --net=slirp4netns, once with Debian's real slirp4netns 1.2 and once with
usernetd's slirp4netns mode as --slirp4netns-binary; both must pass. RootlessKit speaks
slirp4netns's other dialect: PID mode (usernetd joins the child's user and network
namespaces), no -c (RootlessKit creates and configures tap0 itself), --mtu 65520, the
ready fd, and its slirp4netns port driver on the API socket. As an unprivileged test user
inside the test's host namespace, the child sees tap0 at 10.0.2.100, fetches a file from
the host's 127.0.0.1 through 10.0.2.2 (SHA-256 checked), and -p 127.0.0.1:PORT:8080/tcp
reaches a busybox httpd in the child."""
import hashlib
import os
import shutil
import subprocess
import sys
import tempfile
import time
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness  # noqa: E402

ROOTLESSKIT = shutil.which("rootlesskit", path="/usr/bin:/bin")
REAL_SLIRP4NETNS = shutil.which("slirp4netns", path="/usr/bin:/bin")
BUSYBOX = shutil.which("busybox", path="/usr/bin:/bin")
OURS = harness.binary("slirp4netns")
USER = "usernet-podman-test"  # the rootless test user (subordinate ids), shared with the podman test
HOST_HTTP_PORT = 18081
PUBLISHED_PORT = 18097
ASAN_OPTIONS = "detect_leaks=0:abort_on_error=1"  # LeakSanitizer cannot ptrace across the user namespace
# Run by RootlessKit in its child (new user, mount and network namespaces): reports what
# the child sees, serves a file on :8080, and waits for the test to fetch it.
CHILD = """
cd "$WORK"
ip -4 -o addr show dev tap0 > addr.txt 2>&1
ip route > route.txt 2>&1
{busybox} wget -q -O - http://10.0.2.2:{port}/page.bin | sha256sum > fetched.txt 2>&1
mkdir -p www && cp page.bin www/served.bin
{busybox} httpd -f -p 8080 -h www &
httpd=$!
touch child-ready
for i in $(seq 300); do [ -e test-done ] && break; sleep 0.1; done
kill $httpd
wait $httpd 2>/dev/null
exit 0
"""
# --slirp4netns-binary: keeps the output (RootlessKit discards it) and runs the binary with
# argv[0] "slirp4netns"; the feature probe (--help) answers on stdout as RootlessKit reads it.
WRAPPER = """#!/bin/bash
[ "$1" = --help ] && exec -a slirp4netns {binary} --help
exec -a slirp4netns {binary} "$@" >> {log} 2>&1
"""


def sha256_file(path):
    with open(path, "rb") as f:
        return hashlib.sha256(f.read()).hexdigest()


class RootlessKitSlirp4netns:
    """Mixin: BINARY is the slirp4netns RootlessKit starts."""
    BINARY = None

    @classmethod
    def setUpClass(cls):
        cls.net = net = harness.Network()
        cls.tun_mode = None
        cls.work = tempfile.mkdtemp(prefix="unrk-", dir="/tmp")
        try:
            cls._run_rootlesskit()
        except BaseException:
            cls._clean_up()
            raise

    @classmethod
    def _run_rootlesskit(cls):
        net = cls.net
        pw = harness.ensure_test_user(USER)
        cls.tun_mode = harness.open_tun_to_everyone()  # slirp4netns opens it from the user namespace
        os.chmod(cls.work, 0o777)
        with open(os.path.join(cls.work, "page.bin"), "wb") as f:
            f.write(os.urandom(256 * 1024))
        cls.page_sha256 = sha256_file(os.path.join(cls.work, "page.bin"))
        net.start(net.host, [sys.executable, "-m", "http.server", "--bind", "127.0.0.1", "--directory", cls.work,
                             str(HOST_HTTP_PORT)], log_name="http-server")
        net.wait_for(lambda: net.host.run(["curl", "-sf", "-o", "/dev/null", "--max-time", "2",
                                           f"http://127.0.0.1:{HOST_HTTP_PORT}/page.bin"], check=False).returncode == 0,
                     "the host's HTTP server")
        cls.log = os.path.join(cls.work, "slirp4netns.log")
        wrapper = os.path.join(cls.work, "slirp4netns")
        with open(wrapper, "w") as f:
            f.write(WRAPPER.format(binary=cls.BINARY, log=cls.log))
        os.chmod(wrapper, 0o755)
        open(cls.log, "w").close()
        os.chmod(cls.log, 0o666)
        net.logs.append(("slirp4netns", cls.log))  # its sanitizer reports fail the class
        with open(os.path.join(cls.work, "child.sh"), "w") as f:
            f.write(CHILD.format(busybox=BUSYBOX, port=HOST_HTTP_PORT))
        env = ["PATH=/usr/sbin:/usr/bin:/sbin:/bin", f"HOME={cls.work}", f"XDG_RUNTIME_DIR={cls.work}",
               f"WORK={cls.work}", f"ASAN_OPTIONS={ASAN_OPTIONS}"]
        cmd = ["setpriv", f"--reuid={pw.pw_uid}", f"--regid={pw.pw_gid}", "--clear-groups", "env", "-i", *env,
               ROOTLESSKIT, "--net=slirp4netns", f"--slirp4netns-binary={wrapper}", "--copy-up=/etc",
               "--port-driver=slirp4netns", "-p", f"127.0.0.1:{PUBLISHED_PORT}:8080/tcp",
               f"--state-dir={cls.work}/state", "sh", f"{cls.work}/child.sh"]
        cls.proc = net.start(net.host, cmd, log_name="rootlesskit")
        net.wait_for(lambda: os.path.exists(os.path.join(cls.work, "child-ready")) or cls.proc.poll() is not None,
                     "RootlessKit's child", timeout=60)
        if cls.proc.poll() is not None:
            raise AssertionError("rootlesskit exited early:\n" + net.log_of("rootlesskit") + cls.slirp_log())
        fetched = net.host.run(["curl", "-sf", "--max-time", "10", f"http://127.0.0.1:{PUBLISHED_PORT}/served.bin"],
                               check=False, capture_output=True, text=False)
        cls.published_sha256 = hashlib.sha256(fetched.stdout).hexdigest() if fetched.returncode == 0 else None
        open(os.path.join(cls.work, "test-done"), "w").close()
        cls.exit_code = cls.proc.wait(timeout=30)

    @classmethod
    def slirp_log(cls):
        try:
            with open(cls.log, errors="replace") as f:
                return "\nslirp4netns log:\n" + f.read()[-4000:]
        except OSError:
            return ""

    @classmethod
    def tearDownClass(cls):
        cls._clean_up()

    @classmethod
    def _clean_up(cls):
        try:
            cls.net.close()
        finally:
            subprocess.run(["rm", "-rf", cls.work])
            harness.restore_tun(cls.tun_mode)

    def read(self, name):
        with open(os.path.join(self.work, name), errors="replace") as f:
            return f.read()

    def test_rootlesskit_exits_cleanly(self):
        self.assertEqual(self.exit_code, 0, self.net.log_of("rootlesskit") + self.slirp_log())

    def test_tap_configured_by_rootlesskit(self):
        self.assertIn("inet 10.0.2.100/24", self.read("addr.txt"))
        self.assertIn("default via 10.0.2.2 dev tap0", self.read("route.txt"))

    def test_host_loopback_through_10_0_2_2(self):
        self.assertEqual(self.read("fetched.txt").split()[0], self.page_sha256, self.slirp_log())

    def test_published_port_through_the_api(self):
        self.assertEqual(self.published_sha256, self.page_sha256, self.net.log_of("rootlesskit") + self.slirp_log())


@unittest.skipUnless(ROOTLESSKIT and REAL_SLIRP4NETNS, "rootlesskit or slirp4netns is not installed")
class RealSlirp4netnsUnderRootlessKit(RootlessKitSlirp4netns, unittest.TestCase):
    BINARY = REAL_SLIRP4NETNS


@unittest.skipUnless(ROOTLESSKIT, "rootlesskit is not installed")
class UsernetUnderRootlessKit(RootlessKitSlirp4netns, unittest.TestCase):
    BINARY = OURS


if __name__ == "__main__":
    unittest.main()
