/**
 * Typed memory references: a base register plus a byte offset, pointing at data of a known layout.
 * A stack object (`b.stack(SockKey)`) is a reference based at r10; the result of a map lookup is a
 * reference based at r0. Loads and stores through a reference take member paths and emit exactly
 * the member's width at its computed offset.
 */
import type { Layout } from './layout.js';
import type { Register } from './registers.js';

/** A pointer in `base` (plus `offset` bytes) to data laid out as `layout`. */
export class Ref<L extends Layout = Layout> {
  /** Register holding the pointer. */
  readonly base: Register;
  /** Byte offset added to the register. */
  readonly offset: number;
  /** What the memory holds. */
  readonly layout: L;

  /** Use `ref(base, layout)`, `b.stack(layout)` or a helper result. */
  constructor(base: Register, offset: number, layout: L) {
    this.base = base;
    this.offset = offset;
    this.layout = layout;
  }

  /** The same memory seen through another register (after `b.mov(r6, r0)`, say). */
  in(base: Register): Ref<L> {
    return new Ref(base, this.offset, this.layout);
  }
}

/** A reference to `layout` at `base + offset`: the typed view of a pointer you already hold. */
export function ref<L extends Layout>(base: Register, layout: L, offset = 0): Ref<L> {
  return new Ref(base, offset, layout);
}

/**
 * An object in the program's stack frame, at `r10 + offset` (offset < 0). Unless allocated with
 * `{ zero: false }` it reads as zero wherever the program has not stored: the builder zero-fills
 * the bytes not yet written at the first point its address is taken or a member is read.
 */
export class StackObject<L extends Layout = Layout> extends Ref<L> {
  /** Allocation number within its program. */
  readonly id: number;
  /** Whether unwritten bytes are zero-filled. */
  readonly zero: boolean;

  /** Use `b.stack(layout)`. */
  constructor(fp: Register, offset: number, layout: L, id: number, zero: boolean) {
    super(fp, offset, layout);
    this.id = id;
    this.zero = zero;
  }
}
