/*
 * Socket-semantics scenarios for the conformance suite. Each invocation runs ONE scenario once
 * over loopback and prints one JSON verdict line: {"scenario":..,"pass":true|false,"detail":".."}.
 * The suite runs it inside a test cgroup, plain or with the acceleration programs attached, so the
 * same code proves that an application sees the same socket semantics either way.
 *
 *   scenarios <name> [arg]     names: see the table at the end of this file
 *
 * Every scenario is bounded: SIGALRM (20 s) turns a hang into a failed verdict ("timeout").
 * Byte streams are checked with SHA-256 (a small implementation below, FIPS 180-4).
 * Compiled by the suite with `cc -O2` into a temporary directory.
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/ioctl.h>
#include <sys/sendfile.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

/* ---- SHA-256 (FIPS 180-4) ---- */
typedef struct { uint32_t h[8]; uint8_t buf[64]; uint64_t len; size_t n; } sha256;
static const uint32_t K[64] = {
  0x428a2f98,0x71374491,0xb5c0fbcf,0xe9b5dba5,0x3956c25b,0x59f111f1,0x923f82a4,0xab1c5ed5,
  0xd807aa98,0x12835b01,0x243185be,0x550c7dc3,0x72be5d74,0x80deb1fe,0x9bdc06a7,0xc19bf174,
  0xe49b69c1,0xefbe4786,0x0fc19dc6,0x240ca1cc,0x2de92c6f,0x4a7484aa,0x5cb0a9dc,0x76f988da,
  0x983e5152,0xa831c66d,0xb00327c8,0xbf597fc7,0xc6e00bf3,0xd5a79147,0x06ca6351,0x14292967,
  0x27b70a85,0x2e1b2138,0x4d2c6dfc,0x53380d13,0x650a7354,0x766a0abb,0x81c2c92e,0x92722c85,
  0xa2bfe8a1,0xa81a664b,0xc24b8b70,0xc76c51a3,0xd192e819,0xd6990624,0xf40e3585,0x106aa070,
  0x19a4c116,0x1e376c08,0x2748774c,0x34b0bcb5,0x391c0cb3,0x4ed8aa4a,0x5b9cca4f,0x682e6ff3,
  0x748f82ee,0x78a5636f,0x84c87814,0x8cc70208,0x90befffa,0xa4506ceb,0xbef9a3f7,0xc67178f2};
#define ROR(x, n) (((x) >> (n)) | ((x) << (32 - (n))))
static void sha_block(sha256 *s, const uint8_t *p) {
  uint32_t w[64], a, b, c, d, e, f, g, h;
  for (int i = 0; i < 16; i++) w[i] = (uint32_t)p[4*i] << 24 | p[4*i+1] << 16 | p[4*i+2] << 8 | p[4*i+3];
  for (int i = 16; i < 64; i++) {
    uint32_t s0 = ROR(w[i-15], 7) ^ ROR(w[i-15], 18) ^ (w[i-15] >> 3);
    uint32_t s1 = ROR(w[i-2], 17) ^ ROR(w[i-2], 19) ^ (w[i-2] >> 10);
    w[i] = w[i-16] + s0 + w[i-7] + s1;
  }
  a = s->h[0]; b = s->h[1]; c = s->h[2]; d = s->h[3]; e = s->h[4]; f = s->h[5]; g = s->h[6]; h = s->h[7];
  for (int i = 0; i < 64; i++) {
    uint32_t t1 = h + (ROR(e, 6) ^ ROR(e, 11) ^ ROR(e, 25)) + ((e & f) ^ (~e & g)) + K[i] + w[i];
    uint32_t t2 = (ROR(a, 2) ^ ROR(a, 13) ^ ROR(a, 22)) + ((a & b) ^ (a & c) ^ (b & c));
    h = g; g = f; f = e; e = d + t1; d = c; c = b; b = a; a = t1 + t2;
  }
  s->h[0] += a; s->h[1] += b; s->h[2] += c; s->h[3] += d; s->h[4] += e; s->h[5] += f; s->h[6] += g; s->h[7] += h;
}
static void sha_init(sha256 *s) {
  static const uint32_t iv[8] = {0x6a09e667,0xbb67ae85,0x3c6ef372,0xa54ff53a,0x510e527f,0x9b05688c,0x1f83d9ab,0x5be0cd19};
  memcpy(s->h, iv, sizeof iv); s->len = 0; s->n = 0;
}
static void sha_update(sha256 *s, const void *data, size_t len) {
  const uint8_t *p = data;
  s->len += len;
  while (len > 0) {
    size_t take = 64 - s->n < len ? 64 - s->n : len;
    memcpy(s->buf + s->n, p, take); s->n += take; p += take; len -= take;
    if (s->n == 64) { sha_block(s, s->buf); s->n = 0; }
  }
}
static void sha_hex(sha256 *s, char out[65]) {
  uint64_t bits = s->len * 8;
  uint8_t pad = 0x80, zero = 0, lenb[8];
  sha_update(s, &pad, 1);
  while (s->n != 56) sha_update(s, &zero, 1);
  for (int i = 0; i < 8; i++) lenb[i] = (uint8_t)(bits >> (56 - 8 * i));
  sha_update(s, lenb, 8);
  for (int i = 0; i < 8; i++) sprintf(out + 8 * i, "%08x", s->h[i]);
}

/* ---- verdicts ---- */
static const char *scenario = "?";
static void verdict(int pass, const char *fmt, ...) {
  char detail[512];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(detail, sizeof detail, fmt, ap);
  va_end(ap);
  for (char *c = detail; *c; c++) if (*c == '"' || *c == '\\' || *c < 32) *c = ' ';
  printf("{\"scenario\":\"%s\",\"pass\":%s,\"detail\":\"%s\"}\n", scenario, pass ? "true" : "false", detail);
  fflush(stdout);
  exit(0);
}
#define FAIL(...) verdict(0, __VA_ARGS__)
#define CHECK(cond, ...) do { if (!(cond)) FAIL(__VA_ARGS__); } while (0)
static void on_alarm(int sig) { (void)sig; FAIL("timeout: the scenario hung for 20 s"); }

/* ---- sockets ---- */
static struct sockaddr_storage srv;
static socklen_t srv_len;
static int srv_family;

/* Listens on loopback: "4" 127.0.0.1, "6" ::1 (v6-only), "dual" :: (v4-mapped peers). */
static int listener(const char *kind) {
  int one = 1, zero = 0;
  memset(&srv, 0, sizeof srv);
  int fd;
  if (!strcmp(kind, "4")) {
    struct sockaddr_in *a = (void *)&srv;
    a->sin_family = AF_INET; a->sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    srv_len = sizeof *a; srv_family = AF_INET;
    fd = socket(AF_INET, SOCK_STREAM, 0);
  } else {
    struct sockaddr_in6 *a = (void *)&srv;
    a->sin6_family = AF_INET6;
    a->sin6_addr = !strcmp(kind, "6") ? in6addr_loopback : in6addr_any;
    srv_len = sizeof *a; srv_family = AF_INET6;
    fd = socket(AF_INET6, SOCK_STREAM, 0);
    setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, !strcmp(kind, "6") ? &one : &zero, sizeof one);
  }
  CHECK(fd >= 0, "socket: %s", strerror(errno));
  setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  CHECK(bind(fd, (void *)&srv, srv_len) == 0, "bind: %s", strerror(errno));
  CHECK(listen(fd, 512) == 0, "listen: %s", strerror(errno));
  CHECK(getsockname(fd, (void *)&srv, &srv_len) == 0, "getsockname");
  return fd;
}

/* Connects to the listener; `as4` connects an AF_INET client to 127.0.0.1 at the same port. */
static int connect_to(int as4) {
  int fd;
  if (as4) {
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    a.sin_port = srv_family == AF_INET ? ((struct sockaddr_in *)&srv)->sin_port : ((struct sockaddr_in6 *)&srv)->sin6_port;
    fd = socket(AF_INET, SOCK_STREAM, 0);
    CHECK(connect(fd, (void *)&a, sizeof a) == 0, "connect: %s", strerror(errno));
  } else {
    fd = socket(srv_family, SOCK_STREAM, 0);
    CHECK(connect(fd, (void *)&srv, srv_len) == 0, "connect: %s", strerror(errno));
  }
  return fd;
}

static void pair(const char *kind, int *c, int *s) {
  int l = listener(kind);
  *c = connect_to(!strcmp(kind, "dual"));
  *s = accept(l, NULL, NULL);
  CHECK(*s >= 0, "accept: %s", strerror(errno));
  close(l);
}

/* Deterministic payload: byte i of stream `seed`. */
static void fill(uint8_t *buf, size_t n, uint64_t off, uint32_t seed) {
  for (size_t i = 0; i < n; i++) {
    uint64_t x = (off + i) * 0x9E3779B97F4A7C15ull + seed;
    buf[i] = (uint8_t)(x >> 56);
  }
}

static void write_all(int fd, const void *p, size_t n) {
  const uint8_t *b = p;
  while (n) {
    ssize_t w = write(fd, b, n);
    if (w < 0 && errno == EINTR) continue;
    CHECK(w > 0, "write: %s", strerror(errno));
    b += w; n -= (size_t)w;
  }
}

/* Reads until EOF, hashing; returns the byte count. */
static uint64_t read_to_eof(int fd, sha256 *h) {
  static uint8_t buf[1 << 16];
  uint64_t total = 0;
  for (;;) {
    ssize_t r = read(fd, buf, sizeof buf);
    if (r < 0 && errno == EINTR) continue;
    CHECK(r >= 0, "read after %llu bytes: %s", (unsigned long long)total, strerror(errno));
    if (r == 0) return total;
    if (h) sha_update(h, buf, (size_t)r);
    total += (uint64_t)r;
  }
}

/* Child writes `total` bytes in chunks from `next_size`, then shuts down; parent reads + hashes. */
typedef size_t (*chunker)(uint64_t written, unsigned *rng);
static size_t chunk_random(uint64_t w, unsigned *rng) { (void)w; return 1 + (size_t)(rand_r(rng) % 65536); }
static size_t chunk_small(uint64_t w, unsigned *rng) { (void)w; (void)rng; return 7; }

static void stream_check(const char *kind, uint64_t total, chunker next, int nodelay) {
  int c, s;
  pair(kind, &c, &s);
  if (nodelay) setsockopt(c, IPPROTO_TCP, TCP_NODELAY, &nodelay, sizeof nodelay);
  sha256 sent; sha_init(&sent);
  static uint8_t buf[65536];
  unsigned rng = 12345;
  /* The expected hash is computed here, before forking, over the same deterministic stream. */
  for (uint64_t w = 0; w < total;) {
    size_t n = next(w, &rng);
    if (n > total - w) n = (size_t)(total - w);
    fill(buf, n, w, 7); sha_update(&sent, buf, n); w += n;
  }
  pid_t pid = fork();
  if (pid == 0) {
    close(s); rng = 12345;
    for (uint64_t w = 0; w < total;) {
      size_t n = next(w, &rng);
      if (n > total - w) n = (size_t)(total - w);
      fill(buf, n, w, 7); write_all(c, buf, n); w += n;
    }
    shutdown(c, SHUT_WR);
    _exit(0);
  }
  close(c);
  sha256 got; sha_init(&got);
  uint64_t n = read_to_eof(s, &got);
  waitpid(pid, NULL, 0);
  char a[65], b[65];
  sha_hex(&sent, a); sha_hex(&got, b);
  CHECK(n == total, "received %llu of %llu bytes", (unsigned long long)n, (unsigned long long)total);
  CHECK(!strcmp(a, b), "sha256 mismatch: sent %s received %s", a, b);
  verdict(1, "%llu bytes, sha256 %.16s...", (unsigned long long)total, a);
}

static void sc_integrity(void) { stream_check("4", 10u << 20, chunk_random, 0); }
static void sc_small_writes(void) { stream_check("4", 7 * 30000, chunk_small, 0); }
static void sc_small_writes_nodelay(void) { stream_check("4", 7 * 30000, chunk_small, 1); }
static void sc_v4mapped(void) { stream_check("dual", 2u << 20, chunk_random, 0); }
static void sc_ipv6(void) { stream_check("6", 2u << 20, chunk_random, 0); }

static void sc_writev(void) {
  int c, s;
  pair("4", &c, &s);
  const int rounds = 2000;
  static uint8_t data[8][4096];
  size_t sizes[8] = {1, 13, 100, 512, 1000, 4096, 7, 2048};
  sha256 sent; sha_init(&sent);
  uint64_t off = 0;
  for (int r = 0; r < rounds; r++)
    for (int i = 0; i < 8; i++) { fill(data[i], sizes[i], off, 3); sha_update(&sent, data[i], sizes[i]); off += sizes[i]; }
  pid_t pid = fork();
  if (pid == 0) {
    close(s);
    uint64_t o = 0;
    for (int r = 0; r < rounds; r++) {
      struct iovec iov[8];
      size_t want = 0;
      for (int i = 0; i < 8; i++) { fill(data[i], sizes[i], o, 3); o += sizes[i]; iov[i].iov_base = data[i]; iov[i].iov_len = sizes[i]; want += sizes[i]; }
      ssize_t w = writev(c, iov, 8);
      CHECK(w == (ssize_t)want, "writev wrote %zd of %zu: %s", w, want, strerror(errno));
    }
    shutdown(c, SHUT_WR);
    _exit(0);
  }
  close(c);
  sha256 got; sha_init(&got);
  uint64_t n = read_to_eof(s, &got);
  waitpid(pid, NULL, 0);
  char a[65], b[65];
  sha_hex(&sent, a); sha_hex(&got, b);
  CHECK(n == off && !strcmp(a, b), "received %llu of %llu bytes, sha256 %s vs %s", (unsigned long long)n, (unsigned long long)off, b, a);
  verdict(1, "%d writev calls of 8 iovecs, %llu bytes intact", rounds, (unsigned long long)n);
}

static void sc_sendfile(void) {
  char path[] = "/tmp/tsbpf-conformance-XXXXXX";
  int f = mkstemp(path);
  CHECK(f >= 0, "mkstemp: %s", strerror(errno));
  unlink(path);
  const size_t total = 4u << 20;
  static uint8_t buf[65536];
  sha256 sent; sha_init(&sent);
  for (size_t o = 0; o < total; o += sizeof buf) { fill(buf, sizeof buf, o, 5); sha_update(&sent, buf, sizeof buf); write_all(f, buf, sizeof buf); }
  int c, s;
  pair("4", &c, &s);
  pid_t pid = fork();
  if (pid == 0) {
    close(s);
    off_t off = 0;
    while ((size_t)off < total) {
      ssize_t w = sendfile(c, f, &off, total - (size_t)off);
      CHECK(w > 0, "sendfile: %s", strerror(errno));
    }
    shutdown(c, SHUT_WR);
    _exit(0);
  }
  close(c);
  sha256 got; sha_init(&got);
  uint64_t n = read_to_eof(s, &got);
  waitpid(pid, NULL, 0);
  char a[65], b[65];
  sha_hex(&sent, a); sha_hex(&got, b);
  CHECK(n == total && !strcmp(a, b), "received %llu of %zu bytes, sha256 match %d", (unsigned long long)n, total, !strcmp(a, b));
  verdict(1, "sendfile of %zu bytes intact", total);
}

static void sc_splice(void) {
  int c, s, p[2];
  pair("4", &c, &s);
  CHECK(pipe(p) == 0, "pipe");
  const size_t total = 4u << 20;
  static uint8_t buf[65536];
  sha256 sent; sha_init(&sent);
  for (size_t o = 0; o < total; o += sizeof buf) { fill(buf, sizeof buf, o, 9); sha_update(&sent, buf, sizeof buf); }
  pid_t pid = fork();
  if (pid == 0) {
    close(s);
    for (size_t o = 0; o < total; o += sizeof buf) { fill(buf, sizeof buf, o, 9); write_all(c, buf, sizeof buf); }
    shutdown(c, SHUT_WR);
    _exit(0);
  }
  close(c);
  sha256 got; sha_init(&got);
  uint64_t n = 0;
  for (;;) {
    ssize_t r = splice(s, NULL, p[1], NULL, 65536, SPLICE_F_MOVE);
    if (r < 0 && errno == EINTR) continue;
    CHECK(r >= 0, "splice from socket after %llu bytes: %s", (unsigned long long)n, strerror(errno));
    if (r == 0) break;
    for (ssize_t left = r; left > 0;) {
      ssize_t k = read(p[0], buf, (size_t)left);
      CHECK(k > 0, "read from pipe");
      sha_update(&got, buf, (size_t)k); left -= k; n += (uint64_t)k;
    }
  }
  waitpid(pid, NULL, 0);
  char a[65], b[65];
  sha_hex(&sent, a); sha_hex(&got, b);
  CHECK(n == total && !strcmp(a, b), "spliced %llu of %zu bytes, sha256 match %d", (unsigned long long)n, total, !strcmp(a, b));
  verdict(1, "splice(2) received %zu bytes intact", total);
}

/* After the peer's shutdown(SHUT_WR): all data, then EOF; the reply reaches a blocking read. */
static void sc_half_close(void) {
  int c, s;
  pair("4", &c, &s);
  const int writes = 50000;
  pid_t pid = fork();
  if (pid == 0) {
    close(c);
    uint64_t n = read_to_eof(s, NULL);
    char reply[64];
    memset(reply, 'r', sizeof reply);
    memcpy(reply, &n, sizeof n);
    write_all(s, reply, sizeof reply);
    close(s);
    _exit(0);
  }
  close(s);
  uint8_t msg[64];
  memset(msg, 'm', sizeof msg);
  for (int i = 0; i < writes; i++) write_all(c, msg, sizeof msg);
  CHECK(shutdown(c, SHUT_WR) == 0, "shutdown: %s", strerror(errno));
  char reply[64];
  size_t got = 0;
  while (got < sizeof reply) {
    ssize_t r = read(c, reply + got, sizeof reply - got); /* blocking socket */
    if (r < 0 && errno == EINTR) continue;
    CHECK(r >= 0, "blocking read of the reply failed with %s (errno %d) after %zu bytes", strerror(errno), errno, got);
    CHECK(r > 0, "EOF before the reply (%zu of 64 bytes)", got);
    got += (size_t)r;
  }
  uint64_t n;
  memcpy(&n, reply, sizeof n);
  CHECK(n == 64ull * writes, "the server read %llu of %llu bytes before EOF", (unsigned long long)n, 64ull * writes);
  char extra;
  ssize_t r = read(c, &extra, 1);
  CHECK(r == 0, "expected EOF after the reply, read returned %zd (%s)", r, r < 0 ? strerror(errno) : "data");
  waitpid(pid, NULL, 0);
  verdict(1, "%d x 64 B, shutdown(SHUT_WR): peer read all then EOF; reply arrived; EOF", writes);
}

static int wait_epoll(int ep, int ms, uint32_t *events) {
  struct epoll_event ev;
  int n;
  do n = epoll_wait(ep, &ev, 1, ms); while (n < 0 && errno == EINTR);
  if (n == 1 && events) *events = ev.events;
  return n;
}

static void sc_epoll_et(void) {
  int c, s;
  pair("4", &c, &s);
  fcntl(s, F_SETFL, O_NONBLOCK);
  int ep = epoll_create1(0);
  struct epoll_event ev = {.events = EPOLLIN | EPOLLET | EPOLLRDHUP, .data.fd = s};
  CHECK(epoll_ctl(ep, EPOLL_CTL_ADD, s, &ev) == 0, "epoll_ctl");
  uint8_t buf[4096];
  for (int round = 0; round < 200; round++) {
    size_t n = 1 + (size_t)(round * 37 % 3000);
    fill(buf, n, (uint64_t)round, 1);
    write_all(c, buf, n);
    uint32_t events = 0;
    CHECK(wait_epoll(ep, 2000, &events) == 1, "round %d: no edge-triggered EPOLLIN within 2 s after %zu bytes", round, n);
    CHECK(events & EPOLLIN, "round %d: events 0x%x without EPOLLIN", round, events);
    size_t got = 0;
    for (;;) {
      ssize_t r = read(s, buf, sizeof buf);
      if (r > 0) { got += (size_t)r; continue; }
      CHECK(r < 0 && errno == EAGAIN, "round %d: read returned %zd (%s) while draining", round, r, strerror(errno));
      break;
    }
    CHECK(got == n, "round %d: drained %zu of %zu bytes before EAGAIN", round, got, n);
    /* Drained: no new edge until new data. */
    CHECK(wait_epoll(ep, 0, NULL) == 0, "round %d: a spurious edge after draining", round);
  }
  shutdown(c, SHUT_WR);
  uint32_t events = 0;
  CHECK(wait_epoll(ep, 2000, &events) == 1, "no wakeup after the peer's shutdown(SHUT_WR)");
  CHECK(events & EPOLLRDHUP, "wakeup after shutdown without EPOLLRDHUP (events 0x%x)", events);
  CHECK(read(s, buf, 1) == 0, "read after EPOLLRDHUP is not EOF");
  verdict(1, "200 rounds: one edge per write, drained to EAGAIN, no spurious edge; EPOLLRDHUP then EOF");
}

static void sc_fionread(void) {
  int c, s;
  pair("4", &c, &s);
  uint8_t buf[8192];
  for (int round = 0; round < 100; round++) {
    size_t n = 1 + (size_t)(round * 97 % 8000);
    fill(buf, n, (uint64_t)round, 2);
    write_all(c, buf, n);
    struct pollfd p = {.fd = s, .events = POLLIN};
    CHECK(poll(&p, 1, 2000) == 1, "round %d: not readable", round);
    int avail = -1;
    /* Loopback delivery is synchronous with write() for both paths; allow 10 ms for the rest. */
    for (int i = 0; i < 10; i++) {
      CHECK(ioctl(s, FIONREAD, &avail) == 0, "FIONREAD: %s", strerror(errno));
      if ((size_t)avail == n) break;
      usleep(1000);
    }
    CHECK((size_t)avail == n, "round %d: FIONREAD says %d, %zu bytes were sent", round, avail, n);
    ssize_t r = recv(s, buf, sizeof buf, MSG_DONTWAIT);
    CHECK(r == (ssize_t)n, "round %d: FIONREAD said %d but recv returned %zd", round, avail, r);
    CHECK(ioctl(s, FIONREAD, &avail) == 0 && avail == 0, "round %d: FIONREAD %d after draining", round, avail);
  }
  verdict(1, "100 rounds: FIONREAD equals the readable bytes, 0 after draining");
}

static void sc_msg_peek(void) {
  int c, s;
  pair("4", &c, &s);
  for (int round = 0; round < 100; round++) {
    char out[256], a[256], b[256];
    int n = snprintf(out, sizeof out, "message %d of the MSG_PEEK scenario", round);
    write_all(c, out, (size_t)n);
    struct pollfd p = {.fd = s, .events = POLLIN};
    CHECK(poll(&p, 1, 2000) == 1, "round %d: not readable", round);
    usleep(200);
    ssize_t r1 = recv(s, a, sizeof a, MSG_PEEK);
    ssize_t r1b = recv(s, a, sizeof a, MSG_PEEK);
    ssize_t r2 = recv(s, b, sizeof b, MSG_DONTWAIT);
    CHECK(r1 == n && r1b == n && r2 == n, "round %d: peek %zd, peek again %zd, read %zd of %d bytes", round, r1, r1b, r2, n);
    CHECK(!memcmp(a, out, (size_t)n) && !memcmp(b, out, (size_t)n), "round %d: peeked or read bytes differ", round);
    CHECK(recv(s, b, sizeof b, MSG_DONTWAIT) < 0 && errno == EAGAIN, "round %d: data left after the read", round);
  }
  verdict(1, "100 rounds: MSG_PEEK twice then recv see the same bytes, nothing left");
}

static void sc_rcvlowat(void) {
  int c, s;
  pair("4", &c, &s);
  int lowat = 1000;
  CHECK(setsockopt(s, SOL_SOCKET, SO_RCVLOWAT, &lowat, sizeof lowat) == 0, "SO_RCVLOWAT: %s", strerror(errno));
  uint8_t buf[2048];
  fill(buf, sizeof buf, 0, 4);
  write_all(c, buf, 500);
  struct pollfd p = {.fd = s, .events = POLLIN};
  int r = poll(&p, 1, 200);
  CHECK(r == 0, "readable with 500 bytes queued and SO_RCVLOWAT 1000 (poll %d, revents 0x%x)", r, p.revents);
  write_all(c, buf + 500, 600);
  r = poll(&p, 1, 2000);
  CHECK(r == 1 && (p.revents & POLLIN), "not readable with 1100 bytes queued and SO_RCVLOWAT 1000");
  ssize_t n = recv(s, buf, sizeof buf, 0);
  CHECK(n == 1100, "blocking recv returned %zd, expected the 1100 queued bytes", n);
  verdict(1, "not readable below SO_RCVLOWAT, readable above it, recv returned all 1100 bytes");
}

static void sc_send_before_accept(void) {
  int l = listener("4");
  int c = connect_to(0);
  uint8_t buf[3000];
  fill(buf, sizeof buf, 0, 6);
  write_all(c, buf, sizeof buf);
  shutdown(c, SHUT_WR);
  usleep(50 * 1000);
  int s = accept(l, NULL, NULL);
  CHECK(s >= 0, "accept: %s", strerror(errno));
  sha256 got; sha_init(&got);
  uint64_t n = read_to_eof(s, &got);
  sha256 sent; sha_init(&sent); sha_update(&sent, buf, sizeof buf);
  char a[65], b[65];
  sha_hex(&sent, a); sha_hex(&got, b);
  CHECK(n == sizeof buf && !strcmp(a, b), "received %llu of %zu bytes sent before accept()", (unsigned long long)n, sizeof buf);
  verdict(1, "3000 bytes sent before accept() arrived intact, then EOF");
}

static void sc_rst_mid_stream(void) {
  int c, s;
  pair("4", &c, &s);
  pid_t pid = fork();
  if (pid == 0) {
    close(c);
    static uint8_t buf[65536];
    uint64_t n = 0;
    while (n < (1u << 20)) { ssize_t r = read(s, buf, sizeof buf); if (r <= 0) break; n += (uint64_t)r; }
    struct linger lg = {.l_onoff = 1, .l_linger = 0};
    setsockopt(s, SOL_SOCKET, SO_LINGER, &lg, sizeof lg);
    close(s); /* RST */
    _exit(0);
  }
  close(s);
  static uint8_t buf[16384];
  int err = 0;
  uint64_t sent = 0;
  for (int i = 0; i < 100000; i++) {
    ssize_t w = write(c, buf, sizeof buf);
    if (w < 0) { err = errno; break; }
    sent += (uint64_t)w;
  }
  waitpid(pid, NULL, 0);
  CHECK(err == EPIPE || err == ECONNRESET, "writes after the peer's RST did not fail with EPIPE/ECONNRESET (errno %d, %llu bytes sent)", err, (unsigned long long)sent);
  char b;
  ssize_t r = read(c, &b, 1);
  CHECK(r <= 0, "read after RST returned data");
  verdict(1, "writer got %s after the peer reset the connection mid-stream", strerror(err));
}

/*
 * Back-pressure: the receiver does not read; the non-blocking sender writes 64 KiB chunks until
 * EAGAIN or a 64 MiB bound. TCP stops it once the peer's receive window and its own send buffer
 * are full (a few MiB); the bound keeps the memory a run can pin modest when nothing stops it.
 * Then the receiver reads back exactly what was accepted (no EOF wait: that would mix in the
 * half-close race) and the bytes are compared, so a run also proves nothing was lost.
 */
static void sc_backpressure(void) {
  const uint64_t bound = 64u << 20;
  int c, s;
  pair("4", &c, &s);
  CHECK(fcntl(c, F_SETFL, O_NONBLOCK) == 0, "O_NONBLOCK: %s", strerror(errno));
  static uint8_t buf[65536];
  sha256 sent; sha_init(&sent);
  uint64_t accepted = 0;
  int blocked = 0;
  while (accepted < bound) {
    fill(buf, sizeof buf, accepted, 13);
    ssize_t w = write(c, buf, sizeof buf);
    if (w < 0 && errno == EINTR) continue;
    if (w < 0 && errno == EAGAIN) { blocked = 1; break; }
    CHECK(w > 0, "write after %llu bytes: %s", (unsigned long long)accepted, strerror(errno));
    sha_update(&sent, buf, (size_t)w);
    accepted += (uint64_t)w;
  }
  sha256 got; sha_init(&got);
  uint64_t n = 0;
  while (n < accepted) {
    size_t want = accepted - n < sizeof buf ? (size_t)(accepted - n) : sizeof buf;
    ssize_t r = read(s, buf, want);
    if (r < 0 && errno == EINTR) continue;
    CHECK(r > 0, "read back %llu of %llu accepted bytes: %s", (unsigned long long)n, (unsigned long long)accepted, r < 0 ? strerror(errno) : "EOF");
    sha_update(&got, buf, (size_t)r);
    n += (uint64_t)r;
  }
  CHECK(recv(s, buf, 1, MSG_DONTWAIT) < 0 && errno == EAGAIN, "more than the %llu accepted bytes arrived", (unsigned long long)accepted);
  char a[65], b[65];
  sha_hex(&sent, a); sha_hex(&got, b);
  CHECK(!strcmp(a, b), "sha256 mismatch after %llu bytes: sent %s received %s", (unsigned long long)accepted, a, b);
  close(c); close(s);
  if (!blocked)
    FAIL("no EAGAIN: the sender queued the whole %llu MiB bound with the peer not reading (read back intact)", (unsigned long long)(bound >> 20));
  verdict(1, "EAGAIN after %llu bytes (%.1f MiB) with the peer not reading; all read back intact", (unsigned long long)accepted, accepted / 1048576.0);
}

/* 200 connections at once, random sizes, poll-driven, every byte checked. */
static void sc_concurrent(void) {
  enum { N = 200 };
  int l = listener("4");
  int cs[N], ss[N];
  uint64_t size[N], wr[N], rd[N];
  unsigned rng = 777;
  for (int i = 0; i < N; i++) {
    cs[i] = connect_to(0);
    ss[i] = accept(l, NULL, NULL);
    CHECK(ss[i] >= 0, "accept %d: %s", i, strerror(errno));
    fcntl(cs[i], F_SETFL, O_NONBLOCK);
    fcntl(ss[i], F_SETFL, O_NONBLOCK);
    size[i] = 1 + (uint64_t)(rand_r(&rng) % (256 * 1024));
    wr[i] = rd[i] = 0;
  }
  /* The accepted sockets are in accept order = connect order on loopback; verify by ports. */
  for (int i = 0; i < N; i++) {
    struct sockaddr_in a, b; socklen_t al = sizeof a, bl = sizeof b;
    getsockname(cs[i], (void *)&a, &al); getpeername(ss[i], (void *)&b, &bl);
    CHECK(a.sin_port == b.sin_port, "accept order differs from connect order at %d", i);
  }
  struct pollfd p[2 * N];
  static uint8_t buf[65536], want[65536];
  int open = N;
  while (open > 0) {
    int k = 0;
    for (int i = 0; i < N; i++) {
      p[k++] = (struct pollfd){.fd = wr[i] < size[i] ? cs[i] : -1, .events = POLLOUT};
      p[k++] = (struct pollfd){.fd = rd[i] < size[i] ? ss[i] : -1, .events = POLLIN};
    }
    CHECK(poll(p, 2 * N, 5000) > 0, "no progress for 5 s with %d connections unfinished", open);
    for (int i = 0; i < N; i++) {
      if (p[2*i].revents & POLLOUT) {
        size_t n = size[i] - wr[i] < sizeof buf ? (size_t)(size[i] - wr[i]) : sizeof buf;
        fill(buf, n, wr[i], (uint32_t)i);
        ssize_t w = write(cs[i], buf, n);
        if (w > 0) wr[i] += (uint64_t)w;
        else CHECK(errno == EAGAIN, "conn %d write: %s", i, strerror(errno));
      }
      if (p[2*i+1].revents & (POLLIN | POLLHUP | POLLERR)) {
        ssize_t r = read(ss[i], buf, sizeof buf);
        if (r > 0) {
          fill(want, (size_t)r, rd[i], (uint32_t)i);
          CHECK(!memcmp(buf, want, (size_t)r), "conn %d: wrong bytes at offset %llu", i, (unsigned long long)rd[i]);
          rd[i] += (uint64_t)r;
          if (rd[i] == size[i]) open--;
        } else CHECK(r < 0 && errno == EAGAIN, "conn %d read returned %zd at %llu of %llu", i, r, (unsigned long long)rd[i], (unsigned long long)size[i]);
      }
    }
  }
  uint64_t total = 0;
  for (int i = 0; i < N; i++) { total += size[i]; close(cs[i]); close(ss[i]); }
  verdict(1, "200 concurrent connections, %llu bytes, every byte where it belongs", (unsigned long long)total);
}

/*
 * Lifecycle (driven by the suite over stdin/stdout): connection A opens now; the suite enables
 * acceleration and says "go"; connection B opens; both carry 1 MiB each way; the suite disables
 * acceleration and says "go"; both carry 1 MiB again and close cleanly.
 */
static void echo_check(int c, int s, const char *what) {
  static uint8_t buf[1 << 20], back[1 << 20];
  fill(buf, sizeof buf, 0, 11);
  pid_t pid = fork();
  if (pid == 0) { write_all(c, buf, sizeof buf); _exit(0); }
  size_t got = 0;
  while (got < sizeof back) {
    ssize_t r = read(s, back + got, sizeof back - got);
    CHECK(r > 0, "%s: read %zd after %zu bytes (%s)", what, r, got, strerror(errno));
    got += (size_t)r;
  }
  waitpid(pid, NULL, 0);
  CHECK(!memcmp(buf, back, sizeof buf), "%s: bytes differ", what);
  write_all(s, "ok", 2);
  char ok[2];
  CHECK(read(c, ok, 2) == 2 && !memcmp(ok, "ok", 2), "%s: no reply", what);
}
static void wait_go(void) {
  char line[16];
  CHECK(fgets(line, sizeof line, stdin) != NULL, "the suite never said go");
}
static void sc_lifecycle(void) {
  int l = listener("4");
  int ca = connect_to(0), sa = accept(l, NULL, NULL);
  printf("ready\n"); fflush(stdout);
  wait_go();
  int cb = connect_to(0), sb = accept(l, NULL, NULL);
  echo_check(ca, sa, "A (opened before enable), enabled");
  echo_check(cb, sb, "B (opened while enabled), enabled");
  printf("ready\n"); fflush(stdout);
  wait_go();
  echo_check(ca, sa, "A after disable");
  echo_check(cb, sb, "B (accelerated) after disable");
  shutdown(ca, SHUT_WR); shutdown(cb, SHUT_WR);
  CHECK(read_to_eof(sa, NULL) == 0 && read_to_eof(sb, NULL) == 0, "stray bytes before EOF");
  verdict(1, "A (opened before enable) and B (opened while enabled) carried 1 MiB both before and after disable");
}

static const struct { const char *name; void (*run)(void); } SCENARIOS[] = {
  {"integrity_10mb", sc_integrity},
  {"small_writes_nagle", sc_small_writes},
  {"small_writes_nodelay", sc_small_writes_nodelay},
  {"writev", sc_writev},
  {"sendfile", sc_sendfile},
  {"splice_recv", sc_splice},
  {"half_close", sc_half_close},
  {"epoll_et", sc_epoll_et},
  {"fionread", sc_fionread},
  {"msg_peek", sc_msg_peek},
  {"so_rcvlowat", sc_rcvlowat},
  {"send_before_accept", sc_send_before_accept},
  {"rst_mid_stream", sc_rst_mid_stream},
  {"backpressure", sc_backpressure},
  {"concurrent_200", sc_concurrent},
  {"v4_mapped", sc_v4mapped},
  {"ipv6_native", sc_ipv6},
  {"lifecycle", sc_lifecycle},
};

int main(int argc, char **argv) {
  signal(SIGPIPE, SIG_IGN);
  signal(SIGALRM, on_alarm);
  if (argc < 2) { fprintf(stderr, "usage: scenarios NAME | --list\n"); return 2; }
  if (!strcmp(argv[1], "--list")) {
    for (size_t i = 0; i < sizeof SCENARIOS / sizeof *SCENARIOS; i++) printf("%s\n", SCENARIOS[i].name);
    return 0;
  }
  for (size_t i = 0; i < sizeof SCENARIOS / sizeof *SCENARIOS; i++) {
    if (!strcmp(argv[1], SCENARIOS[i].name)) {
      scenario = SCENARIOS[i].name;
      alarm(20);
      SCENARIOS[i].run();
      FAIL("the scenario returned without a verdict");
    }
  }
  fprintf(stderr, "unknown scenario %s\n", argv[1]);
  return 2;
}
