#include "dns/service.hpp"

namespace usernet::dns {

DnsService::DnsService(uv_loop_t* loop, ServerConfig config, std::vector<std::string> upstream_servers,
                       UpstreamOptions upstream_options)
    : loop_(loop), server_(std::move(config)), upstream_(loop, std::move(upstream_servers), upstream_options) {}

void DnsService::query(std::span<const std::uint8_t> bytes, Transport transport, Respond respond) {
  carry_out(server_.handle(bytes, transport, uv_now(loop_)), std::move(respond));
}

void DnsService::carry_out(Decision decision, Respond respond) {
  if (auto* reply = std::get_if<Reply>(&decision)) {
    respond(std::move(reply->bytes));
    return;
  }
  auto* forward = std::get_if<Forward>(&decision);
  if (forward == nullptr) return;  // dropped
  if (upstream_.pending() >= max_pending_) {
    ++counters_.over_pending_cap;
    return;
  }
  // The resolver drops pending callbacks when it is destroyed with this service, so
  // capturing `this` is safe.
  upstream_.resolve(forward->query, [this, pending = std::move(forward->pending),
                                     respond = std::move(respond)](std::optional<std::vector<std::uint8_t>> answer) {
    std::optional<std::span<const std::uint8_t>> bytes_in;
    if (answer) bytes_in = std::span<const std::uint8_t>(*answer);
    carry_out(server_.finish(pending, bytes_in, uv_now(loop_)), respond);  // DNS64 may forward again
  });
}

}  // namespace usernet::dns
