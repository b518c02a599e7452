/**
 * Program type and expected attach type from an ELF section name, following libbpf's
 * `section_defs[]` for the common names. Names without `/` must match exactly (`sockops`, not
 * `sockops/x`); names listed as prefixes also match `<prefix>/<anything>` (`kprobe/tcp_connect`).
 * A leading `?` marks a program libbpf does not load by default (autoload off).
 */
import { AttachType, ProgType } from './constants.js';

/** What a section name says about its programs. */
export interface SectionProgramType {
  readonly progType: number;
  /** Expected attach type passed to PROG_LOAD (0 when the type has none). */
  readonly expectedAttachType: number;
}

interface SectionDef extends SectionProgramType {
  readonly name: string;
  /** Also matches `name/…`. */
  readonly prefix: boolean;
}

const def = (
  name: string,
  progType: number,
  expectedAttachType = 0,
  prefix = false,
): SectionDef => ({ name, progType, expectedAttachType, prefix });

/** BPF_XDP attach type (libbpf sets it for `xdp` programs). */
const ATTACH_XDP = 37;
/** BPF_SK_LOOKUP attach type. */
const ATTACH_SK_LOOKUP = 36;

/** The section names the loader knows, in libbpf's order of precedence. */
export const SECTION_DEFS: readonly SectionDef[] = [
  def('socket', ProgType.SOCKET_FILTER, 0, true),
  def('sk_reuseport', ProgType.SK_REUSEPORT),
  def('kprobe', ProgType.KPROBE, 0, true),
  def('kretprobe', ProgType.KPROBE, 0, true),
  def('tc', ProgType.SCHED_CLS, 0, true),
  def('classifier', ProgType.SCHED_CLS, 0, true),
  def('action', ProgType.SCHED_ACT, 0, true),
  def('tracepoint', ProgType.TRACEPOINT, 0, true),
  def('tp', ProgType.TRACEPOINT, 0, true),
  def('raw_tracepoint', ProgType.RAW_TRACEPOINT, 0, true),
  def('raw_tp', ProgType.RAW_TRACEPOINT, 0, true),
  def('xdp', ProgType.XDP, ATTACH_XDP, true),
  def('perf_event', ProgType.PERF_EVENT),
  def('lwt_in', ProgType.LWT_IN),
  def('lwt_out', ProgType.LWT_OUT),
  def('lwt_xmit', ProgType.LWT_XMIT),
  def('cgroup_skb/ingress', ProgType.CGROUP_SKB, AttachType.CGROUP_INET_INGRESS),
  def('cgroup_skb/egress', ProgType.CGROUP_SKB, AttachType.CGROUP_INET_EGRESS),
  def('cgroup/skb', ProgType.CGROUP_SKB),
  def('cgroup/sock_create', ProgType.CGROUP_SOCK, AttachType.CGROUP_INET_SOCK_CREATE),
  def('cgroup/sock', ProgType.CGROUP_SOCK, AttachType.CGROUP_INET_SOCK_CREATE),
  def('cgroup/bind4', ProgType.CGROUP_SOCK_ADDR, AttachType.CGROUP_INET4_BIND),
  def('cgroup/bind6', ProgType.CGROUP_SOCK_ADDR, AttachType.CGROUP_INET6_BIND),
  def('cgroup/connect4', ProgType.CGROUP_SOCK_ADDR, AttachType.CGROUP_INET4_CONNECT),
  def('cgroup/connect6', ProgType.CGROUP_SOCK_ADDR, AttachType.CGROUP_INET6_CONNECT),
  def('cgroup/dev', ProgType.CGROUP_DEVICE, AttachType.CGROUP_DEVICE),
  def('sockops', ProgType.SOCK_OPS, AttachType.CGROUP_SOCK_OPS),
  def('sk_skb/stream_parser', ProgType.SK_SKB, AttachType.SK_SKB_STREAM_PARSER),
  def('sk_skb/stream_verdict', ProgType.SK_SKB, AttachType.SK_SKB_STREAM_VERDICT),
  def('sk_skb/verdict', ProgType.SK_SKB, AttachType.SK_SKB_VERDICT),
  def('sk_skb', ProgType.SK_SKB),
  def('sk_msg', ProgType.SK_MSG, AttachType.SK_MSG_VERDICT),
  def('flow_dissector', ProgType.FLOW_DISSECTOR, 17),
  def('sk_lookup', ProgType.SK_LOOKUP, ATTACH_SK_LOOKUP),
  def('cgroup/sysctl', ProgType.CGROUP_SYSCTL, 18),
  def('cgroup/getsockopt', ProgType.CGROUP_SOCKOPT, 21),
  def('cgroup/setsockopt', ProgType.CGROUP_SOCKOPT, 22),
];

/** Program type of an ELF section name (after any leading `?`), or undefined if unknown. */
export function programTypeOfSection(section: string): SectionProgramType | undefined {
  const name = section.startsWith('?') ? section.slice(1) : section;
  const found = SECTION_DEFS.find(
    (d) => d.name === name || (d.prefix && name.startsWith(`${d.name}/`)),
  );
  return found && { progType: found.progType, expectedAttachType: found.expectedAttachType };
}

/** True for `?`-prefixed sections, whose programs libbpf does not load unless asked. */
export function isAutoloadOff(section: string): boolean {
  return section.startsWith('?');
}

/** The known section names, for messages. */
export function knownSectionNames(): string[] {
  return SECTION_DEFS.map((d) => (d.prefix ? `${d.name}[/…]` : d.name));
}
