#!/bin/sh
# DHCP client event script for tests (busybox udhcpc and ISC dhclient): appends what the
# server said to $USERNET_DHCP_LOG and applies address, MTU and default route.
log=${USERNET_DHCP_LOG:-/tmp/usernet-dhcp.log}
if [ -n "$reason" ]; then  # ISC dhclient
  echo "client=dhclient event=$reason ip=$new_ip_address router=$new_routers dns=$new_domain_name_servers mtu=$new_interface_mtu search=$new_domain_search lease=$new_dhcp_lease_time" >> "$log"
  case "$reason" in BOUND|RENEW|REBIND|REBOOT)
    ip addr flush dev "$interface"; ip addr add "$new_ip_address/24" dev "$interface"
    [ -n "$new_interface_mtu" ] && ip link set "$interface" mtu "$new_interface_mtu"
    ip route replace default via "${new_routers%% *}";;
  esac
else  # busybox udhcpc: event in $1
  echo "client=udhcpc event=$1 ip=$ip router=$router dns=$dns mtu=$mtu search=$search lease=$lease" >> "$log"
  case "$1" in bound|renew)
    ip addr flush dev "$interface"; ip addr add "$ip/24" dev "$interface"
    [ -n "$mtu" ] && ip link set "$interface" mtu "$mtu"
    ip route replace default via "${router%% *}";;
  esac
fi
exit 0
