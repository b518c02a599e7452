/**
 * Kernel UAPI constants that more than one room needs (the DSL emits them, the interpreter
 * simulates them). They live here because src/asm is the one room both may import.
 */

/** BPF_SOCK_OPS_* callback numbers (the `op` field of struct bpf_sock_ops). */
export const SockOpsOp = {
  VOID: 0,
  TIMEOUT_INIT: 1,
  RWND_INIT: 2,
  TCP_CONNECT_CB: 3,
  ACTIVE_ESTABLISHED_CB: 4,
  PASSIVE_ESTABLISHED_CB: 5,
  NEEDS_ECN: 6,
  BASE_RTT: 7,
  RTO_CB: 8,
  RETRANS_CB: 9,
  STATE_CB: 10,
  TCP_LISTEN_CB: 11,
  RTT_CB: 12,
  PARSE_HDR_OPT_CB: 13,
  HDR_OPT_LEN_CB: 14,
  WRITE_HDR_OPT_CB: 15,
} as const;
