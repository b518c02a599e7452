/**
 * The socket acceleration programs (`tsbpf/programs`): `buildSockops(options)` for the object, the
 * options and their validation, the map layouts with typed encoders for configuring the maps from
 * user space, and the stats counters. docs/maps.md documents every byte.
 */
export {
  type BuiltSockops,
  buildSockops,
  SOCKOPS_LICENSE,
  type SockopsMapInfo,
  type SockopsProgramInfo,
} from './build.js';
export * from './layouts.js';
export {
  declareSockopsMaps,
  decodeSockKey,
  encodeEndpointInfo,
  encodeIdentity,
  encodeLpmKey,
  encodePolicyEntry,
  encodePolicyKey,
  encodeServiceInfo,
  encodeServiceKey,
  encodeSockKey,
  MapEncodeError,
  type MapEncodeErrorCode,
  type PolicyDecision,
  type PolicySelector,
  type SockopsMapDefs,
  type SockopsMapRole,
  type SockTuple,
} from './maps.js';
export * from './options.js';
export { STAT_INDEX, STAT_NAMES, type StatName, sumStats } from './stats.js';
