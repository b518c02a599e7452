/**
 * The interpreter's memory: a set of typed regions (stack frames, the context, map values, packet
 * data, map handles, sockets), each a byte array placed at its own fake kernel address so that
 * registers can hold plain u64 pointers and programs can do pointer arithmetic on them.
 *
 * Address layout (one 4 GiB window per region, the region's byte 0 in the middle of its window so
 * that small negative offsets still resolve to the region they came from):
 *
 *     0xffff_8880_0000_0000 + (id << 32) + 0x8000_0000  = base of region `id`
 *     [0, 4096)                                           NULL page: NULL_DEREF
 *     anything else outside a region                      INVALID_POINTER
 *
 * Every access is bounds-checked against its region; context accesses are additionally checked
 * against the program type's rules (width, alignment, writable fields); stack bytes remember
 * whether they were written so that reads of uninitialised stack are reported.
 */
import { VmError } from './errors.js';
import type { VmMap } from './maps.js';

/** What a region holds; decides which accesses and helper arguments are legal. */
export type RegionKind = 'stack' | 'ctx' | 'map_value' | 'packet' | 'map' | 'socket';

/**
 * Validates a context access: returns undefined when the kernel accepts a `size`-byte read or
 * write at `off`, else the reason it is refused.
 */
export type CtxAccessCheck = (off: number, size: number, write: boolean) => string | undefined;

/** One addressable object. */
export interface Region {
  /** Index of the region, which fixes its address window. */
  readonly id: number;
  readonly kind: RegionKind;
  /** Human-readable name used in error messages ("stack of frame 0", "map value of endpoints"). */
  readonly name: string;
  /** Address of byte 0. */
  readonly base: bigint;
  readonly bytes: Uint8Array;
  readonly view: DataView;
  /** Whether stores are allowed (context stores are further restricted by `ctxCheck`). */
  readonly writable: boolean;
  /** Stack only: 1 for every byte the program has written. */
  readonly initialized?: Uint8Array;
  /** Context only: the kernel's access rules for this program type. */
  readonly ctxCheck?: CtxAccessCheck;
  /** Map handles only: the map an `ld_imm64` map pseudo instruction refers to. */
  readonly map?: VmMap;
}

const KERNEL_BASE = 0xffff_8880_0000_0000n;
const WINDOW_MIDDLE = 0x8000_0000n;
const NULL_PAGE = 4096n;

/** Options for creating a region. */
export interface RegionOptions {
  readonly writable: boolean;
  readonly trackInit?: boolean;
  readonly ctxCheck?: CtxAccessCheck;
  readonly map?: VmMap;
}

/** All regions of one run, with checked loads and stores. */
export class Memory {
  private readonly regions: Region[] = [];
  private readonly byBuffer = new WeakMap<Uint8Array, Region>();
  private readonly byMap = new WeakMap<VmMap, Region>();

  /** Adds a region over `bytes` (shared, not copied) and returns it. */
  addRegion(kind: RegionKind, name: string, bytes: Uint8Array, options: RegionOptions): Region {
    const id = this.regions.length;
    const region: Region = {
      id,
      kind,
      name,
      base: KERNEL_BASE + (BigInt(id) << 32n) + WINDOW_MIDDLE,
      bytes,
      view: new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength),
      writable: options.writable,
      ...(options.trackInit ? { initialized: new Uint8Array(bytes.length) } : {}),
      ...(options.ctxCheck ? { ctxCheck: options.ctxCheck } : {}),
      ...(options.map ? { map: options.map } : {}),
    };
    this.regions.push(region);
    return region;
  }

  /** The region over `bytes`, created on first use (map values keep one address per buffer). */
  regionForBuffer(kind: RegionKind, name: string, bytes: Uint8Array, writable: boolean): Region {
    const known = this.byBuffer.get(bytes);
    if (known) return known;
    const region = this.addRegion(kind, name, bytes, { writable });
    this.byBuffer.set(bytes, region);
    return region;
  }

  /** The address an `ld_imm64` map pseudo instruction loads for `map` (a handle, not readable memory). */
  mapHandle(map: VmMap): bigint {
    let region = this.byMap.get(map);
    if (!region) {
      region = this.addRegion('map', `map ${map.name}`, new Uint8Array(0), {
        writable: false,
        map,
      });
      this.byMap.set(map, region);
    }
    return region.base;
  }

  /** The region `addr` points into, or undefined for scalars and NULL. */
  regionAt(addr: bigint): Region | undefined {
    if (addr < KERNEL_BASE) return undefined;
    const id = Number((addr - KERNEL_BASE) >> 32n);
    return this.regions[id];
  }

  /**
   * Resolves an access of `size` bytes at `addr` to its region and offset, throwing the matching
   * VmError for NULL, wild and out-of-bounds pointers.
   */
  resolve(addr: bigint, size: number, what: string): { region: Region; off: number } {
    const region = this.regionAt(addr);
    if (!region) {
      if (addr < NULL_PAGE) {
        throw new VmError('NULL_DEREF', `${what} of ${size} bytes at NULL+${addr}`);
      }
      throw new VmError(
        'INVALID_POINTER',
        `${what} of ${size} bytes at 0x${addr.toString(16)}, which is not a pointer`,
      );
    }
    const off = Number(addr - region.base);
    if (off < 0 || off + size > region.bytes.length) {
      throw new VmError(
        'OUT_OF_BOUNDS',
        `${what} of ${size} bytes at offset ${off} of ${region.name} (${region.bytes.length} bytes)`,
      );
    }
    return { region, off };
  }

  /** A checked load of 1, 2, 4 or 8 bytes (little-endian), zero-extended to u64. */
  load(addr: bigint, size: 1 | 2 | 4 | 8): bigint {
    const { region, off } = this.resolve(addr, size, 'load');
    if (region.kind === 'map') {
      throw new VmError('INVALID_POINTER', `load from the handle of ${region.name}`);
    }
    if (region.ctxCheck) {
      const refused = region.ctxCheck(off, size, false);
      if (refused) throw new VmError('CTX_ACCESS', `${refused} (read off=${off} size=${size})`);
    }
    if (region.initialized) this.checkInitialized(region, off, size);
    return readLe(region.view, off, size);
  }

  /** A checked store of the low `size` bytes of `value` (little-endian). */
  store(addr: bigint, size: 1 | 2 | 4 | 8, value: bigint): void {
    const { region, off } = this.resolve(addr, size, 'store');
    if (region.ctxCheck) {
      const refused = region.ctxCheck(off, size, true);
      if (refused) throw new VmError('CTX_ACCESS', `${refused} (write off=${off} size=${size})`);
    } else if (!region.writable) {
      throw new VmError('READ_ONLY', `store of ${size} bytes into ${region.name}`);
    }
    writeLe(region.view, off, size, value);
    region.initialized?.fill(1, off, off + size);
  }

  /**
   * Bytes a helper reads through a memory argument (a key, a value, data to output): only stack,
   * map values and packet data qualify, as for the kernel's ARG_PTR_TO_MEM/MAP_KEY arguments.
   * Returns a copy.
   */
  readArg(addr: bigint, length: number, what: string): Uint8Array {
    const region = this.argRegion(addr, length, what);
    const off = Number(addr - region.base);
    if (region.initialized) this.checkInitialized(region, off, length);
    return region.bytes.slice(off, off + length);
  }

  /** Writes `data` into a helper's output memory argument (stack or map value). */
  writeArg(addr: bigint, data: Uint8Array, what: string): void {
    const region = this.argRegion(addr, data.length, what);
    if (!region.writable) throw new VmError('READ_ONLY', `${what} into ${region.name}`);
    const off = Number(addr - region.base);
    region.bytes.set(data, off);
    region.initialized?.fill(1, off, off + data.length);
  }

  private argRegion(addr: bigint, length: number, what: string): Region {
    const { region } = this.resolve(addr, length, what);
    if (region.kind !== 'stack' && region.kind !== 'map_value' && region.kind !== 'packet') {
      throw new VmError(
        'HELPER_ARGUMENT',
        `${what} points into ${region.name}; expected the stack, a map value or packet data`,
      );
    }
    return region;
  }

  private checkInitialized(region: Region, off: number, size: number): void {
    const init = region.initialized;
    if (!init) return;
    for (let i = off; i < off + size; i++) {
      if (init[i] === 0) {
        const frameOff = i - region.bytes.length;
        throw new VmError(
          'UNINIT_STACK',
          `read of uninitialised byte fp${frameOff} of ${region.name} (access off=${off - region.bytes.length} size=${size})`,
        );
      }
    }
  }
}

/** Reads an unsigned little-endian integer of 1, 2, 4 or 8 bytes. */
export function readLe(view: DataView, off: number, size: 1 | 2 | 4 | 8): bigint {
  switch (size) {
    case 1:
      return BigInt(view.getUint8(off));
    case 2:
      return BigInt(view.getUint16(off, true));
    case 4:
      return BigInt(view.getUint32(off, true));
    case 8:
      return view.getBigUint64(off, true);
  }
}

/** Writes the low `size` bytes of `value` little-endian. */
export function writeLe(view: DataView, off: number, size: 1 | 2 | 4 | 8, value: bigint): void {
  switch (size) {
    case 1:
      view.setUint8(off, Number(value & 0xffn));
      return;
    case 2:
      view.setUint16(off, Number(value & 0xffffn), true);
      return;
    case 4:
      view.setUint32(off, Number(value & 0xffff_ffffn), true);
      return;
    case 8:
      view.setBigUint64(off, BigInt.asUintN(64, value), true);
      return;
  }
}
