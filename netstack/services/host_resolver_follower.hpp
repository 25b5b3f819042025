// Keeps the gateway's DNS upstreams and DHCP search list in step with the host's
// resolv.conf at run time, for whichever of them takes its settings from the host.
#pragma once

#include <uv.h>

#include <memory>
#include <string>

#include "netstack/services/gateway_dhcp.hpp"
#include "netstack/services/gateway_dns.hpp"
#include "netstack/services/resolv_conf_watcher.hpp"

namespace usernet {

/// `dns`: null when DNS is off or has explicit upstreams; `dhcp`: null when DHCP is off or
/// has an explicit search list. nullptr when neither follows the file.
std::unique_ptr<ResolvConfWatcher> follow_host_resolver(uv_loop_t* loop, const std::string& path, GatewayDns* dns,
                                                        GatewayDhcp* dhcp);

}  // namespace usernet
