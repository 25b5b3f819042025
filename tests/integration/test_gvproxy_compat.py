"""usernetd started as `gvproxy` with the command lines podman machine and CRC generate
(gvisor-tap-vsock's GvproxyCommand.ToCmdline order, and a CRC-style -config YAML) serves
a guest: the guest namespace's TAP is relayed to the -listen-qemu socket the way QEMU's
`-netdev stream` does (4-byte big-endian length), gets its DHCP lease, resolves the
configured zones, and its sshd port is reachable through -ssh-port. -notification sends
gvproxy's JSON events. Unknown flags exit 2; a fatal error exits non-zero."""
import json
import os
import socket
import struct
import sys
import tempfile
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness  # noqa: E402
from harness import GATEWAY, GUEST_IP  # noqa: E402

GUEST_MAC = "5a:94:ef:e4:0c:ee"

# QEMU's side of -netdev stream: a TAP in the guest namespace <-> the qemu unix socket.
QEMU_STREAM_TAP = r"""
import fcntl, os, select, socket, struct, subprocess, sys, time
tun = os.open("/dev/net/tun", os.O_RDWR)
fcntl.ioctl(tun, 0x400454ca, struct.pack("16sH", b"tap0", 0x0002 | 0x1000))  # TUNSETIFF TAP|NO_PI
subprocess.run(["ip", "link", "set", "tap0", "address", sys.argv[2]], check=True)
subprocess.run(["ip", "link", "set", "tap0", "up"], check=True)
sock = socket.socket(socket.AF_UNIX)
for _ in range(100):
    try:
        sock.connect(sys.argv[1]); break
    except OSError:
        time.sleep(0.05)
print("connected", flush=True)
buffer = b""
while True:
    readable, _, _ = select.select([tun, sock], [], [])
    if tun in readable:
        frame = os.read(tun, 65536)
        sock.sendall(struct.pack("!I", len(frame)) + frame)
    if sock in readable:
        data = sock.recv(262144)
        if not data:
            break
        buffer += data
        while len(buffer) >= 4 and len(buffer) >= 4 + struct.unpack("!I", buffer[:4])[0]:
            length = struct.unpack("!I", buffer[:4])[0]
            os.write(tun, buffer[4:4 + length]); buffer = buffer[4 + length:]
"""

# A stand-in sshd on the guest's port 22: greets like OpenSSH does.
GUEST_SSHD = r"""
import socket
s = socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind(("0.0.0.0", 22)); s.listen(8)
while True:
    c, addr = s.accept(); c.sendall(f"SSH-2.0-guest {addr[0]}\r\n".encode()); c.close()
"""

SSH_CLIENT = """
import socket, sys
c = socket.create_connection(("127.0.0.1", int(sys.argv[1])), timeout=10)
print(c.recv(100).decode().strip())
"""

CRC_CONFIG = """\
log-level: debug
stack:
  mtu: 1500
  subnet: 192.168.127.0/24
  gatewayIP: 192.168.127.1
  hostIP: 192.168.127.254
  dns:
    - name: apps-crc.testing.
      records:
        - regexp: '.*'
          ip: 192.168.127.2
    - name: crc.testing.
      records:
        - name: gateway
          ip: 192.168.127.1
        - name: api
          ip: 192.168.127.2
  nat:
    192.168.127.254: 127.0.0.1
  gatewayVirtualIPs: [192.168.127.254]
  dhcpStaticLeases:
    192.168.127.2: 5a:94:ef:e4:0c:ee
  forwards:
    127.0.0.1:{ssh_port}: 192.168.127.2:22
"""


def gvproxy(*args):
    return [harness.binary("gvproxy"), *args]


class GvproxyCompat(unittest.TestCase):
    def setUp(self):
        self.net = harness.Network()
        self.dir = tempfile.mkdtemp(prefix="usernet-gvproxy-")
        self.qemu = os.path.join(self.dir, "qemu.sock")

    def tearDown(self):
        self.net.close()
        for name in os.listdir(self.dir):
            os.unlink(os.path.join(self.dir, name))
        os.rmdir(self.dir)

    def start_gvproxy(self, args):
        proc = self.net.start(self.net.host, gvproxy(*args), log_name="usernetd")
        self.net.wait_for(lambda: os.path.exists(self.qemu) or proc.poll() is not None, "qemu socket")
        if proc.poll() is not None:
            self.fail(f"gvproxy exited {proc.returncode}:\n" + self.net.log_of("usernetd"))
        return proc

    def attach_guest(self):
        """QEMU-like relay, DHCP lease with udhcpc, default route, stand-in sshd on :22."""
        self.net.start(self.net.guest, [sys.executable, "-c", QEMU_STREAM_TAP, self.qemu, GUEST_MAC],
                       log_name="qemu-stream")
        self.net.wait_for(lambda: "UP" in self.net.guest.ip("link", "show", "tap0", check=False).stdout,
                          "tap0 up")
        leases = os.path.join(self.dir, "lease.env")
        script = os.path.join(self.dir, "udhcpc.sh")
        with open(script, "w") as f:
            f.write(f'#!/bin/sh\n[ "$1" = bound ] && echo "ip=$ip router=$router" > {leases}\n'
                    '[ "$1" = bound ] && ip addr add "$ip/24" dev "$interface" && ip route add default via "$router"\n'
                    'exit 0\n')
        os.chmod(script, 0o755)
        self.net.guest.run(["busybox", "udhcpc", "-i", "tap0", "-n", "-q", "-t", "5", "-T", "2", "-s", script],
                           timeout=60)
        with open(leases) as f:
            self.assertEqual(f.read().strip(), f"ip={GUEST_IP} router={GATEWAY}")
        self.net.start(self.net.guest, [sys.executable, "-c", GUEST_SSHD], log_name="sshd")
        self.net.wait_for(lambda: ":22 " in self.net.guest.run(["ss", "-ltn"]).stdout, "guest sshd")

    def dig(self, name):
        return self.net.guest.run(["dig", f"@{GATEWAY}", "+time=5", "+tries=1", "+short", name]).stdout.strip()

    def ssh_banner(self, port):
        return self.net.host.run([sys.executable, "-c", SSH_CLIENT, str(port)], timeout=30).stdout.strip()

    def test_podman_machine_command_line(self):
        services = os.path.join(self.dir, "api.sock")
        pid_file = os.path.join(self.dir, "gvproxy.pid")
        log_file = os.path.join(self.dir, "gvproxy.log")
        # GvproxyCommand.ToCmdline: endpoints, services, -debug, -mtu, -ssh-port, sockets, forward info,
        # pid-file, log-file (podman machine with the qemu provider).
        args = ["-services", f"unix://{services}", "-debug", "-mtu", "1500", "-ssh-port", "42022",
                "-listen-qemu", f"unix://{self.qemu}"]
        # podman machine passes the VM's SSH key; the forward itself is tested in
        # test_ssh_forward.py, here it only has to be accepted.
        identity = os.path.join(self.dir, "id_ed25519")
        harness.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", identity])
        args += ["-forward-sock", os.path.join(self.dir, "podman.sock"), "-forward-dest",
                 "/run/podman/podman.sock", "-forward-user", "core", "-forward-identity", identity]
        args += ["-pid-file", pid_file, "-log-file", log_file]
        proc = self.start_gvproxy(args)
        self.attach_guest()
        self.assertEqual(self.ssh_banner(42022), f"SSH-2.0-guest {GATEWAY}")
        self.assertEqual(self.dig("host.containers.internal"), "192.168.127.254")
        out = harness.run(["curl", "-s", "-m", "10", "--unix-socket", services,
                           "http://api/services/forwarder/all"]).stdout
        self.assertIn({"local": "127.0.0.1:42022", "remote": f"{GUEST_IP}:22", "protocol": "tcp"}, json.loads(out))
        with open(pid_file) as f:
            self.assertEqual(int(f.read()), proc.pid)
        with open(log_file) as f:
            self.assertIn("ready", f.read())  # flushed while running
        self.assertEqual(self.net.stop(proc), 0)
        self.assertFalse(os.path.exists(pid_file))

    def test_crc_style_config_file(self):
        config = os.path.join(self.dir, "gvproxy.yaml")
        with open(config, "w") as f:
            f.write(CRC_CONFIG.replace("{ssh_port}", "42023"))
        proc = self.start_gvproxy(["-config", config, "-listen-qemu", f"unix://{self.qemu}"])
        self.attach_guest()
        self.assertEqual(self.dig("api.crc.testing"), GUEST_IP)
        self.assertEqual(self.dig("console-openshift-console.apps-crc.testing"), GUEST_IP)
        self.assertEqual(self.ssh_banner(42023), f"SSH-2.0-guest {GATEWAY}")
        # With -config, gvproxy's default 2222 forward is not installed.
        self.assertNotIn("127.0.0.1:2222", self.net.host.run(["ss", "-ltn"]).stdout)
        self.assertEqual(self.net.stop(proc), 0)

    def test_notifications(self):
        """-notification (gvproxy v0.8.8+): "ready" once listening, connection_established and
        connection_closed with the VM's MAC around a QEMU client's life, and hypervisor_error
        when a listener cannot start. One connection per JSON line."""
        path = os.path.join(self.dir, "notify.sock")
        listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        listener.bind(path)
        listener.listen(8)
        listener.settimeout(20)

        def next_event():
            conn, _ = listener.accept()
            with conn:
                conn.settimeout(10)
                data = b""
                while chunk := conn.recv(4096):
                    data += chunk
            self.assertTrue(data.endswith(b"\n"), data)
            return json.loads(data)

        try:
            proc = self.start_gvproxy(["-listen-qemu", f"unix://{self.qemu}", "-notification", f"unix://{path}",
                                       "-ssh-port", "-1"])
            self.assertEqual(next_event(), {"notification_type": "ready"})
            mac = "02:00:5e:10:00:42"
            frame = b"\xff" * 6 + bytes.fromhex(mac.replace(":", "")) + b"\x08\x06" + bytes(46)
            with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as vm:
                vm.connect(self.qemu)
                vm.sendall(struct.pack("!I", len(frame)) + frame)
                self.assertEqual(next_event(), {"notification_type": "connection_established", "mac_address": mac})
            self.assertEqual(next_event(), {"notification_type": "connection_closed", "mac_address": mac})
            self.net.stop(proc)
            fatal = self.net.host.run(gvproxy("-listen-qemu", "unix:///nonexistent-dir/qemu.sock",
                                              "-notification", f"unix://{path}"), check=False, timeout=30)
            self.assertNotEqual(fatal.returncode, 0)
            self.assertEqual(next_event(), {"notification_type": "hypervisor_error"})
        finally:
            listener.close()

    def test_unknown_flag_and_fatal_errors(self):
        bad = self.net.host.run(gvproxy("-listen-qemu", f"unix://{self.qemu}", "-no-such-flag"), check=False)
        self.assertEqual(bad.returncode, 2)
        self.assertIn("flag provided but not defined: -no-such-flag", bad.stderr)
        fatal = self.net.host.run(gvproxy("-listen-qemu", "unix:///nonexistent-dir/qemu.sock"), check=False,
                                  timeout=30)
        self.assertNotEqual(fatal.returncode, 0)
        version = self.net.host.run(gvproxy("-version"))
        self.assertTrue(version.stdout.startswith("gvproxy version"))


if __name__ == "__main__":
    unittest.main(verbosity=2)
