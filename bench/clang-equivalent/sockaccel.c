/*
 * The C equivalent of `tsbpf build` (the cilium variant, default options): the same six maps with
 * the same key/value layouts, names and sizes, and the same sock_ops and sk_msg logic as
 * src/programs (Cilium v1.13's bpf_sockops.c and bpf_redir.c, sockmap-reference.md §2.4–2.6), for
 * the build-time comparison with clang -O2 (src/bench/build-timing.ts). Not used at run time.
 */
#include "sockaccel.h"

struct {
	__uint(type, BPF_MAP_TYPE_SOCKHASH);
	__type(key, struct sock_key);
	__type(value, __u32);
	__uint(max_entries, 65535);
} tsbpf_sockhash SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_LPM_TRIE);
	__type(key, struct lpm_ip_key);
	__type(value, struct endpoint_info);
	__uint(max_entries, 1024);
	__uint(map_flags, BPF_F_NO_PREALLOC);
} tsbpf_endpoints SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__type(key, struct service_key);
	__type(value, struct service_info);
	__uint(max_entries, 1024);
} tsbpf_services SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_LPM_TRIE);
	__type(key, struct lpm_ip_key);
	__type(value, struct remote_endpoint_info);
	__uint(max_entries, 16384);
	__uint(map_flags, BPF_F_NO_PREALLOC);
} tsbpf_ipcache SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__type(key, struct policy_key);
	__type(value, struct policy_entry);
	__uint(max_entries, 4096);
} tsbpf_policy SEC(".maps");

/* Counter indices (src/programs/stats.ts). */
enum stat {
	STAT_INSERTED,
	STAT_INSERT_FAILED,
	STAT_SKIP_FAMILY,
	STAT_SKIP_SERVICE,
	STAT_SKIP_REMOTE,
	STAT_MSG_REDIRECTED,
	STAT_MSG_BYTES,
	STAT_REDIRECT_MISS,
	STAT_POLICY_DENIED,
	STAT_COUNT,
};

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__type(key, __u32);
	__type(value, __u64);
	__uint(max_entries, STAT_COUNT);
} tsbpf_stats SEC(".maps");

static __always_inline void count(__u32 index, __u64 amount)
{
	__u64 *value = bpf_map_lookup_elem(&tsbpf_stats, &index);
	if (value)
		__sync_fetch_and_add(value, amount);
}

/* The LPM key of a full address of the sock key's family. */
static __always_inline void lpm_key_of(struct lpm_ip_key *lpm, __u8 family, union ip_addr addr)
{
	*lpm = (struct lpm_ip_key){};
	lpm->prefixlen = LPM_LOOKUP_PREFIXLEN;
	lpm->family = family;
	lpm->addr = addr;
}

/* Cilium's lookup_ip4_remote_endpoint: the ipcache identity, WORLD_ID on a miss or a 0 label. */
static __always_inline __u32 identity_of(const struct lpm_ip_key *lpm)
{
	struct remote_endpoint_info *info = bpf_map_lookup_elem(&tsbpf_ipcache, lpm);
	return info && info->sec_label ? info->sec_label : WORLD_ID;
}

/*
 * Cilium's policy_sk_egress: the first entry among {identity, port, TCP}, {0, port, TCP},
 * {identity, 0, 0}, {0, 0, 0} decides (deny: DROP_POLICY_DENY, else its proxy port, 0 = allow);
 * no entry: 0.
 */
static __always_inline int policy_verdict(__u32 identity, __u16 dport)
{
	struct policy_key k = { .sec_label = identity, .dport = dport, .protocol = IPPROTO_TCP };
	struct policy_entry *e = bpf_map_lookup_elem(&tsbpf_policy, &k);
	if (!e) {
		k.sec_label = 0;
		e = bpf_map_lookup_elem(&tsbpf_policy, &k);
	}
	if (!e) {
		k = (struct policy_key){ .sec_label = identity };
		e = bpf_map_lookup_elem(&tsbpf_policy, &k);
	}
	if (!e) {
		k.sec_label = 0;
		e = bpf_map_lookup_elem(&tsbpf_policy, &k);
	}
	if (!e)
		return 0;
	return e->deny ? DROP_POLICY_DENY : e->proxy_port;
}

/*
 * Established sockets go into the SOCKHASH under their reversed tuple, unless the remote end is a
 * service frontend or not a local endpoint; a proxy verdict rewrites the key's source to the
 * gateway and the proxy port (emitSockOps in src/programs/sock-ops.ts).
 */
SEC("sockops")
int bpf_sockops(struct bpf_sock_ops *skops)
{
	__u32 op = skops->op;
	if (op != BPF_SOCK_OPS_ACTIVE_ESTABLISHED_CB && op != BPF_SOCK_OPS_PASSIVE_ESTABLISHED_CB)
		return 0;
	struct sock_key key = {};
	if (!sockops_key(skops, &key, 1)) {
		count(STAT_SKIP_FAMILY, 1);
		return 0;
	}
	struct service_key svc = { .addr = key.sip, .dport = (__u16)key.sport, .family = key.family };
	if (bpf_map_lookup_elem(&tsbpf_services, &svc)) {
		count(STAT_SKIP_SERVICE, 1);
		return 0;
	}
	struct lpm_ip_key lpm;
	lpm_key_of(&lpm, key.family, key.sip);
	int verdict = policy_verdict(identity_of(&lpm), (__u16)key.sport);
	if (verdict > 0) {
		if (key.family == ENDPOINT_KEY_IPV4) {
			key.sip.ip4 = __builtin_bswap32(0x7f000001); /* 127.0.0.1 */
		} else {
			key.sip.ip6[0] = 0;
			key.sip.ip6[1] = 0;
			key.sip.ip6[2] = 0;
			key.sip.ip6[3] = __builtin_bswap32(1); /* ::1 */
		}
		key.sport = verdict;
	} else if (!bpf_map_lookup_elem(&tsbpf_endpoints, &lpm)) {
		count(STAT_SKIP_REMOTE, 1);
		return 0;
	}
	if (bpf_sock_hash_update(skops, &tsbpf_sockhash, &key, BPF_NOEXIST) == 0)
		count(STAT_INSERTED, 1);
	else
		count(STAT_INSERT_FAILED, 1);
	return 0;
}

/*
 * Every message of a socket in the SOCKHASH: its forward tuple finds the peer; unless the policy
 * denies, redirect to the peer's ingress queue. Always SK_PASS (emitSkMsg in src/programs/sk-msg.ts).
 */
SEC("sk_msg")
int bpf_redir(struct sk_msg_md *msg)
{
	struct sock_key key = {};
	if (!sk_msg_key(msg, &key, 0))
		return SK_PASS;
	struct lpm_ip_key lpm;
	lpm_key_of(&lpm, key.family, key.dip);
	if (policy_verdict(identity_of(&lpm), (__u16)key.dport) < 0) {
		count(STAT_POLICY_DENIED, 1);
		return SK_PASS;
	}
	if (bpf_msg_redirect_hash(msg, &tsbpf_sockhash, &key, BPF_F_INGRESS) == SK_PASS) {
		count(STAT_MSG_REDIRECTED, 1);
		count(STAT_MSG_BYTES, msg->size);
	} else {
		count(STAT_REDIRECT_MISS, 1);
	}
	return SK_PASS;
}
