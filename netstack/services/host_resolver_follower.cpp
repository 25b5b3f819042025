#include "netstack/services/host_resolver_follower.hpp"

#include <fmt/ranges.h>
#include <spdlog/spdlog.h>

namespace usernet {

std::unique_ptr<ResolvConfWatcher> follow_host_resolver(uv_loop_t* loop, const std::string& path, GatewayDns* dns,
                                                        GatewayDhcp* dhcp) {
  if (dns == nullptr && dhcp == nullptr) return nullptr;
  auto listener = [dns, dhcp, path, last_search = std::optional<std::vector<std::string>>()](
                      const dns::ResolvConf& conf) mutable {
    if (dns != nullptr) dns->follow(conf, path);
    if (dhcp == nullptr || last_search == conf.search) return;
    last_search = conf.search;
    if (const Status used = dhcp->server().set_search_domains(conf.search); !used) {
      spdlog::warn("{}: search list not used for DHCP: {}", path, used.error());
      return;
    }
    spdlog::info("DHCP search list from {}: {}", path, conf.search.empty() ? "(none)" : fmt::format("{}", fmt::join(conf.search, " ")));
  };
  return std::make_unique<ResolvConfWatcher>(loop, path, std::move(listener));
}

}  // namespace usernet
