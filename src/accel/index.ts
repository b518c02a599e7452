/**
 * Socket acceleration operations (`tsbpf/accel`): enable, disable, status, the agent and the
 * demo, built on src/programs (the object) and src/loader (the kernel).
 */
export { type AgentOptions, runAgent } from './agent.js';
export { checkCgroup2Dir } from './cgroup.js';
export {
  type AccelConfig,
  type AccelIdentity,
  type AccelPolicyRule,
  type AccelService,
  checkConfigForVariant,
  EMPTY_CONFIG,
  parseAccelConfig,
  readAccelConfig,
} from './config.js';
export { type DemoOptions, type DemoReport, formatDemo, runDemo } from './demo.js';
export { type DisableResult, disableAccel } from './disable.js';
export {
  type AccelLocation,
  type EnableAction,
  type EnableOptions,
  type EnableResult,
  enableAccel,
  liveProblems,
  syncEndpoints,
} from './enable.js';
export { AccelError, type AccelErrorCode } from './errors.js';
export { hostAddressCidrs } from './host-addresses.js';
export { formatMetrics, type MetricsServer, serveMetrics } from './metrics.js';
export {
  type AccelManifest,
  DEFAULT_PIN_DIR,
  DEFAULT_STATE_DIR,
  manifestPath,
  readManifest,
} from './state.js';
export {
  type AccelStatus,
  accelStatus,
  type FeatureResult,
  formatStatus,
  type MapFill,
  type ProgramStatus,
  probeFeatures,
  type StatusOptions,
} from './status.js';
export { runTraffic, type TrafficOptions, type TrafficResult, tcpOutSegs } from './traffic.js';
