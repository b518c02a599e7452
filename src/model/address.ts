/**
 * IP addresses as the kernel hands them to sock_ops and sk_msg programs: byte arrays in network
 * order (4 bytes for IPv4, 16 for IPv6), plus the parsing, formatting and prefix tests the model
 * needs. Plain code on purpose: the model must not share anything with the programs it checks.
 */

/** An IPv4 address: 4 bytes, network order (`10.0.0.1` is `0a 00 00 01`). */
export type Ip4 = Uint8Array;

/** An IPv6 address: 16 bytes, network order. */
export type Ip6 = Uint8Array;

/** Raised when an address or CIDR string cannot be parsed; `code` names the problem. */
export class AddressError extends Error {
  /** Machine-readable error kind. */
  readonly code = 'EADDRESS';
  constructor(message: string) {
    super(message);
    this.name = 'AddressError';
  }
}

/** Parses dotted-quad IPv4 (`10.0.0.1`) into 4 network-order bytes. */
export function parseIp4(text: string): Ip4 {
  const parts = text.split('.');
  if (parts.length !== 4 || !parts.every((p) => /^\d{1,3}$/.test(p) && Number(p) <= 255)) {
    throw new AddressError(`'${text}' is not an IPv4 address; write it as a.b.c.d`);
  }
  return Uint8Array.from(parts.map(Number));
}

/** Parses IPv6 text (RFC 4291 forms incl. `::` and a trailing dotted quad) into 16 bytes. */
export function parseIp6(text: string): Ip6 {
  const fail = (): never => {
    throw new AddressError(
      `'${text}' is not an IPv6 address; write it like fd00::1 or ::ffff:10.0.0.1`,
    );
  };
  let body = text;
  if (body.includes('.')) {
    // A trailing dotted quad stands for the last two 16-bit groups.
    const lastColon = body.lastIndexOf(':');
    if (lastColon < 0) fail();
    const v4 = parseIp4(body.slice(lastColon + 1));
    const g1 = (((v4[0] ?? 0) << 8) | (v4[1] ?? 0)).toString(16);
    const g2 = (((v4[2] ?? 0) << 8) | (v4[3] ?? 0)).toString(16);
    body = `${body.slice(0, lastColon + 1)}${g1}:${g2}`;
  }
  const halves = body.split('::');
  if (halves.length > 2) fail();
  const groups = (s: string): number[] =>
    s === ''
      ? []
      : s.split(':').map((g) => (/^[0-9a-fA-F]{1,4}$/.test(g) ? Number.parseInt(g, 16) : fail()));
  const head = groups(halves[0] ?? '');
  const rest = halves.length === 2 ? groups(halves[1] ?? '') : [];
  const missing = 8 - head.length - rest.length;
  if (halves.length === 2 ? missing < 1 : missing !== 0) fail();
  const words = [...head, ...new Array<number>(missing).fill(0), ...rest];
  const out = new Uint8Array(16);
  words.forEach((w, i) => {
    out[2 * i] = w >> 8;
    out[2 * i + 1] = w & 0xff;
  });
  return out;
}

/** Formats 4 network-order bytes as dotted quad. */
export function formatIp4(ip: Ip4): string {
  return Array.from(ip).join('.');
}

/** Formats 16 bytes as IPv6 text: lowercase groups, the longest zero run (>= 2) as `::`. */
export function formatIp6(ip: Ip6): string {
  const words = Array.from({ length: 8 }, (_, i) => ((ip[2 * i] ?? 0) << 8) | (ip[2 * i + 1] ?? 0));
  let bestStart = -1;
  let bestLen = 0;
  for (let i = 0; i < 8; ) {
    if (words[i] !== 0) {
      i += 1;
      continue;
    }
    let j = i;
    while (j < 8 && words[j] === 0) j += 1;
    if (j - i > bestLen) {
      bestStart = i;
      bestLen = j - i;
    }
    i = j;
  }
  const hex = (ws: number[]) => ws.map((w) => w.toString(16)).join(':');
  if (bestLen < 2) return hex(words);
  return `${hex(words.slice(0, bestStart))}::${hex(words.slice(bestStart + bestLen))}`;
}

/** The v4-mapped IPv6 address `::ffff:a.b.c.d` of an IPv4 address. */
export function v4Mapped(ip: Ip4): Ip6 {
  const out = new Uint8Array(16);
  out[10] = 0xff;
  out[11] = 0xff;
  out.set(ip, 12);
  return out;
}

/** True when `ip` lies in `::ffff:0:0/96` (an IPv4 peer of a dual-stack AF_INET6 socket). */
export function isV4Mapped(ip: Ip6): boolean {
  for (let i = 0; i < 10; i++) if (ip[i] !== 0) return false;
  return ip[10] === 0xff && ip[11] === 0xff;
}

/** The embedded IPv4 address (last 4 bytes) of an IPv6 address. */
export function embeddedIp4(ip: Ip6): Ip4 {
  return ip.slice(12, 16);
}

/** True when the first `bits` bits of `a` and `b` are equal (both at least that long). */
export function samePrefix(a: Uint8Array, b: Uint8Array, bits: number): boolean {
  for (let i = 0; i < bits; i++) {
    const byte = i >> 3;
    const mask = 0x80 >> (i & 7);
    if (((a[byte] ?? 0) & mask) !== ((b[byte] ?? 0) & mask)) return false;
  }
  return true;
}

/** Equality of two byte arrays. */
export function bytesEqual(a: Uint8Array, b: Uint8Array): boolean {
  return a.length === b.length && a.every((x, i) => x === b[i]);
}

/** Lowercase hex of bytes separated by spaces (`0a 00 00 01`), for messages and golden tests. */
export function hex(bytes: Uint8Array): string {
  return Array.from(bytes, (b) => b.toString(16).padStart(2, '0')).join(' ');
}
