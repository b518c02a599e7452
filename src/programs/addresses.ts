/**
 * Address and CIDR text → network-order bytes, for the options and the map encoders. Validation is
 * Node's own (`net.isIPv4` / `net.isIPv6`); only the byte expansion is done here.
 */
import { isIPv4, isIPv6 } from 'node:net';

/** 4 bytes (IPv4) or 16 bytes (IPv6) in network order, or undefined when `text` is neither. */
export function parseAddress(text: string): Uint8Array | undefined {
  if (isIPv4(text)) return Uint8Array.from(text.split('.').map(Number));
  if (!isIPv6(text)) return undefined;
  let body = text.replace(/%.*$/, '');
  const dotted = body.lastIndexOf('.') >= 0 ? body.slice(body.lastIndexOf(':') + 1) : undefined;
  if (dotted !== undefined) {
    // A trailing dotted quad stands for the last two 16-bit groups.
    const [a = 0, b = 0, c = 0, d = 0] = dotted.split('.').map(Number);
    body = `${body.slice(0, body.lastIndexOf(':') + 1)}${((a << 8) | b).toString(16)}:${((c << 8) | d).toString(16)}`;
  }
  const [head = '', tail] = body.split('::');
  const groups = (s: string) => (s === '' ? [] : s.split(':').map((g) => Number.parseInt(g, 16)));
  const h = groups(head);
  const t = tail === undefined ? [] : groups(tail);
  const words = [...h, ...new Array<number>(8 - h.length - t.length).fill(0), ...t];
  const out = new Uint8Array(16);
  words.forEach((w, i) => {
    out[2 * i] = w >> 8;
    out[2 * i + 1] = w & 0xff;
  });
  return out;
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
