// Experiment (docs/benchmarks.md, "msg_cork_bytes"): the loader fixture's sockops/sk_msg pair with
// an unconditional bpf_msg_cork_bytes(msg, CORK) before the redirect, to see whether corking small
// writes closes the gap to TCP's Nagle batching. Build one object per threshold:
//   clang -O2 -g -target bpf -DCORK=1024 -I/usr/include/x86_64-linux-gnu \
//     -I../../test/fixtures/loader -c msg-cork.c -o cork1024.o
// Result on Linux 6.18 (1024 and 16384): the loadgen's rr 64 B hangs (a request below the threshold
// is never delivered), and its streams fail: the server's final 16-byte reply stays corked and the
// client reads EOF without it. Not shipped as an option.
#include "bpf_helpers.h"

// BPF_FUNC_msg_cork_bytes = 62; the fixture's bpf_helpers.h does not declare it.
static long (*bpf_msg_cork_bytes)(struct sk_msg_md *msg, __u32 bytes) = (void *)62;

struct sock_key {
	__u32 sip4;
	__u32 dip4;
	__u8 family;
	__u8 pad1;
	__u16 pad2;
	__u32 sport;
	__u32 dport;
};

struct {
	__uint(type, BPF_MAP_TYPE_SOCKHASH);
	__type(key, struct sock_key);
	__type(value, int);
	__uint(max_entries, 1024);
	__uint(pinning, 0);
} accel_map SEC(".maps");

SEC("sockops")
int accel_sockops(struct bpf_sock_ops *skops)
{
	struct sock_key key = {};

	if (skops->family != 2)
		return 1;
	if (skops->op != BPF_SOCK_OPS_PASSIVE_ESTABLISHED_CB &&
	    skops->op != BPF_SOCK_OPS_ACTIVE_ESTABLISHED_CB)
		return 1;
	key.sip4 = skops->local_ip4;
	key.dip4 = skops->remote_ip4;
	key.family = 1;
	key.sport = __builtin_bswap32(skops->local_port) >> 16;
	key.dport = skops->remote_port >> 16;
	bpf_sock_hash_update(skops, &accel_map, &key, BPF_NOEXIST);
	return 1;
}

SEC("sk_msg")
int accel_redir(struct sk_msg_md *msg)
{
	struct sock_key key = {};

	key.sip4 = msg->remote_ip4;
	key.dip4 = msg->local_ip4;
	key.family = 1;
	key.sport = msg->remote_port >> 16;
	key.dport = __builtin_bswap32(msg->local_port) >> 16;
	bpf_msg_cork_bytes(msg, CORK);
	return bpf_msg_redirect_hash(msg, &accel_map, &key, BPF_F_INGRESS);
}

char _license[] SEC("license") = "Dual BSD/GPL";
