/* lwIP options for usernet: NO_SYS single-threaded stack on one libuv loop, used as a
 * NAT gateway (catch-all TCP/UDP through LWIP_HOOK_IP4_INPUT and LWIP_HOOK_IP6_INPUT; the
 * NAT hands IPv6 segments for lwIP's pcbs to tcp_input directly). Every option is set unconditionally (#undef first): glibc's
 * <netinet/tcp.h> defines TCP_MSS 512, and an #ifndef here once gave C++ files a
 * different MSS than the C library. */
#ifndef USERNET_LWIPOPTS_H
#define USERNET_LWIPOPTS_H

/* --- system: one thread, no OS layer, timers driven by a uv_timer --- */
#define NO_SYS 1
#define LWIP_TIMERS 1
#define SYS_LIGHTWEIGHT_PROT 0
#define LWIP_NETCONN 0
#define LWIP_SOCKET 0
#define LWIP_RAW 0

/* --- memory: a host process; malloc instead of fixed pools (limits are ours) --- */
#define MEM_LIBC_MALLOC 1
#define MEMP_MEM_MALLOC 1
#define MEM_ALIGNMENT 8
#define MEM_USE_POOLS 0
#define LWIP_SUPPORT_CUSTOM_PBUF 1

/* --- protocols --- */
#define LWIP_IPV4 1
#define LWIP_IPV6 1
/* IPv6 in lwIP is only TCP/UDP endpoints and output for the NAT: router and neighbour
 * discovery, DHCPv6 and MLD are usernet's own (netstack/ndp, dhcp/v6), so lwIP never
 * solicits, autoconfigures or resolves neighbours itself (netstack/lwip/gateway.cpp
 * replaces its output_ip6), and holds no IPv6 address. */
#define LWIP_IPV6_SCOPES 0
#define LWIP_IPV6_NUM_ADDRESSES 1
#define LWIP_IPV6_FORWARD 0
#define LWIP_IPV6_MLD 0
#define LWIP_IPV6_AUTOCONFIG 0
#define LWIP_IPV6_SEND_ROUTER_SOLICIT 0
#define LWIP_IPV6_DUP_DETECT_ATTEMPTS 0
#define LWIP_IPV6_DHCP6 0
#define LWIP_ND6_QUEUEING 0
#define LWIP_ND6_ALLOW_RA_UPDATES 0
#define LWIP_ICMP6 1
#define LWIP_IPV6_FRAG 1
#define LWIP_IPV6_REASS 0 /* guest fragments are reassembled (or dropped) before lwIP */
#define LWIP_ARP 1
#define LWIP_ETHERNET 1
#define LWIP_ICMP 1
#define LWIP_UDP 1
#define LWIP_TCP 1
#define LWIP_DHCP 0
#define LWIP_AUTOIP 0
#define LWIP_DNS 0
#define LWIP_IGMP 0
#define LWIP_SINGLE_NETIF 1
#define SO_REUSE 1 /* NAT listeners (ANY:port) coexist with gateway services (gw:port) */
#define LWIP_NETIF_TX_SINGLE_PBUF 0 /* link output gathers chains with writev */
#define IP_FORWARD 0
#define IP_REASSEMBLY 1
#define IP_FRAG 1
#define IP_REASS_MAXAGE 15
#define IP_REASS_MAX_PBUFS 512 /* bounds reassembly memory: ~ 512 frames */
#define IP_DEFAULT_TTL 64
#define ARP_TABLE_SIZE 64
#define ARP_QUEUEING 1
#define ARP_QUEUE_LEN 16
#define ETHARP_SUPPORT_STATIC_ENTRIES 0
#define LWIP_BROADCAST_PING 0
#define LWIP_MULTICAST_PING 0

/* --- TCP tuned for a local, loss-free link (see shared/research/lwip.md §3) --- */
/* MSS up to MTU 65520 - 40; lwIP clamps the effective MSS to netif->mtu - 40. */
#define TCP_MSS 65480
#define TCP_CALCULATE_EFF_SEND_MSS 1
#define LWIP_WND_SCALE 1
#define TCP_RCV_SCALE 5
#define TCP_WND (1024 * 1024)
#define TCP_SND_BUF (1024 * 1024)
#define TCP_SND_QUEUELEN 2048
#define TCP_SNDLOWAT (64 * 1024)
#define TCP_SNDQUEUELOWAT (TCP_SND_QUEUELEN / 2)
#define TCP_OVERSIZE TCP_MSS
#define TCP_QUEUE_OOSEQ 1
#define TCP_OOSEQ_MAX_BYTES (1024 * 1024)
#define TCP_OOSEQ_MAX_PBUFS 1024
#define LWIP_TCP_SACK_OUT 1
#define LWIP_TCP_MAX_SACK_NUM 4
#define LWIP_TCP_KEEPALIVE 1
#define LWIP_TCP_TIMESTAMPS 0
/* TIME_WAIT = 2*MSL = 4 s: the host kernel keeps the real TIME_WAIT of each NAT flow, and
 * a new guest SYN for a 4-tuple still in TIME_WAIT replaces it (netstack/nat/tcp_nat.cpp). */
#define TCP_MSL 2000UL
#define TCP_LISTEN_BACKLOG 0
#define TCP_DEFAULT_LISTEN_BACKLOG 0xff
/* The u16 sanity checks in init.c assume a window without scaling; our values are
 * checked against the real (u32 tcpwnd_size_t) limits in netstack/lwip_config_check.cpp. */
#define LWIP_DISABLE_TCP_SANITY_CHECKS 1

/* --- checksums: always generate, do not verify frames from the local guest link --- */
#define CHECKSUM_GEN_IP 1
#define CHECKSUM_GEN_UDP 1
#define CHECKSUM_GEN_TCP 1
#define CHECKSUM_GEN_ICMP 1
#define CHECKSUM_CHECK_IP 0
#define CHECKSUM_CHECK_UDP 0
#define CHECKSUM_CHECK_TCP 0
#define CHECKSUM_CHECK_ICMP 0
#define LWIP_CHECKSUM_ON_COPY 1
/* Our own checksum and fused copy+checksum (port/usernet_chksum.c); lwIP's
 * algorithm 3 is still built as the reference the unit tests compare against. */
#define LWIP_CHKSUM_ALGORITHM 3
#define LWIP_CHKSUM usernet_chksum
#define LWIP_CHKSUM_COPY(dst, src, len) usernet_chksum_copy((dst), (src), (len))
#ifdef __cplusplus
extern "C" {
#endif
unsigned short usernet_chksum(const void *dataptr, int len);
unsigned short usernet_chksum_copy(void *dst, const void *src, unsigned short len);
#ifdef __cplusplus
}
#endif

/* --- callbacks and hooks --- */
#define LWIP_NETIF_STATUS_CALLBACK 0
#define LWIP_NETIF_LINK_CALLBACK 0
#define LWIP_HOOK_FILENAME "usernet_lwip_hooks.h"
#define LWIP_HOOK_IP4_INPUT(p, inp) usernet_ip4_input_hook((p), (inp))
#define LWIP_HOOK_IP6_INPUT(p, inp) usernet_ip6_input_hook((p), (inp))
/* One pcb ext-arg slot: netstack/nat/tcp_demux.cpp tracks NAT pcbs (passive open, destroy). */
#define LWIP_TCP_PCB_NUM_EXT_ARGS 1

/* --- no lwIP statistics or debug output: usernet keeps its own counters --- */
#define LWIP_STATS 0
#define LWIP_DEBUG 0
#define LWIP_PROVIDE_ERRNO 0

#endif
