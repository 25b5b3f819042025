/* lwIP hook declarations (LWIP_HOOK_FILENAME). The input hooks see every IPv4 and IPv6
 * packet before lwIP's address filter; netstack/lwip/gateway.cpp implements them. */
#ifndef USERNET_LWIP_HOOKS_H
#define USERNET_LWIP_HOOKS_H

#ifdef __cplusplus
extern "C" {
#endif
struct pbuf;
struct netif;
/* Returns 1 when the packet was taken (NAT path), 0 to let lwIP handle it. */
int usernet_ip4_input_hook(struct pbuf *p, struct netif *inp);
int usernet_ip6_input_hook(struct pbuf *p, struct netif *inp);
#ifdef __cplusplus
}
#endif

#endif
