/* vsock-echo: guest-side AF_VSOCK test program for the usernet test guest (static, no libc
 * beyond the kernel's). Modes:
 *   vsock-echo connect-echo PORT         connect to the host (CID 2) on PORT and echo every
 *                                        byte back until the host half-closes
 *   vsock-echo listen-echo PORT COUNT    listen on PORT, serve COUNT connections (one at a
 *                                        time) by echoing, then exit
 *   vsock-echo multi PORT N              open N connections to the host at once, send a
 *                                        distinct line on each and check its echo
 *   vsock-echo send PORT BYTES           connect and write BYTES bytes, then half-close and
 *                                        wait for the host to close (throughput tests)
 *   vsock-echo recv PORT                 connect and read until end of stream; print the
 *                                        byte count
 *   vsock-echo request PORT              connect, send stdin, copy the answer to stdout
 *                                        until the host closes (an HTTP request, say)
 * Exit status 0 on success; errors go to stderr. */
#include <errno.h>
#include <linux/vm_sockets.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

enum { kHostCid = 2, kBufferSize = 64 * 1024 };

static unsigned long parse_number(const char *text) {
  char *end;
  errno = 0;
  unsigned long value = strtoul(text, &end, 10);
  if (errno != 0 || *end != '\0' || end == text) {
    fprintf(stderr, "vsock-echo: bad number '%s'\n", text);
    exit(2);
  }
  return value;
}

/* Connects to the host's port; exits on failure. */
static int connect_host(unsigned port) {
  int fd = socket(AF_VSOCK, SOCK_STREAM, 0);
  if (fd < 0) {
    perror("vsock-echo: socket");
    exit(1);
  }
  struct sockaddr_vm addr;
  memset(&addr, 0, sizeof(addr));
  addr.svm_family = AF_VSOCK;
  addr.svm_cid = kHostCid;
  addr.svm_port = port;
  if (connect(fd, (struct sockaddr *)&addr, sizeof(addr)) != 0) {
    fprintf(stderr, "vsock-echo: connect to port %u: %s\n", port, strerror(errno));
    exit(1);
  }
  return fd;
}

/* Writes all of buf; 0 on success. */
static int write_all(int fd, const char *buf, size_t len) {
  while (len > 0) {
    ssize_t n = write(fd, buf, len);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return -1;
    buf += n;
    len -= (size_t)n;
  }
  return 0;
}

/* Echoes until end of stream, then half-closes; returns bytes echoed or -1. */
static long long echo(int fd) {
  static char buf[kBufferSize];
  long long total = 0;
  for (;;) {
    ssize_t n = read(fd, buf, sizeof(buf));
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return -1;
    if (n == 0) break;
    if (write_all(fd, buf, (size_t)n) != 0) return -1;
    total += n;
  }
  shutdown(fd, SHUT_WR);
  return total;
}

static int connect_echo(unsigned port) {
  int fd = connect_host(port);
  long long n = echo(fd);
  close(fd);
  if (n < 0) {
    perror("vsock-echo: echo");
    return 1;
  }
  printf("echoed %lld bytes\n", n);
  return 0;
}

static int listen_echo(unsigned port, unsigned long count) {
  int fd = socket(AF_VSOCK, SOCK_STREAM, 0);
  struct sockaddr_vm addr;
  memset(&addr, 0, sizeof(addr));
  addr.svm_family = AF_VSOCK;
  addr.svm_cid = VMADDR_CID_ANY;
  addr.svm_port = port;
  if (fd < 0 || bind(fd, (struct sockaddr *)&addr, sizeof(addr)) != 0 || listen(fd, 16) != 0) {
    perror("vsock-echo: listen");
    return 1;
  }
  printf("listening on %u\n", port);
  fflush(stdout);
  for (unsigned long i = 0; i < count; ++i) {
    int c = accept(fd, NULL, NULL);
    if (c < 0) {
      perror("vsock-echo: accept");
      return 1;
    }
    long long n = echo(c);
    close(c);
    if (n < 0) return 1;
    printf("connection %lu echoed %lld bytes\n", i, n);
  }
  close(fd);
  return 0;
}

static int multi(unsigned port, unsigned long count) {
  int *fds = calloc(count, sizeof(int));
  for (unsigned long i = 0; i < count; ++i) fds[i] = connect_host(port);
  for (unsigned long i = 0; i < count; ++i) {
    char line[64];
    int len = snprintf(line, sizeof(line), "connection %lu of %lu\n", i, count);
    if (write_all(fds[i], line, (size_t)len) != 0) return 1;
  }
  for (unsigned long i = 0; i < count; ++i) {
    char want[64], got[64];
    int len = snprintf(want, sizeof(want), "connection %lu of %lu\n", i, count);
    int have = 0;
    while (have < len) {
      ssize_t n = read(fds[i], got + have, (size_t)(len - have));
      if (n <= 0) {
        fprintf(stderr, "vsock-echo: connection %lu: short echo\n", i);
        return 1;
      }
      have += (int)n;
    }
    if (memcmp(want, got, (size_t)len) != 0) {
      fprintf(stderr, "vsock-echo: connection %lu: wrong echo\n", i);
      return 1;
    }
  }
  for (unsigned long i = 0; i < count; ++i) close(fds[i]);
  free(fds);
  printf("%lu connections ok\n", count);
  return 0;
}

static double now(void) {
  struct timespec t;
  clock_gettime(CLOCK_MONOTONIC, &t);
  return (double)t.tv_sec + (double)t.tv_nsec / 1e9;
}

static int send_bytes(unsigned port, unsigned long long bytes) {
  static char buf[kBufferSize];
  for (size_t i = 0; i < sizeof(buf); ++i) buf[i] = (char)(i * 7);
  int fd = connect_host(port);
  double start = now();
  unsigned long long left = bytes;
  while (left > 0) {
    size_t chunk = left < sizeof(buf) ? (size_t)left : sizeof(buf);
    if (write_all(fd, buf, chunk) != 0) {
      perror("vsock-echo: write");
      return 1;
    }
    left -= chunk;
  }
  shutdown(fd, SHUT_WR);
  char byte;
  while (read(fd, &byte, 1) > 0) {
  }
  double seconds = now() - start;
  printf("sent %llu bytes in %.2f s (%.1f MB/s)\n", bytes, seconds, (double)bytes / seconds / 1e6);
  close(fd);
  return 0;
}

/* Copies `from` to `to` (discarding the bytes when `to` is -1) until end of stream;
 * returns the byte count, or -1 with the failing step reported. */
static long long copy_to_end(int from, int to) {
  static char buf[kBufferSize];
  long long total = 0;
  for (;;) {
    ssize_t n = read(from, buf, sizeof(buf));
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) {
      perror("vsock-echo: read");
      return -1;
    }
    if (n == 0) return total;
    if (to >= 0 && write_all(to, buf, (size_t)n) != 0) {
      perror("vsock-echo: write");
      return -1;
    }
    total += n;
  }
}

static int recv_bytes(unsigned port) {
  int fd = connect_host(port);
  double start = now();
  long long total = copy_to_end(fd, -1);
  if (total < 0) return 1;
  double seconds = now() - start;
  printf("received %lld bytes in %.2f s (%.1f MB/s)\n", total, seconds, (double)total / seconds / 1e6);
  close(fd);
  return 0;
}

static int request(unsigned port) {
  int fd = connect_host(port);
  if (copy_to_end(0, fd) < 0 || copy_to_end(fd, 1) < 0) return 1;
  close(fd);
  return 0;
}

int main(int argc, char **argv) {
  setvbuf(stdout, NULL, _IOLBF, 0);
  if (argc == 3 && strcmp(argv[1], "connect-echo") == 0) {
    return connect_echo((unsigned)parse_number(argv[2]));
  }
  if (argc == 4 && strcmp(argv[1], "listen-echo") == 0) {
    return listen_echo((unsigned)parse_number(argv[2]), parse_number(argv[3]));
  }
  if (argc == 4 && strcmp(argv[1], "multi") == 0) {
    return multi((unsigned)parse_number(argv[2]), parse_number(argv[3]));
  }
  if (argc == 4 && strcmp(argv[1], "send") == 0) {
    return send_bytes((unsigned)parse_number(argv[2]), parse_number(argv[3]));
  }
  if (argc == 3 && strcmp(argv[1], "recv") == 0) {
    return recv_bytes((unsigned)parse_number(argv[2]));
  }
  if (argc == 3 && strcmp(argv[1], "request") == 0) {
    return request((unsigned)parse_number(argv[2]));
  }
  fprintf(stderr,
          "usage: vsock-echo connect-echo PORT | listen-echo PORT COUNT | multi PORT N |\n"
          "       send PORT BYTES | recv PORT | request PORT\n");
  return 2;
}
