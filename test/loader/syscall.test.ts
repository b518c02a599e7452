/**
 * The real koffi layer, for the calls that need no privileges: native memory, errno reading,
 * close/dup, and bpf(2) failing cleanly with a negative errno. (Everything privileged is in
 * test/kernel/loader-*.test.ts.)
 */
import { closeSync, openSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { Errno } from '../../src/loader/errors.js';
import { systemSyscall, withMemory } from '../../src/loader/syscall.js';

describe.runIf(process.platform === 'linux')('KoffiSyscall', () => {
  const sys = systemSyscall();

  it('allocates zeroed native memory with a stable, distinct address per buffer', () => {
    withMemory(sys, [16, 4096], ([a, b]) => {
      expect(a!.bytes.length).toBe(16);
      expect([...a!.bytes].every((x) => x === 0)).toBe(true);
      expect(a!.address).not.toBe(0n);
      expect(a!.address).not.toBe(b!.address);
      a!.bytes.set([1, 2, 3]);
      expect([...a!.bytes.subarray(0, 3)]).toEqual([1, 2, 3]);
    });
  });

  it('reads errno right after the call: close(-1) is EBADF every time', () => {
    for (let i = 0; i < 100; i++) expect(sys.close(-1)).toBe(-Errno.EBADF);
  });

  it('duplicates and closes real fds', () => {
    const fd = openSync('/dev/null', 'r');
    const copy = sys.dup(fd);
    expect(copy).toBeGreaterThan(fd);
    expect(sys.close(copy)).toBe(0);
    expect(sys.close(copy)).toBe(-Errno.EBADF);
    closeSync(fd);
  });

  it('returns -errno from bpf(2) for an unknown command (EINVAL as root, EPERM otherwise)', () => {
    const ret = sys.bpf(999, new Uint8Array(16));
    expect([-Errno.EINVAL, -Errno.EPERM]).toContain(ret);
  });

  it('reports a missing directory as -ENOENT', () => {
    expect(sys.openDirectory('/nonexistent/tsbpf')).toBe(-Errno.ENOENT);
  });
});
