"""The guest-side server port-forward tests reach: dual stack, TCP on 8000 answers
"from ADDRESS got N" once a line arrives, UDP on 8001 echoes upper case with
" via ADDRESS" (IPv4 clients show as IPv4, not ::ffff:a.b.c.d), so a test sees which
gateway address a forward enters the guest from."""
import socket, threading
def plain(address):
    return address[7:] if address.startswith("::ffff:") else address
def tcp():
    s = socket.socket(socket.AF_INET6); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    s.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 0); s.bind(("::", 8000)); s.listen(64)
    while True:
        c, addr = s.accept()
        def serve(c=c, addr=addr):
            data = b""
            while not data.endswith(b"\n"):
                chunk = c.recv(65536)
                if not chunk: break
                data += chunk
            c.sendall(f"from {plain(addr[0])} got {len(data)}\n".encode()); c.close()
        threading.Thread(target=serve, daemon=True).start()
def udp():
    s = socket.socket(socket.AF_INET6, socket.SOCK_DGRAM)
    s.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 0); s.bind(("::", 8001))
    while True:
        data, addr = s.recvfrom(65535); s.sendto(data.upper() + f" via {plain(addr[0])}".encode(), addr)
threading.Thread(target=udp, daemon=True).start()
print("ready", flush=True)
tcp()
