/*
 * The C equivalent of `tsbpf build --variant minimal`: only the SOCKHASH, every established TCP
 * socket (IPv4 or v4-mapped IPv6) inserted under its reversed tuple, every message redirected to
 * its peer; no stats (src/programs with variant 'minimal'). For the build-time comparison with
 * clang -O2 (src/bench/build-timing.ts). Not used at run time.
 */
#include "sockaccel.h"

struct {
	__uint(type, BPF_MAP_TYPE_SOCKHASH);
	__type(key, struct sock_key);
	__type(value, __u32);
	__uint(max_entries, 65535);
} tsbpf_sockhash SEC(".maps");

SEC("sockops")
int bpf_sockops(struct bpf_sock_ops *skops)
{
	__u32 op = skops->op;
	if (op != BPF_SOCK_OPS_ACTIVE_ESTABLISHED_CB && op != BPF_SOCK_OPS_PASSIVE_ESTABLISHED_CB)
		return 0;
	struct sock_key key = {};
	if (sockops_key(skops, &key, 1))
		bpf_sock_hash_update(skops, &tsbpf_sockhash, &key, BPF_NOEXIST);
	return 0;
}

SEC("sk_msg")
int bpf_redir(struct sk_msg_md *msg)
{
	struct sock_key key = {};
	if (sk_msg_key(msg, &key, 0))
		bpf_msg_redirect_hash(msg, &tsbpf_sockhash, &key, BPF_F_INGRESS);
	return SK_PASS;
}
