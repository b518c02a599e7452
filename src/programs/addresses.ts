/**
 * Address and CIDR text → network-order bytes, for the options and the map encoders. The parser is
 * hand-written rather than node:net's isIPv4/isIPv6 because loading node:net costs `tsbpf build`
 * about 10 ms of start-up (docs/benchmarks.md); it accepts exactly what node:net accepts
 * (test/programs/addresses.test.ts checks that with node:net as the oracle) and says why text is
 * not an address.
 */

/** What reading address text gave: the bytes, or why the text is not an address. */
export type AddressReading =
  | { readonly ok: true; readonly bytes: Uint8Array }
  | { readonly ok: false; readonly reason: string };

const fail = (reason: string): AddressReading => ({ ok: false, reason });

/** Dotted-quad text into the 4 bytes of `out`; a reason string when it is not one. */
function readIpv4(text: string, out: Uint8Array): string | undefined {
  const parts = text.split('.');
  if (parts.length !== 4) {
    return `${JSON.stringify(text)} has ${parts.length} dot-separated parts; IPv4 has 4, like 10.0.0.1`;
  }
  for (let i = 0; i < 4; i++) {
    const part = parts[i] ?? '';
    if (!/^\d{1,3}$/.test(part)) {
      return `IPv4 part ${JSON.stringify(part)} is not a decimal number from 0 to 255`;
    }
    if (part.length > 1 && part.startsWith('0')) {
      return `IPv4 part ${JSON.stringify(part)} has a leading zero (read as octal by some tools); write ${Number(part)}`;
    }
    const n = Number(part);
    if (n > 255) return `IPv4 part ${part} is above 255`;
    out[i] = n;
  }
  return undefined;
}

/** A zone id after `%` (`fe80::1%eth0`): what node:net accepts, letters, digits and `-.:`. */
const ZONE = /^[0-9A-Za-z.:-]+$/;
const GROUP = /^[0-9A-Fa-f]{1,4}$/;

/**
 * The 16-bit groups of one side of `::` (or of the whole address) into `words`; a trailing dotted
 * quad, allowed only where `v4Last`, fills two groups. Returns a reason when a group is bad.
 */
function readGroups(side: string, v4Last: boolean, words: number[]): string | undefined {
  if (side === '') return undefined;
  const groups = side.split(':');
  for (let i = 0; i < groups.length; i++) {
    const g = groups[i] ?? '';
    if (g.includes('.')) {
      if (!v4Last || i !== groups.length - 1) {
        return `an IPv4 part (${JSON.stringify(g)}) may only end an IPv6 address`;
      }
      const v4 = new Uint8Array(4);
      const why = readIpv4(g, v4);
      if (why !== undefined) return why;
      words.push(((v4[0] ?? 0) << 8) | (v4[1] ?? 0), ((v4[2] ?? 0) << 8) | (v4[3] ?? 0));
    } else if (GROUP.test(g)) {
      words.push(Number.parseInt(g, 16));
    } else {
      return g === ''
        ? 'an empty group (a lone ":" at either end, or ":::")'
        : `group ${JSON.stringify(g)} is not 1 to 4 hex digits`;
    }
  }
  return undefined;
}

function readIpv6(text: string): AddressReading {
  const percent = text.indexOf('%');
  if (percent >= 0 && !ZONE.test(text.slice(percent + 1))) {
    return fail('the zone after "%" must be letters, digits, "-", "." or ":" (like %eth0)');
  }
  const body = percent < 0 ? text : text.slice(0, percent);
  const gap = body.indexOf('::');
  if (gap >= 0 && body.indexOf('::', gap + 1) >= 0) return fail('"::" may appear only once');
  const head: number[] = [];
  const tail: number[] = [];
  const why =
    gap < 0
      ? readGroups(body, true, head)
      : (readGroups(body.slice(0, gap), false, head) ??
        readGroups(body.slice(gap + 2), true, tail));
  if (why !== undefined) return fail(why);
  const count = head.length + tail.length;
  if (gap < 0 ? count !== 8 : count > 7) {
    return fail(
      `it has ${count} groups; IPv6 has 8, or at most 7 around one "::" (an IPv4 tail counts as 2)`,
    );
  }
  const out = new Uint8Array(16);
  const words = [...head, ...new Array<number>(8 - count).fill(0), ...tail];
  for (let i = 0; i < 8; i++) {
    const w = words[i] ?? 0;
    out[2 * i] = w >> 8;
    out[2 * i + 1] = w & 0xff;
  }
  return { ok: true, bytes: out };
}

/**
 * Reads IPv4 (`a.b.c.d`, decimal parts without leading zeros) or IPv6 text (RFC 4291 forms: `::`,
 * a dotted-quad tail, a `%zone`, which is dropped) into 4 or 16 network-order bytes, or the reason
 * it is neither.
 */
export function readAddress(text: string): AddressReading {
  if (text.includes(':')) return readIpv6(text);
  const out = new Uint8Array(4);
  const why = readIpv4(text, out);
  return why === undefined ? { ok: true, bytes: out } : fail(why);
}

/** 4 bytes (IPv4) or 16 bytes (IPv6) in network order, or undefined when `text` is neither. */
export function parseAddress(text: string): Uint8Array | undefined {
  const r = readAddress(text);
  return r.ok ? r.bytes : undefined;
}

/** A parsed CIDR: network-order address bytes (host bits cleared) and prefix length. */
export interface ParsedCidr {
  readonly ip: Uint8Array;
  readonly bits: number;
}

/** Parses `a.b.c.d/n`, `x::y/n`, or a bare address (a host route: /32 or /128). */
export function parseCidr(text: string): ParsedCidr | undefined {
  const slash = text.indexOf('/');
  const ip = parseAddress(slash < 0 ? text : text.slice(0, slash));
  if (!ip) return undefined;
  const max = ip.length * 8;
  const bitsText = slash < 0 ? String(max) : text.slice(slash + 1);
  if (!/^\d{1,3}$/.test(bitsText) || Number(bitsText) > max) return undefined;
  const bits = Number(bitsText);
  return { ip: maskAddress(ip, bits), bits };
}

/** A copy of `ip` with every bit after the first `bits` cleared. */
export function maskAddress(ip: Uint8Array, bits: number): Uint8Array {
  const out = Uint8Array.from(ip);
  for (let i = 0; i < out.length; i++) {
    const keep = Math.max(0, Math.min(8, bits - i * 8));
    out[i] = (out[i] ?? 0) & ((0xff00 >> keep) & 0xff);
  }
  return out;
}
