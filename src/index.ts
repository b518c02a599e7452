/**
 * tsbpf's public API. The rooms are namespaces (`asm`, `dsl`, `loader`, `accel`,
 * `model`, `vm`; also subpath exports `tsbpf/asm`, `tsbpf/dsl`, `tsbpf/loader`, `tsbpf/accel`), and
 * the names most programs need are also exported flat:
 *
 * - writing programs: the DSL (`program`, `map`, `struct`, `bpfObject`, registers, …);
 * - the socket acceleration object: `buildSockops` with its options, map encoders and counters;
 * - running them: `loadObject`, `SockOps`, `SkMsg`, `BpfMap`, the loader's errors;
 * - operating acceleration: `enableAccel`, `disableAccel`, `accelStatus`, `runAgent`, `runDemo`.
 */

// Rooms as namespaces (names overlap between rooms, e.g. formatListing in asm and dsl).
export * as accel from './accel/index.js';
// Flat: operations.
export * from './accel/index.js';
export * as asm from './asm/index.js';
export * as dsl from './dsl/index.js';
// Flat: the DSL.
export * from './dsl/index.js';
export * as loader from './loader/index.js';
// Flat: the loader's headline API.
export {
  type AttachedProgram,
  BpfError,
  BpfLink,
  BpfMap,
  BpfProgram,
  checkObject,
  ensureBpffs,
  ensureCgroup2,
  featureProbes,
  LoadedObject,
  LoaderError,
  type LoadObjectOptions,
  loadObject,
  openPinnedMap,
  pinPath,
  queryAttached,
  SkMsg,
  SockOps,
  TypedMap,
  VerifierError,
} from './loader/index.js';
export * as model from './model/index.js';
// Flat: the socket acceleration object.
export * from './programs/build.js';
export * from './programs/layouts.js';
export * from './programs/maps.js';
export * from './programs/options.js';
export * from './programs/stats.js';
export * as vm from './vm/index.js';
