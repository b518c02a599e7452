/*
 * What the C equivalents of tsbpf's socket acceleration objects share: the data layouts of
 * src/programs/layouts.ts (same names, sizes and field offsets, so the BTF describes the same
 * types), the tuple extraction of src/programs/emit-common.ts, and the few libbpf conventions
 * needed to build with only the kernel UAPI headers (no libbpf, no vmlinux.h).
 */
#ifndef TSBPF_CLANG_EQUIVALENT_H
#define TSBPF_CLANG_EQUIVALENT_H

#include <linux/bpf.h>

#define SEC(name) __attribute__((section(name), used))
#define __uint(name, val) int (*name)[val]
#define __type(name, val) typeof(val) *name
#undef __always_inline
#define __always_inline inline __attribute__((always_inline))

/* Helper calls by id, as in libbpf's generated bpf_helper_defs.h. */
static void *(*bpf_map_lookup_elem)(void *map, const void *key) = (void *)1;
static long (*bpf_sock_hash_update)(struct bpf_sock_ops *skops, void *map, void *key, __u64 flags) = (void *)70;
static long (*bpf_msg_redirect_hash)(struct sk_msg_md *msg, void *map, void *key, __u64 flags) = (void *)71;

#define AF_INET 2
#define AF_INET6 10
#define IPPROTO_TCP 6
#define ENDPOINT_KEY_IPV4 1
#define ENDPOINT_KEY_IPV6 2
#define WORLD_ID 2
#define DROP_POLICY_DENY -181
/* prefixlen of a full-address lookup: pad1, pad2 and family (32 bits), then 128 address bits. */
#define LPM_LOOKUP_PREFIXLEN (32 + 128)
/* Words 0..2 of ::ffff:0:0/96 as loaded (little-endian): 0, 0, then 00 00 ff ff. */
#define V4_MAPPED_WORD2 __builtin_bswap32(0x0000ffff)

/* A 16-byte address slot: IPv4 in the first 4 bytes, or a whole IPv6 address (network order). */
union ip_addr {
	__be32 ip4;
	__be32 ip6[4];
};

/* Cilium's struct sock_key (bpf_sockops.h), packed, 44 bytes; ports in the low 16 bits, be16. */
struct sock_key {
	union ip_addr sip;
	union ip_addr dip;
	__u8 family;
	__u8 pad7;
	__u16 pad8;
	__u32 sport;
	__u32 dport;
} __attribute__((packed));

/* Key of the endpoints and ipcache LPM tries (Cilium's ipcache_key), 24 bytes. */
struct lpm_ip_key {
	__u32 prefixlen;
	__u16 pad1;
	__u8 pad2;
	__u8 family;
	union ip_addr addr;
};

struct endpoint_info {
	__u32 endpoint_id;
};

struct remote_endpoint_info {
	__u32 sec_label;
};

/* Key of the services hash: frontend address and port (Cilium's lb4_key for both families). */
struct service_key {
	union ip_addr addr;
	__be16 dport;
	__u8 family;
	__u8 pad;
};

struct service_info {
	__u32 service_id;
};

/* Key of the policy hash (Cilium's policy_key without the egress bit), 8 bytes. */
struct policy_key {
	__u32 sec_label;
	__be16 dport;
	__u8 protocol;
	__u8 pad;
};

/* Value of the policy hash: proxy port (network order, 0 = none) and the deny flag. */
struct policy_entry {
	__be16 proxy_port;
	__u8 deny;
	__u8 pad;
};

/*
 * Fills the addresses, family and ports of a zeroed key from a sock_ops or sk_msg context, as
 * emitKeyTuple does with ipv6 'mapped': AF_INET, or AF_INET6 with a remote address in
 * ::ffff:0:0/96 (an IPv4 key from the last words); anything else returns 0. `reversed` stores the
 * remote end as sip/sport (sock_ops), else the local end (sk_msg). Ports as Cilium:
 * bpf_ntohl(local_port) >> 16, and a 32-bit load of remote_port (READ_ONCE) >> 16. barrier_var
 * (libbpf's) after the address loads keeps clang from merging the two branches into one load
 * through a selected ctx pointer, which the verifier rejects ("dereference of modified ctx ptr").
 */
#define READ_ONCE(field) (*(volatile __u32 *)&(field))
#define barrier_var(var) asm volatile("" : "+r"(var))
#define DEFINE_FILL_KEY(name, ctx_type)                                                        \
	static __always_inline int name(ctx_type *ctx, struct sock_key *key, int reversed)     \
	{                                                                                      \
		__u32 family = ctx->family;                                                    \
		__u32 local, remote;                                                           \
		if (family == AF_INET) {                                                       \
			local = ctx->local_ip4;                                                \
			remote = ctx->remote_ip4;                                              \
			barrier_var(local);                                                    \
			barrier_var(remote);                                                   \
		} else if (family == AF_INET6 && ctx->remote_ip6[0] == 0 &&                   \
			   ctx->remote_ip6[1] == 0 && ctx->remote_ip6[2] == V4_MAPPED_WORD2) { \
			local = ctx->local_ip6[3];                                             \
			remote = ctx->remote_ip6[3];                                           \
			barrier_var(local);                                                    \
			barrier_var(remote);                                                   \
		} else {                                                                       \
			return 0;                                                              \
		}                                                                              \
		__u32 local_port = __builtin_bswap32(ctx->local_port) >> 16;                   \
		__u32 remote_port = READ_ONCE(ctx->remote_port) >> 16;                \
		key->family = ENDPOINT_KEY_IPV4;                                               \
		if (reversed) {                                                                \
			key->sip.ip4 = remote;                                                 \
			key->dip.ip4 = local;                                                  \
			key->sport = remote_port;                                              \
			key->dport = local_port;                                               \
		} else {                                                                       \
			key->sip.ip4 = local;                                                  \
			key->dip.ip4 = remote;                                                 \
			key->sport = local_port;                                               \
			key->dport = remote_port;                                              \
		}                                                                              \
		return 1;                                                                      \
	}

DEFINE_FILL_KEY(sockops_key, struct bpf_sock_ops)
DEFINE_FILL_KEY(sk_msg_key, struct sk_msg_md)

char _license[] SEC("license") = "Dual BSD/GPL";

#endif
