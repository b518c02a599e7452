/*
 * tsbpf bench load generator: one process pair over loopback (or a UNIX socket), measured with
 * syscalls only so that what is timed is the kernel's socket path, not a language runtime.
 *
 *   loadgen stream <tcp4|tcp6|unix> <write-bytes> <nodelay 0|1> <seconds> [<read-bytes> [<poll 0|1>]]
 *   loadgen rr     <tcp4|tcp6|unix> <message-bytes> <seconds>
 *   loadgen crr    <tcp4|tcp6|unix> <seconds>
 *
 * The parent listens, forks the server, and runs the client; one JSON line goes to stdout.
 * - stream: the client writes fixed-size buffers for <seconds>, then shuts down its write side;
 *   the server counts every byte it reads until EOF and sends the count back (3 x u64: bytes,
 *   its EAGAIN count, see eagain_blocking, and its CPU time in ns). The rate
 *   is bytes received / (start .. count received), so buffered-but-undelivered bytes never count.
 *   The server reads <read-bytes> at a time (default 65536) and, with <poll> 1, waits in poll()
 *   before every read like a select()-loop application such as iperf3 (default 0). drainSeconds
 *   is the time from the client's last write until the count came back: how far the receiver had
 *   fallen behind (sk_msg redirect has no receive window, see docs/benchmarks.md).
 * - rr: one request of <message-bytes> at a time, echoed whole by the server; every round trip is
 *   timed (CLOCK_MONOTONIC) after a 10 % warm-up, and p50/p99 come from the sorted samples.
 * - crr: connect, write 1 byte, read the 1-byte echo, close; repeated for <seconds>.
 * Built by the harness with `cc -O2` into a temporary directory; nothing here is committed built.
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <signal.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static void die(const char *what) {
  fprintf(stderr, "loadgen: %s: %s\n", what, strerror(errno));
  exit(2);
}

static double now(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return ts.tv_sec + ts.tv_nsec / 1e9;
}

/* CPU time (user + system) this process has used, in seconds. */
static double cpu_seconds(void) {
  struct rusage ru;
  getrusage(RUSAGE_SELF, &ru);
  return ru.ru_utime.tv_sec + ru.ru_stime.tv_sec + (ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) / 1e6;
}

static int family;
static struct sockaddr_storage addr;
static socklen_t addr_len;

static int new_socket(void) {
  int fd = socket(family, SOCK_STREAM, 0);
  if (fd < 0) die("socket");
  return fd;
}

static int listen_any(void) {
  int fd = new_socket();
  int one = 1;
  memset(&addr, 0, sizeof addr);
  if (family == AF_INET) {
    struct sockaddr_in *a = (struct sockaddr_in *)&addr;
    a->sin_family = AF_INET;
    a->sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    addr_len = sizeof *a;
  } else if (family == AF_INET6) {
    struct sockaddr_in6 *a = (struct sockaddr_in6 *)&addr;
    a->sin6_family = AF_INET6;
    a->sin6_addr = in6addr_loopback;
    addr_len = sizeof *a;
  } else {
    /* Abstract UNIX name: nothing to clean up on the filesystem. */
    struct sockaddr_un *a = (struct sockaddr_un *)&addr;
    a->sun_family = AF_UNIX;
    int n = snprintf(a->sun_path + 1, sizeof a->sun_path - 1, "tsbpf-bench-%d", getpid());
    addr_len = offsetof(struct sockaddr_un, sun_path) + 1 + n;
  }
  if (family != AF_UNIX) setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  if (bind(fd, (struct sockaddr *)&addr, addr_len) < 0) die("bind");
  if (listen(fd, 1024) < 0) die("listen");
  if (family != AF_UNIX && getsockname(fd, (struct sockaddr *)&addr, &addr_len) < 0)
    die("getsockname");
  return fd;
}

static int connect_server(int nodelay) {
  int fd = new_socket();
  if (connect(fd, (struct sockaddr *)&addr, addr_len) < 0) die("connect");
  if (family != AF_UNIX) setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &nodelay, sizeof nodelay);
  return fd;
}

static void set_nodelay(int fd, int nodelay) {
  if (family != AF_UNIX) setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &nodelay, sizeof nodelay);
}

/*
 * Blocking reads that failed with EAGAIN. Under sk_msg redirect, Linux (seen on 6.18) can return
 * EAGAIN from a blocking read after the peer's shutdown(SHUT_WR) (docs/conformance.md, half_close);
 * the load generator waits with poll() and retries, and reports how often it happened.
 */
static unsigned long eagain_blocking;

static int read_full(int fd, char *buf, size_t n) {
  size_t got = 0;
  while (got < n) {
    ssize_t r = read(fd, buf + got, n - got);
    if (r < 0 && errno == EINTR) continue;
    if (r < 0 && errno == EAGAIN) {
      struct pollfd p = {.fd = fd, .events = POLLIN};
      eagain_blocking++;
      if (poll(&p, 1, 5000) <= 0) return -1;
      continue;
    }
    if (r <= 0) return -1;
    got += (size_t)r;
  }
  return 0;
}

static int write_full(int fd, const char *buf, size_t n) {
  size_t put = 0;
  while (put < n) {
    ssize_t w = write(fd, buf + put, n - put);
    if (w < 0 && errno == EINTR) continue;
    if (w <= 0) return -1;
    put += (size_t)w;
  }
  return 0;
}

static int cmp_u64(const void *a, const void *b) {
  uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
  return x < y ? -1 : x > y;
}

static void stream(int lfd, size_t size, int nodelay, double seconds, size_t rsize, int rpoll) {
  char *buf = calloc(1, size < rsize ? rsize : size);
  if (!buf) die("calloc");
  pid_t pid = fork();
  if (pid == 0) {
    int c = accept(lfd, NULL, NULL);
    if (c < 0) die("accept");
    set_nodelay(c, nodelay);
    uint64_t total = 0;
    for (;;) {
      if (rpoll) {
        struct pollfd p = {.fd = c, .events = POLLIN};
        if (poll(&p, 1, 5000) < 0 && errno != EINTR) die("server poll");
      }
      ssize_t r = read(c, buf, rsize);
      if (r < 0 && errno == EINTR) continue;
      if (r < 0 && errno == EAGAIN) {
        struct pollfd p = {.fd = c, .events = POLLIN};
        eagain_blocking++;
        if (poll(&p, 1, 5000) <= 0) die("server read: no data for 5 s after EAGAIN");
        continue;
      }
      if (r < 0) die("server read");
      if (r == 0) break;
      total += (uint64_t)r;
    }
    uint64_t reply[3] = {total, eagain_blocking, (uint64_t)(cpu_seconds() * 1e9)};
    if (write_full(c, (char *)reply, sizeof reply) < 0) die("server write count");
    close(c);
    _exit(0);
  }
  int fd = connect_server(nodelay);
  double start = now(), end = start + seconds;
  uint64_t written = 0, writes = 0;
  while (now() < end) {
    if (write_full(fd, buf, size) < 0) die("client write");
    written += size;
    writes++;
  }
  double last_write = now();
  shutdown(fd, SHUT_WR);
  uint64_t reply[3] = {0, 0, 0};
  if (read_full(fd, (char *)reply, sizeof reply) < 0) die("client read count");
  uint64_t total = reply[0];
  eagain_blocking += reply[1];
  double finished = now(), elapsed = finished - start;
  close(fd);
  waitpid(pid, NULL, 0);
  printf("{\"mode\":\"stream\",\"writeBytes\":%zu,\"nodelay\":%d,\"readBytes\":%zu,"
         "\"pollBeforeRead\":%d,\"seconds\":%.6f,\"drainSeconds\":%.6f,"
         "\"writes\":%llu,\"sentBytes\":%llu,\"receivedBytes\":%llu,\"bitsPerSecond\":%.0f,"
         "\"eagainOnBlockingRead\":%lu,\"senderCpuSeconds\":%.4f,\"receiverCpuSeconds\":%.4f}\n",
         size, nodelay, rsize, rpoll, elapsed, finished - last_write, (unsigned long long)writes,
         (unsigned long long)written, (unsigned long long)total, total * 8.0 / elapsed,
         eagain_blocking, cpu_seconds(), reply[2] / 1e9);
}

static void rr(int lfd, size_t size, double seconds) {
  char *buf = calloc(1, size);
  pid_t pid = fork();
  if (pid == 0) {
    int c = accept(lfd, NULL, NULL);
    if (c < 0) die("accept");
    set_nodelay(c, 1);
    while (read_full(c, buf, size) == 0)
      if (write_full(c, buf, size) < 0) break;
    close(c);
    _exit(0);
  }
  int fd = connect_server(1);
  size_t cap = 1 << 22, n = 0;
  uint64_t *lat = malloc(cap * sizeof *lat);
  double start = now(), warm = start + seconds * 0.1, end = start + seconds;
  double measured_from = 0;
  uint64_t ops = 0;
  for (;;) {
    double t0 = now();
    if (t0 >= end) break;
    if (write_full(fd, buf, size) < 0) die("client write");
    if (read_full(fd, buf, size) < 0) die("client read");
    double t1 = now();
    if (t0 >= warm) {
      if (measured_from == 0) measured_from = t0;
      ops++;
      if (n < cap) lat[n++] = (uint64_t)((t1 - t0) * 1e9);
    }
  }
  double elapsed = now() - measured_from;
  close(fd);
  waitpid(pid, NULL, 0);
  qsort(lat, n, sizeof *lat, cmp_u64);
  uint64_t p50 = n ? lat[n / 2] : 0, p99 = n ? lat[(size_t)(n * 0.99)] : 0;
  printf("{\"mode\":\"rr\",\"messageBytes\":%zu,\"seconds\":%.6f,\"ops\":%llu,"
         "\"opsPerSecond\":%.1f,\"p50Ns\":%llu,\"p99Ns\":%llu,\"eagainOnBlockingRead\":%lu}\n",
         size, elapsed, (unsigned long long)ops, ops / elapsed, (unsigned long long)p50,
         (unsigned long long)p99, eagain_blocking);
}

static void crr(int lfd, double seconds) {
  pid_t pid = fork();
  if (pid == 0) {
    char b;
    for (;;) {
      int c = accept(lfd, NULL, NULL);
      if (c < 0) die("accept");
      if (read_full(c, &b, 1) < 0) { close(c); _exit(0); } /* an empty connection: stop */
      write_full(c, &b, 1);
      close(c);
    }
  }
  double start = now(), end = start + seconds;
  uint64_t conns = 0;
  char b = 'x';
  while (now() < end) {
    int fd = connect_server(1);
    if (write_full(fd, &b, 1) < 0 || read_full(fd, &b, 1) < 0) die("crr echo");
    close(fd);
    conns++;
  }
  double elapsed = now() - start;
  close(connect_server(1)); /* tells the server to stop */
  waitpid(pid, NULL, 0);
  printf("{\"mode\":\"crr\",\"seconds\":%.6f,\"connections\":%llu,\"connectionsPerSecond\":%.1f}\n",
         elapsed, (unsigned long long)conns, conns / elapsed);
}

int main(int argc, char **argv) {
  if (argc < 4) {
    fprintf(stderr, "usage: loadgen stream|rr|crr tcp4|tcp6|unix ...\n");
    return 2;
  }
  signal(SIGPIPE, SIG_IGN);
  family = !strcmp(argv[2], "tcp4") ? AF_INET : !strcmp(argv[2], "tcp6") ? AF_INET6 : AF_UNIX;
  int lfd = listen_any();
  if (!strcmp(argv[1], "stream") && argc >= 6 && argc <= 8) {
    size_t rsize = argc >= 7 ? strtoul(argv[6], NULL, 10) : 65536;
    if (rsize == 0) {
      fprintf(stderr, "loadgen: read-bytes must be a positive number\n");
      return 2;
    }
    stream(lfd, strtoul(argv[3], NULL, 10), atoi(argv[4]), atof(argv[5]), rsize,
           argc == 8 ? atoi(argv[7]) : 0);
  }
  else if (!strcmp(argv[1], "rr") && argc == 5)
    rr(lfd, strtoul(argv[3], NULL, 10), atof(argv[4]));
  else if (!strcmp(argv[1], "crr") && argc == 4)
    crr(lfd, atof(argv[3]));
  else {
    fprintf(stderr, "loadgen: bad arguments\n");
    return 2;
  }
  return 0;
}
