/*
 * Experiment (not part of `tsbpf bench`): the floor of a 64-byte ping-pong between two processes
 * on this machine, with no socket at all — two pipes, the same write/read/wakeup pattern as the
 * load generator's rr (one write and one blocking read per side per round trip). Whatever a
 * socket path costs comes on top of this, so (floor + redirect cost) / plain TCP bounds the p50
 * ratio any sk_msg program can reach (docs/benchmarks.md, "The floor of the rr ratio").
 *
 *   cc -O2 -o /tmp/pipe-pingpong bench/experiments/pipe-pingpong.c
 *   /tmp/pipe-pingpong <seconds>            (pin with: taskset -c 1 /tmp/pipe-pingpong 2)
 * Prints one JSON line: round trips/s, p50 and p99 in ns (after a 10 % warm-up), and the cost of
 * one null syscall (getppid) measured first, for scale.
 */
#define _GNU_SOURCE
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static double now(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return ts.tv_sec + ts.tv_nsec / 1e9;
}

static int cmp_u64(const void *a, const void *b) {
  uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
  return x < y ? -1 : x > y;
}

int main(int argc, char **argv) {
  double seconds = argc > 1 ? atof(argv[1]) : 2;
  double t = now();
  for (int i = 0; i < 200000; i++) syscall(SYS_getppid);
  double syscall_ns = (now() - t) / 200000 * 1e9;
  int up[2], down[2];
  char buf[64] = {0};
  if (pipe(up) || pipe(down)) return 2;
  pid_t pid = fork();
  if (pid == 0) {
    close(up[1]); /* so that the parent's close() is an EOF here */
    close(down[0]);
    while (read(up[0], buf, sizeof buf) == sizeof buf)
      if (write(down[1], buf, sizeof buf) != sizeof buf) break;
    _exit(0);
  }
  close(up[0]);
  close(down[1]);
  size_t cap = 1 << 22, n = 0;
  uint64_t *lat = malloc(cap * sizeof *lat);
  double start = now(), warm = start + seconds * 0.1, end = start + seconds, from = 0;
  for (;;) {
    double t0 = now();
    if (t0 >= end) break;
    if (write(up[1], buf, sizeof buf) != sizeof buf || read(down[0], buf, sizeof buf) != sizeof buf)
      return 2;
    double t1 = now();
    if (t0 >= warm) {
      if (from == 0) from = t0;
      if (n < cap) lat[n++] = (uint64_t)((t1 - t0) * 1e9);
    }
  }
  double elapsed = now() - from;
  close(up[1]);
  waitpid(pid, NULL, 0);
  qsort(lat, n, sizeof *lat, cmp_u64);
  printf("{\"mode\":\"pipe-pingpong\",\"opsPerSecond\":%.1f,\"p50Ns\":%llu,\"p99Ns\":%llu,"
         "\"nullSyscallNs\":%.0f}\n",
         n / elapsed, (unsigned long long)(n ? lat[n / 2] : 0),
         (unsigned long long)(n ? lat[(size_t)(n * 0.99)] : 0), syscall_ns);
  return 0;
}
