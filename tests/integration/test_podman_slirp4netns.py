"""Real rootless podman (Debian bookworm's 4.3) with `--network slirp4netns`, run once with
Debian's real slirp4netns 1.2 and once with usernetd's slirp4netns mode as its
network_cmd_path; both must pass. From a busybox image the test builds and imports (nothing
is pulled), a container fetches a file from the host namespace's 127.0.0.1 through 10.0.2.2
(allow_host_loopback), resolves a name through 10.0.2.3 (the test's dnsmasq behind it), gets
an fd00::/64 address (enable_ipv6), and `-p 127.0.0.1:PORT:80` with port_handler=slirp4netns
(forwards added through the slirp4netns API socket) reaches its busybox httpd.

Safety: podman, slirp4netns and every server run inside the harness's "host" namespace (its
default route is a black hole); `ip netns exec` puts /etc/netns/NAME/resolv.conf (the test's
dnsmasq on 127.0.0.1) over /etc/resolv.conf, so the machine's resolver is never asked.

Set-up on this machine (it runs as root): a dedicated user (USER below, made with useradd
if missing, with /etc/subuid and /etc/subgid ranges) runs podman with HOME and
XDG_RUNTIME_DIR in a temporary directory (vfs storage, cgroupfs, file events, k8s-file
logs); /dev/net/tun is made 0666 while the test runs (slirp4netns opens it from podman's
user namespace) and restored after; each podman runs in a private mount namespace with
cgroup v2 mounted on /sys/fs/cgroup (crun refuses this machine's v1 hybrid). network_cmd_path
is a small wrapper (WRAPPER) that keeps the binary's output, which podman unlinks. podman's
rootless pause process outlives podman and is ended by its pid at the end, with every
container, the storage and the temporary directory."""
import ctypes
import hashlib
import os
import re
import shutil
import signal
import subprocess
import sys
import tarfile
import tempfile
import time
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness  # noqa: E402

PODMAN = shutil.which("podman", path="/usr/bin:/bin")
REAL_SLIRP4NETNS = shutil.which("slirp4netns", path="/usr/bin:/bin")
OURS = harness.binary("slirp4netns")
BUSYBOX = shutil.which("busybox", path="/usr/bin:/bin")
USER = "usernet-podman-test"
IMAGE = "localhost/usernet-busybox:test"
HOST_HTTP_PORT = 18080  # python3 -m http.server on the host namespace's 127.0.0.1
FORWARD_PORT = 18090  # -p 127.0.0.1:FORWARD_PORT:80
NETWORK = "slirp4netns:allow_host_loopback=true,enable_ipv6=true"
# LeakSanitizer's exit scan ptraces the process: what --enable-sandbox (podman always asks
# for it) forbids. ASan's other checks stay on; podman passes its environment down.
ASAN_OPTIONS = "detect_leaks=0:abort_on_error=1"
PR_SET_CHILD_SUBREAPER = 36

# network_cmd_path: podman's own slirp4netns log is unlinked as soon as it is opened, so
# this copies the output to a log the test keeps (and checks for sanitizer reports), and
# runs the binary under test with argv[0] "slirp4netns" (usernetd picks its mode by that name).
WRAPPER = """#!/bin/bash
[ "$1" = --help ] && exec -a slirp4netns {binary} --help  # podman's feature probe: not logged
exec -a slirp4netns {binary} "$@" > >(exec tee -a {log} 3<&- 4<&-) 2>&1
"""


def argv0(pid):
    """The base name of a process's argv[0]."""
    with open(f"/proc/{pid}/cmdline", "rb") as f:
        return os.path.basename(f.read().split(b"\0")[0].decode(errors="replace"))


def sha256_file(path):
    with open(path, "rb") as f:
        return hashlib.sha256(f.read()).hexdigest()


def build_busybox_tarball(root, tarball):
    """A busybox rootfs (Debian's busybox-static and a symlink per applet, as `busybox
    --install -s` lays them out) with /www/served.bin for httpd; returns that file's SHA-256."""
    for d in ("bin", "sbin", "usr/bin", "usr/sbin", "etc", "tmp", "proc", "sys", "dev", "www", "root"):
        os.makedirs(os.path.join(root, d), exist_ok=True)
    shutil.copy(BUSYBOX, os.path.join(root, "bin/busybox"))
    for applet in harness.run([BUSYBOX, "--list-full"]).stdout.split():
        link = os.path.join(root, applet)
        if not os.path.lexists(link):
            os.symlink("/bin/busybox", link)
    with open(os.path.join(root, "etc/passwd"), "w") as f:
        f.write("root:x:0:0:root:/root:/bin/sh\n")
    with open(os.path.join(root, "etc/group"), "w") as f:
        f.write("root:x:0:\n")
    served = os.path.join(root, "www/served.bin")
    with open(served, "wb") as f:
        f.write(os.urandom(300 * 1024))
    with tarfile.open(tarball, "w") as tar:
        tar.add(root, arcname=".")
    os.chmod(tarball, 0o644)
    return sha256_file(served)


class PodmanSlirp4netns:
    """Mixin: BINARY is the slirp4netns podman runs."""
    BINARY = None

    @classmethod
    def setUpClass(cls):
        cls.started = time.monotonic()
        cls.timings = []
        cls.tun_mode = None
        cls.net = harness.Network()
        # podman's pause process and conmon leave their parents: as a subreaper this process
        # gets them, so the test can reap them at the end (this machine's init does not).
        cls.libc = ctypes.CDLL(None, use_errno=True)
        cls.libc.prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0)
        # Short: podman's API socket is $XDG_RUNTIME_DIR/libpod/tmp/<64 hex>.net and must fit
        # a unix socket's 108 bytes (slirp4netns refuses a longer path).
        cls.tmp = tempfile.mkdtemp(prefix="unp-", dir="/tmp")
        try:
            cls._set_up()
        except BaseException:
            cls._clean_up()
            raise

    @classmethod
    def _set_up(cls):
        net = cls.net
        pw = harness.ensure_test_user(USER)
        cls.uid, cls.gid = pw.pw_uid, pw.pw_gid
        cls.tun_mode = harness.open_tun_to_everyone()  # slirp4netns opens it from the user namespace

        os.chmod(cls.tmp, 0o755)
        cls.home = os.path.join(cls.tmp, "home")
        cls.run_dir = os.path.join(cls.tmp, "r")
        config = os.path.join(cls.home, ".config", "containers")
        os.makedirs(config)
        os.makedirs(os.path.join(cls.home, "tmp"))
        os.makedirs(cls.run_dir, mode=0o700)
        cls.log = os.path.join(cls.home, "slirp4netns.log")
        wrapper = os.path.join(cls.tmp, "bin", "slirp4netns")
        os.makedirs(os.path.dirname(wrapper))
        with open(wrapper, "w") as f:
            f.write(WRAPPER.format(binary=cls.BINARY, log=cls.log))
        os.chmod(wrapper, 0o755)
        with open(os.path.join(config, "containers.conf"), "w") as f:
            f.write(f"""[containers]
log_driver = "k8s-file"

[engine]
cgroup_manager = "cgroupfs"
events_logger = "file"
network_cmd_path = "{wrapper}"
""")
        with open(os.path.join(config, "storage.conf"), "w") as f:
            f.write(f"""[storage]
driver = "vfs"
graphroot = "{cls.home}/storage"
runroot = "{cls.run_dir}/storage"
""")
        open(cls.log, "w").close()
        net.logs.append(("slirp4netns", cls.log))  # its sanitizer reports fail the class
        harness.run(["chown", "-R", f"{cls.uid}:{cls.gid}", cls.home, cls.run_dir])

        # The host namespace's resolver: dnsmasq on its loopback, answering probe.test.
        net.serve_host_resolver("--address=/probe.test/203.0.113.5", "--address=/probe.test/2001:db8::5")
        # A page on the host namespace's 127.0.0.1 (10.0.2.2 from the container).
        serve = os.path.join(cls.tmp, "serve")
        os.makedirs(serve)
        with open(os.path.join(serve, "page.bin"), "wb") as f:
            f.write(os.urandom(512 * 1024))
        cls.page_sha256 = sha256_file(os.path.join(serve, "page.bin"))
        net.start(net.host, [sys.executable, "-m", "http.server", "--bind", "127.0.0.1", "--directory", serve,
                             str(HOST_HTTP_PORT)], log_name="http-server")
        net.wait_for(lambda: net.host.run(["curl", "-sf", "-o", "/dev/null", "--max-time", "2",
                                           f"http://127.0.0.1:{HOST_HTTP_PORT}/page.bin"], check=False).returncode == 0,
                     "the host's HTTP server")

        tarball = os.path.join(cls.tmp, "busybox.tar")
        cls.served_sha256 = build_busybox_tarball(os.path.join(cls.tmp, "rootfs"), tarball)
        cls.podman("import", tarball, IMAGE)

    @classmethod
    def podman(cls, *args, timeout=45, check=True):
        """podman as the test user in the host namespace, in a private mount namespace with
        cgroup v2 on /sys/fs/cgroup (and / shared there, as rootless podman wants)."""
        env = ["PATH=/usr/sbin:/usr/bin:/sbin:/bin", f"HOME={cls.home}", f"XDG_RUNTIME_DIR={cls.run_dir}",
               f"XDG_CONFIG_HOME={cls.home}/.config", f"XDG_DATA_HOME={cls.home}/.local/share",
               f"TMPDIR={cls.home}/tmp", "LANG=C", f"ASAN_OPTIONS={ASAN_OPTIONS}"]
        script = 'mount --make-rshared / && mount -t cgroup2 none /sys/fs/cgroup && exec "$@"'
        cmd = ["unshare", "--mount", "sh", "-c", script, "sh",
               "setpriv", f"--reuid={cls.uid}", f"--regid={cls.gid}", "--clear-groups",
               "env", "-i", *env, PODMAN, *args]
        begin = time.monotonic()
        result = cls.net.host.run(cmd, check=False, timeout=timeout)
        cls.timings.append((" ".join(args[:2]), time.monotonic() - begin))
        if check and result.returncode != 0:
            raise AssertionError(f"podman {' '.join(args)} failed ({result.returncode}):\n{result.stdout}"
                                 f"{result.stderr}\nslirp4netns log:\n{cls.slirp_log()}")
        return result

    @classmethod
    def slirp_log(cls):
        try:
            with open(cls.log, errors="replace") as f:
                return f.read()[-6000:]
        except OSError:
            return ""

    def run_in_container(self, script, network=NETWORK):
        return self.podman("run", "--rm", "--pull=never", "--network", network, IMAGE, "sh", "-c", script).stdout

    @classmethod
    def tearDownClass(cls):
        cls._clean_up()

    @classmethod
    def _clean_up(cls):
        errors = []
        try:
            if getattr(cls, "uid", None) is not None and os.path.isdir(getattr(cls, "home", "")):
                cls.podman("rm", "--all", "--force", "--time", "0", check=False, timeout=60)
        except Exception as e:  # noqa: BLE001 - clean up the rest regardless
            errors.append(f"podman rm: {e}")
        cls._end_podman_processes()
        cls._reap_orphans()
        try:
            cls.net.close()  # servers, namespaces, and the sanitizer reports in the slirp4netns log
        except AssertionError as e:
            errors.append(str(e))
        subprocess.run(["rm", "-rf", cls.tmp])  # storage (files of subordinate uids) included
        harness.restore_tun(cls.tun_mode)
        took = time.monotonic() - cls.started
        print(f"\n{cls.__name__}: {took:.1f}s; " + ", ".join(f"{what} {t:.1f}s" for what, t in cls.timings),
              file=sys.stderr)
        if errors:
            raise AssertionError("\n".join(errors))

    @classmethod
    def _end_podman_processes(cls):
        """The pause process (by its pid file) and anything else of the test user's still
        running with this class's XDG_RUNTIME_DIR (conmon, slirp4netns): SIGKILL by pid."""
        pids = set()
        try:
            with open(os.path.join(cls.tmp, "r", "libpod", "tmp", "pause.pid")) as f:
                pids.add(int(f.read().strip()))
        except (OSError, ValueError):
            pass
        uid = getattr(cls, "uid", None)
        marker = f"XDG_RUNTIME_DIR={os.path.join(cls.tmp, 'r')}".encode()
        for entry in os.listdir("/proc"):
            if not entry.isdigit() or uid is None:
                continue
            try:
                if os.stat(f"/proc/{entry}").st_uid != uid:
                    continue
                with open(f"/proc/{entry}/environ", "rb") as f:
                    if marker in f.read().split(b"\0"):
                        pids.add(int(entry))
            except OSError:
                continue
        for pid in pids:
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass

    @classmethod
    def _reap_orphans(cls):
        """Waits for the adopted processes (children of this process that it did not start
        with subprocess), then stops being a subreaper."""
        ours = {p.pid for p in cls.net.processes}
        deadline = time.monotonic() + 5
        while time.monotonic() < deadline:
            adopted = []
            for entry in os.listdir("/proc"):
                if not entry.isdigit() or int(entry) in ours:
                    continue
                try:
                    with open(f"/proc/{entry}/stat") as f:
                        fields = f.read().rsplit(")", 1)[1].split()
                except OSError:
                    continue
                if int(fields[1]) == os.getpid():
                    adopted.append(int(entry))
            if not adopted:
                break
            for pid in adopted:
                try:
                    os.waitpid(pid, os.WNOHANG)
                except ChildProcessError:
                    pass
            time.sleep(0.05)
        cls.libc.prctl(PR_SET_CHILD_SUBREAPER, 0, 0, 0, 0)

    def test_host_loopback_through_10_0_2_2(self):
        out = self.run_in_container(f"wget -q -O - http://10.0.2.2:{HOST_HTTP_PORT}/page.bin | sha256sum")
        self.assertEqual(out.split()[0], self.page_sha256, self.slirp_log())

    def test_dns_through_10_0_2_3(self):
        out = self.run_in_container("grep ^nameserver /etc/resolv.conf | head -n1; nslookup probe.test 10.0.2.3")
        lines = out.splitlines()
        self.assertEqual(lines[0].split(), ["nameserver", "10.0.2.3"], out)
        self.assertIn("Address: 203.0.113.5", out, self.slirp_log())

    def test_ipv6_address_in_fd00(self):
        # The kernel's SLAAC from slirp4netns's router advertisement; podman turns DAD off.
        out = self.run_in_container("""
            start=$(date +%s)
            for i in $(seq 100); do ip -6 addr show dev tap0 scope global | grep -q 'inet6 fd00:' && break; sleep 0.1; done
            echo waited $(( $(date +%s) - start ))
            ip -6 addr show dev tap0 scope global""")
        addresses = [line.split()[1] for line in out.splitlines() if line.strip().startswith("inet6 ")]
        self.assertTrue(any(a.startswith("fd00:") and a.endswith("/64") for a in addresses), out + self.slirp_log())

    def test_port_forward_through_the_api(self):
        name = "usernet-web"
        self.podman("run", "-d", "--pull=never", "--name", name, "-p", f"127.0.0.1:{FORWARD_PORT}:80",
                    "--network", "slirp4netns:port_handler=slirp4netns,allow_host_loopback=true,enable_ipv6=true",
                    IMAGE, "httpd", "-f", "-p", "80", "-h", "/www")
        try:
            # The listener is slirp4netns's (an API add_hostfwd), not podman's rootlessport.
            listeners = self.net.host.run(["ss", "-Htlnp", f"sport = :{FORWARD_PORT}"]).stdout
            self.assertIn(f"127.0.0.1:{FORWARD_PORT}", listeners, self.slirp_log())
            owners = {argv0(pid) for pid in re.findall(r"pid=(\d+)", listeners)}
            self.assertEqual(owners, {"slirp4netns"}, listeners)
            body = os.path.join(self.tmp, "fetched.bin")
            deadline = time.monotonic() + 15
            while True:
                result = self.net.host.run(["curl", "-sS", "-f", "--max-time", "10", "-o", body,
                                            f"http://127.0.0.1:{FORWARD_PORT}/served.bin"], check=False)
                if result.returncode == 0 or time.monotonic() > deadline:
                    break
                time.sleep(0.3)
            self.assertEqual(result.returncode, 0, result.stderr + self.slirp_log())
            self.assertEqual(sha256_file(body), self.served_sha256)
        finally:
            self.podman("rm", "--force", "--time", "0", name, check=False)


@unittest.skipUnless(PODMAN, "podman is not installed")
@unittest.skipUnless(REAL_SLIRP4NETNS, "slirp4netns is not installed")
class RealSlirp4netnsUnderPodman(PodmanSlirp4netns, unittest.TestCase):
    BINARY = REAL_SLIRP4NETNS


@unittest.skipUnless(PODMAN, "podman is not installed")
class UsernetUnderPodman(PodmanSlirp4netns, unittest.TestCase):
    BINARY = OURS


if __name__ == "__main__":
    unittest.main()
