/**
 * The host's own addresses, the default endpoints of socket acceleration: every address of every
 * interface (loopback included), each as a single-address CIDR (/32 or /128).
 */
import { networkInterfaces } from 'node:os';

/** The addresses `networkInterfaces()` reports, as sorted unique `a.b.c.d/32` and `x::y/128`. */
export function hostAddressCidrs(
  interfaces: ReturnType<typeof networkInterfaces> = networkInterfaces(),
): string[] {
  const cidrs = new Set<string>();
  for (const addresses of Object.values(interfaces)) {
    for (const a of addresses ?? []) {
      // Link-local IPv6 addresses carry a zone (`fe80::1%eth0`); the key has no room for it.
      const address = a.address.split('%')[0] ?? a.address;
      cidrs.add(a.family === 'IPv4' ? `${address}/32` : `${address}/128`);
    }
  }
  return [...cidrs].sort();
}
