/**
 * A host full of sockets under the model: sock_ops callbacks fill a simulated SOCKHASH (insert with
 * BPF_NOEXIST semantics and a capacity), sk_msg sends look it up, and the counters the stats option
 * keeps are tallied. Property tests drive this and the interpreter with the same events and compare.
 */
import { hex } from './address.js';
import type { SocketView } from './connection.js';
import { decideSkMsg, decideSockOps, type SkMsgDecision, type SockOpsDecision } from './decide.js';
import type { ModelMaps } from './maps.js';
import type { ModelOptions } from './options.js';
import { encodeSockKey } from './sock-key.js';

/** The counters of the stats map, in index order (docs/maps.md). */
export const STAT_COUNTERS = [
  'inserted',
  'insert_failed',
  'skip_family',
  'skip_service',
  'skip_remote',
  'msg_redirected',
  'msg_bytes',
  'redirect_miss',
  'policy_denied',
] as const;

/** Name of one counter. */
export type StatCounter = (typeof STAT_COUNTERS)[number];

/** Counter values (bigint: the map holds u64 per CPU; the model sums over CPUs). */
export type Counters = Record<StatCounter, bigint>;

/** All counters at zero. */
export function zeroCounters(): Counters {
  return Object.fromEntries(STAT_COUNTERS.map((c) => [c, 0n])) as Counters;
}

/** Result of one sock_ops callback in the world: the decision and, for inserts, what the map did. */
export interface EstablishedOutcome {
  readonly decision: SockOpsDecision;
  /** For inserts: 'inserted', or why the update failed (key present: EEXIST; map full: E2BIG). */
  readonly insert?: 'inserted' | 'EEXIST' | 'E2BIG';
}

/** Result of one sendmsg: the decision and the socket the message went to (undefined: TCP). */
export interface SendOutcome {
  readonly decision: SkMsgDecision;
  readonly target: number | undefined;
}

/** A simulated host: one SOCKHASH (socket ids keyed by key bytes) and the counters. */
export class AccelWorld {
  /** Key bytes (hex) → socket id, in insertion order. */
  readonly sockhash = new Map<string, number>();
  /** Counters as the stats map would hold them (all zero when the options have no stats). */
  readonly counters: Counters = zeroCounters();

  constructor(
    readonly maps: ModelMaps,
    readonly options: ModelOptions,
  ) {}

  private count(counter: StatCounter, by = 1n): void {
    if (this.options.stats) this.counters[counter] += by;
  }

  /** Runs sock_ops with callback `op` for socket `id`. */
  established(id: number, op: number, view: SocketView): EstablishedOutcome {
    const decision = decideSockOps(op, view, this.maps, this.options);
    if (decision.kind === 'ignored') return { decision };
    if (decision.kind === 'skipped') {
      this.count(
        decision.reason === 'family'
          ? 'skip_family'
          : decision.reason === 'service'
            ? 'skip_service'
            : 'skip_remote',
      );
      return { decision };
    }
    const k = hex(encodeSockKey(decision.key));
    let insert: 'inserted' | 'EEXIST' | 'E2BIG';
    if (this.sockhash.has(k)) insert = 'EEXIST';
    else if (this.sockhash.size >= this.options.sockhashSize) insert = 'E2BIG';
    else {
      this.sockhash.set(k, id);
      insert = 'inserted';
    }
    this.count(insert === 'inserted' ? 'inserted' : 'insert_failed');
    return { decision, insert };
  }

  /** Runs sk_msg for a message of `size` bytes sent on `view`. */
  send(view: SocketView, size: number): SendOutcome {
    const decision = decideSkMsg(view, this.maps, this.options);
    if (decision.kind === 'unsupported') return { decision, target: undefined };
    if (!decision.redirect) {
      this.count('policy_denied');
      return { decision, target: undefined };
    }
    const target = this.sockhash.get(hex(encodeSockKey(decision.key)));
    if (target === undefined) {
      this.count('redirect_miss');
    } else {
      this.count('msg_redirected');
      this.count('msg_bytes', BigInt(size));
    }
    return { decision, target };
  }

  /** Removes a closed socket's entries (the kernel unlinks a socket from its maps on close). */
  close(id: number): void {
    for (const [k, v] of this.sockhash) if (v === id) this.sockhash.delete(k);
  }
}
