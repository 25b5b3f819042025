/*
 * rr: the benchmark's latency tool. One binary, four modes:
 *
 *   rr server PORT [ADDRESS]       on ADDRESS (default 127.0.0.1; ::1 for IPv6): PORT .. PORT+8
 *                                  echo everything back until the client closes; PORT+9 echoes
 *                                  one request and then closes. epoll, any number of clients.
 *   rr rr HOST PORT COUNT WARMUP   one connection to PORT, TCP_NODELAY, COUNT timed 1-byte round
 *                                  trips after WARMUP untimed ones; prints p50/p90/p99 in µs
 *   rr crr HOST PORT SECONDS       for SECONDS: connect, 1-byte round trip, close (the client
 *                                  closes first, like netperf/neper TCP_CRR), cycling over
 *                                  PORT+1 .. PORT+8; prints conn/s and per-connection p50/p99
 *   rr crr-server-close HOST PORT SECONDS
 *                                  the same against PORT+9, where the server closes first and the
 *                                  client closes once it has read the FIN (HTTP/1.0 style)
 *   rr hold HOST PORT COUNT        opens COUNT idle connections over PORT+1 .. PORT+8, prints a
 *                                  JSON line, then per stdin line does one sweep (1 byte out on
 *                                  every connection, then every echo back) and prints its time per
 *                                  connection; closes everything at stdin EOF (bench --scale)
 *
 * Why eight ports for crr: the closing client keeps each 4-tuple in TIME_WAIT for 60 s, and the
 * stacks do not echo TCP timestamps, so the guest kernel cannot reuse them; with one destination
 * port every stack was capped at ~27,500 connections per run (the even half of the port range),
 * after which connect() crawls. Eight destinations give each source port eight 4-tuples.
 * With the server closing first the guest keeps no TIME_WAIT; the stack does (on its guest side),
 * and a guest reusing a port the stack still holds shows up here as stalls or timeouts.
 *
 * bench.py compiles it with the system cc into a temporary folder for each invocation.
 * Clients give up on a stuck peer after 5 s (socket timeouts, connect included), so a stalled
 * stack shows up as an error count, not a hang. Plain C so the measurement adds little.
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

enum {
  IO_TIMEOUT_SECONDS = 5,
  MAX_EVENTS = 64,
  MAX_CRR_SAMPLES = 4 * 1000 * 1000,
  CRR_PORTS = 8,                       /* PORT+1 .. PORT+8: client-close CRR */
  SERVER_CLOSE_OFFSET = CRR_PORTS + 1, /* PORT+9: server-close CRR */
  LISTENERS = SERVER_CLOSE_OFFSET + 1,
};

/* Monotonic clock in nanoseconds. */
static int64_t now_ns(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

/* Parses a non-negative decimal argument or exits with a message naming it. */
static long parse_count(const char *text, const char *what) {
  char *end = NULL;
  errno = 0;
  long value = strtol(text, &end, 10);
  if (errno != 0 || end == text || *end != '\0' || value < 0) {
    fprintf(stderr, "rr: bad %s '%s'\n", what, text);
    exit(2);
  }
  return value;
}

/* An IPv4 or IPv6 socket address. */
struct endpoint {
  struct sockaddr_storage storage;
  socklen_t length;
};

/* Sets the port of an endpoint. */
static void set_port(struct endpoint *e, uint16_t port) {
  if (e->storage.ss_family == AF_INET6)
    ((struct sockaddr_in6 *)&e->storage)->sin6_port = htons(port);
  else
    ((struct sockaddr_in *)&e->storage)->sin_port = htons(port);
}

/* Fills an IPv4 or IPv6 socket address or exits on a malformed address or port. */
static struct endpoint make_address(const char *host, const char *port_text) {
  struct endpoint e;
  memset(&e, 0, sizeof e);
  struct sockaddr_in *v4 = (struct sockaddr_in *)&e.storage;
  struct sockaddr_in6 *v6 = (struct sockaddr_in6 *)&e.storage;
  long port = parse_count(port_text, "port");
  if (port >= 1 && port <= 65535 && inet_pton(AF_INET, host, &v4->sin_addr) == 1) {
    v4->sin_family = AF_INET;
    e.length = sizeof *v4;
  } else if (port >= 1 && port <= 65535 && inet_pton(AF_INET6, host, &v6->sin6_addr) == 1) {
    v6->sin6_family = AF_INET6;
    e.length = sizeof *v6;
  } else {
    fprintf(stderr, "rr: bad address %s:%s\n", host, port_text);
    exit(2);
  }
  set_port(&e, (uint16_t)port);
  return e;
}

/* A TCP socket of the endpoint's family. */
static int tcp_socket(const struct endpoint *e) { return socket(e->storage.ss_family, SOCK_STREAM | SOCK_CLOEXEC, 0); }

/* Connects fd to the endpoint. */
static int connect_to(int fd, const struct endpoint *e) {
  return connect(fd, (const struct sockaddr *)&e->storage, e->length);
}

/* Sets TCP_NODELAY and 5 s send/receive timeouts on a client socket. */
static void tune_client(int fd) {
  int one = 1;
  struct timeval timeout = {IO_TIMEOUT_SECONDS, 0};
  setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
  setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, sizeof timeout);
  setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &timeout, sizeof timeout);
}

/* Sends one byte and waits for one byte back. Returns 0 on success, -1 on error or EOF. */
static int round_trip(int fd) {
  char byte = 'x';
  if (send(fd, &byte, 1, MSG_NOSIGNAL) != 1) return -1;
  return recv(fd, &byte, 1, 0) == 1 ? 0 : -1;
}

/* qsort comparator for int64 latencies. */
static int compare_int64(const void *a, const void *b) {
  int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
  return (x > y) - (x < y);
}

/* Nearest-rank percentile (in µs) of sorted nanosecond samples. */
static double percentile_us(const int64_t *sorted, size_t count, double fraction) {
  if (count == 0) return -1.0;
  size_t rank = (size_t)(fraction * (double)count + 0.5);
  if (rank < 1) rank = 1;
  if (rank > count) rank = count;
  return (double)sorted[rank - 1] / 1000.0;
}

/* Opens a non-blocking listener on host:port and registers it with epoll; -1 on error. */
static int listen_on(int epoll, const char *host, long port) {
  char port_text[16];
  snprintf(port_text, sizeof port_text, "%ld", port);
  struct endpoint address = make_address(host, port_text);
  int listener = socket(address.storage.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (listener < 0) return -1;
  int one = 1;
  setsockopt(listener, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  struct epoll_event event = {.events = EPOLLIN, .data.u64 = (uint64_t)listener};
  if (bind(listener, (struct sockaddr *)&address.storage, address.length) != 0 || listen(listener, 4096) != 0 ||
      epoll_ctl(epoll, EPOLL_CTL_ADD, listener, &event) != 0) {
    close(listener);
    return -1;
  }
  return listener;
}

/* Accepts every pending client of a listener; a one-shot client is tagged in the epoll data. */
static void accept_clients(int epoll, int listener, int one_shot) {
  int client, one = 1;
  while ((client = accept4(listener, NULL, NULL, SOCK_CLOEXEC)) >= 0) {
    setsockopt(client, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    struct epoll_event event = {.events = EPOLLIN,
                                .data.u64 = (uint64_t)client | ((uint64_t)one_shot << 32)};
    if (epoll_ctl(epoll, EPOLL_CTL_ADD, client, &event) != 0) close(client);
  }
}

/* Echo server: PORT .. PORT+8 echo until the client closes, PORT+9 echoes one read and closes. */
static int run_server(const char *port_text, const char *host) {
  long port = parse_count(port_text, "port");
  int epoll = epoll_create1(EPOLL_CLOEXEC);
  int listeners[LISTENERS];
  for (int i = 0; i < LISTENERS; ++i) {
    listeners[i] = epoll < 0 || port + i > 65535 ? -1 : listen_on(epoll, host, port + i);
    if (listeners[i] < 0) {
      perror("rr server: listen");
      return 1;
    }
  }
  struct epoll_event events[MAX_EVENTS];
  char buffer[4096];
  for (;;) {
    int ready = epoll_wait(epoll, events, MAX_EVENTS, -1);
    if (ready < 0 && errno == EINTR) continue;
    if (ready < 0) {
      perror("rr server: epoll_wait");
      return 1;
    }
    for (int i = 0; i < ready; ++i) {
      int fd = (int)(events[i].data.u64 & 0xffffffffu), one_shot = (int)(events[i].data.u64 >> 32);
      int listener_index = -1;
      for (int l = 0; l < LISTENERS; ++l)
        if (fd == listeners[l]) listener_index = l;
      if (listener_index >= 0) {
        accept_clients(epoll, fd, listener_index == SERVER_CLOSE_OFFSET);
        continue;
      }
      /* Client sockets are blocking: an echo of what was just read always fits the send
       * buffer of a request/response client. */
      ssize_t got = recv(fd, buffer, sizeof buffer, MSG_DONTWAIT);
      if (got < 0 && (errno == EAGAIN || errno == EINTR)) continue;
      if (got > 0 && send(fd, buffer, (size_t)got, MSG_NOSIGNAL) == got && !one_shot) continue;
      close(fd); /* one-shot done, EOF, error or short echo */
    }
  }
}

/* RR client: one connection, WARMUP untimed and COUNT timed 1-byte round trips. */
static int run_rr(const char *host, const char *port, long count, long warmup) {
  struct endpoint address = make_address(host, port);
  int fd = tcp_socket(&address);
  tune_client(fd);
  if (connect_to(fd, &address) != 0) {
    perror("rr: connect");
    return 1;
  }
  for (long i = 0; i < warmup; ++i) {
    if (round_trip(fd) != 0) {
      fprintf(stderr, "rr: warm-up round trip %ld failed: %s\n", i, strerror(errno));
      return 1;
    }
  }
  int64_t *samples = calloc((size_t)(count > 0 ? count : 1), sizeof *samples);
  if (!samples) return 1;
  for (long i = 0; i < count; ++i) {
    int64_t start = now_ns();
    if (round_trip(fd) != 0) {
      fprintf(stderr, "rr: round trip %ld failed: %s\n", i, strerror(errno));
      return 1;
    }
    samples[i] = now_ns() - start;
  }
  close(fd);
  qsort(samples, (size_t)count, sizeof *samples, compare_int64);
  printf("{\"count\": %ld, \"p50_us\": %.1f, \"p90_us\": %.1f, \"p99_us\": %.1f}\n", count,
         percentile_us(samples, (size_t)count, 0.50), percentile_us(samples, (size_t)count, 0.90),
         percentile_us(samples, (size_t)count, 0.99));
  free(samples);
  return 0;
}

/* One CRR transaction: connect, 1-byte round trip, close. With server_closes, read the
 * server's FIN before closing. Returns 0 on success. */
static int connect_round_trip_close(const struct endpoint *address, int server_closes) {
  int fd = tcp_socket(address);
  if (fd < 0) return -1;
  tune_client(fd);
  int result = -1;
  char byte;
  if (connect_to(fd, address) == 0 && round_trip(fd) == 0)
    result = !server_closes || recv(fd, &byte, 1, 0) == 0 ? 0 : -1;
  close(fd);
  return result;
}

/* CRR client: as many transactions as fit in SECONDS, over the eight client-close ports or
 * against the server-close port. */
static int run_crr(const char *host, const char *port, long seconds, int server_closes) {
  struct endpoint addresses[CRR_PORTS];
  int count = server_closes ? 1 : CRR_PORTS;
  long base = parse_count(port, "port");
  if (base + SERVER_CLOSE_OFFSET > 65535) {
    fprintf(stderr, "rr crr: PORT+%d must be a port\n", SERVER_CLOSE_OFFSET);
    return 2;
  }
  for (int i = 0; i < count; ++i) {
    addresses[i] = make_address(host, port);
    set_port(&addresses[i], (uint16_t)(base + (server_closes ? SERVER_CLOSE_OFFSET : 1 + i)));
  }
  int64_t *samples = calloc(MAX_CRR_SAMPLES, sizeof *samples);
  if (!samples) return 1;
  size_t done = 0;
  long errors = 0;
  const int64_t start = now_ns(), deadline = start + (int64_t)seconds * 1000000000;
  int64_t now = start;
  while (now < deadline && done < MAX_CRR_SAMPLES) {
    int64_t begin = now;
    int failed = connect_round_trip_close(&addresses[(done + (size_t)errors) % (size_t)count], server_closes);
    now = now_ns();
    if (failed) {
      /* A few failures are reported; a stack that refuses everything ends the run. */
      if (++errors > 100 && done == 0) break;
      continue;
    }
    samples[done++] = now - begin;
  }
  double elapsed = (double)(now - start) / 1e9;
  qsort(samples, done, sizeof *samples, compare_int64);
  printf("{\"connections\": %zu, \"errors\": %ld, \"seconds\": %.3f, \"conn_per_s\": %.1f, "
         "\"p50_us\": %.1f, \"p99_us\": %.1f}\n",
         done, errors, elapsed, elapsed > 0 ? (double)done / elapsed : 0.0,
         percentile_us(samples, done, 0.50), percentile_us(samples, done, 0.99));
  free(samples);
  return done > 0 ? 0 : 1;
}

/* Connections a holder keeps, and one sweep over them: every connection sends one byte before
 * any echo is read, so the stack sees N flows active at once, oldest first. */
static double sweep_us_per_connection(const int *fds, long count) {
  char byte = 'x';
  int64_t start = now_ns();
  for (long i = 0; i < count; ++i)
    if (send(fds[i], &byte, 1, MSG_NOSIGNAL) != 1) return -1.0;
  for (long i = 0; i < count; ++i)
    if (recv(fds[i], &byte, 1, 0) != 1) return -1.0;
  return count > 0 ? (double)(now_ns() - start) / 1000.0 / (double)count : 0.0;
}

/* Holder: COUNT connections opened one after another (their connect times are reported), then
 * one sweep per line read from stdin, until EOF. */
static int run_hold(const char *host, const char *port, long count) {
  long base = parse_count(port, "port");
  if (base + CRR_PORTS > 65535) {
    fprintf(stderr, "rr hold: PORT+%d must be a port\n", CRR_PORTS);
    return 2;
  }
  int *fds = calloc((size_t)(count > 0 ? count : 1), sizeof *fds);
  int64_t *samples = calloc((size_t)(count > 0 ? count : 1), sizeof *samples);
  if (!fds || !samples) return 1;
  long held = 0;
  for (; held < count; ++held) {
    struct endpoint address = make_address(host, port);
    set_port(&address, (uint16_t)(base + 1 + held % CRR_PORTS));
    int fd = tcp_socket(&address);
    if (fd < 0) break;
    tune_client(fd);
    int64_t begin = now_ns();
    if (connect_to(fd, &address) != 0) {
      fprintf(stderr, "rr hold: connect %ld: %s\n", held, strerror(errno));
      close(fd);
      break;
    }
    samples[held] = now_ns() - begin;
    fds[held] = fd;
  }
  qsort(samples, (size_t)held, sizeof *samples, compare_int64);
  printf("{\"held\": %ld, \"connect_p50_us\": %.1f, \"connect_p99_us\": %.1f}\n", held,
         percentile_us(samples, (size_t)held, 0.50), percentile_us(samples, (size_t)held, 0.99));
  fflush(stdout);
  char line[64];
  while (fgets(line, sizeof line, stdin)) {
    printf("{\"sweep_us_per_connection\": %.2f}\n", sweep_us_per_connection(fds, held));
    fflush(stdout);
  }
  for (long i = 0; i < held; ++i) close(fds[i]);
  free(fds);
  free(samples);
  return held == count ? 0 : 1;
}

/* Holders and the server keep thousands of sockets: use the whole hard limit. */
static void raise_fd_limit(void) {
  struct rlimit limit;
  if (getrlimit(RLIMIT_NOFILE, &limit) == 0 && limit.rlim_cur < limit.rlim_max) {
    limit.rlim_cur = limit.rlim_max;
    setrlimit(RLIMIT_NOFILE, &limit);
  }
}

int main(int argc, char **argv) {
  raise_fd_limit();
  if (argc == 3 && strcmp(argv[1], "server") == 0) return run_server(argv[2], "127.0.0.1");
  if (argc == 4 && strcmp(argv[1], "server") == 0) return run_server(argv[2], argv[3]);
  if (argc == 6 && strcmp(argv[1], "rr") == 0)
    return run_rr(argv[2], argv[3], parse_count(argv[4], "count"), parse_count(argv[5], "warm-up"));
  if (argc == 5 && strcmp(argv[1], "crr") == 0)
    return run_crr(argv[2], argv[3], parse_count(argv[4], "seconds"), 0);
  if (argc == 5 && strcmp(argv[1], "crr-server-close") == 0)
    return run_crr(argv[2], argv[3], parse_count(argv[4], "seconds"), 1);
  if (argc == 5 && strcmp(argv[1], "hold") == 0) return run_hold(argv[2], argv[3], parse_count(argv[4], "count"));
  fprintf(stderr,
          "usage: rr server PORT [ADDRESS] | rr rr HOST PORT COUNT WARMUP | rr crr HOST PORT SECONDS |\n"
          "       rr crr-server-close HOST PORT SECONDS | rr hold HOST PORT COUNT\n");
  return 2;
}
