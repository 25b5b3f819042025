// One snapshot of every counter of the daemon, rendered two ways: JSON for gvproxy's
// GET /stats and Prometheus text for GET /metrics. Both come from the same snapshot, so
// they always agree; each metric is collected in exactly one place (collect_stats).
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <utility>
#include <vector>

namespace usernet {

class VirtualNetwork;
class PortForwarder;
class GatewayDhcp;
class GatewayDns;
class GatewayIpv6;

enum class MetricType { counter, gauge };

using MetricLabels = std::vector<std::pair<std::string, std::string>>;

struct MetricSample {
  MetricLabels labels;
  std::uint64_t value = 0;
};

struct Metric {
  std::string name;  // Prometheus name, e.g. "usernet_switch_frames_total"
  std::string help;
  MetricType type = MetricType::counter;
  std::vector<MetricSample> samples;
};

class StatsSnapshot {
 public:
  /// Adds a sample; samples with the same name form one metric (name, help and type of
  /// the first one win). Metric order is insertion order.
  void add(const std::string& name, const std::string& help, MetricType type, std::uint64_t value,
           MetricLabels labels = {});
  const std::vector<Metric>& metrics() const { return metrics_; }
  /// The value of an unlabelled metric, or the sum of a labelled one's samples whose labels
  /// include `filter`; 0 if absent (for tests and summaries).
  std::uint64_t value(const std::string& name, const MetricLabels& filter = {}) const;

  /// Prometheus text exposition format 0.0.4.
  std::string to_prometheus() const;
  /// {"name": value} for unlabelled metrics, {"name": [{"labels": {...}, "value": v}]} else.
  std::string to_json() const;

 private:
  std::vector<Metric> metrics_;
};

/// Where the counters live; null pointers are services that are switched off.
struct StatsSources {
  VirtualNetwork* network = nullptr;
  PortForwarder* forwarder = nullptr;
  GatewayDhcp* dhcp = nullptr;
  GatewayDns* dns = nullptr;
  /// Adds counters of modules netstack cannot see (transports, pcap).
  std::function<void(StatsSnapshot&)> extra;
  GatewayIpv6* ipv6 = nullptr;  // null unless --ipv6
};

/// Reads every counter now.
StatsSnapshot collect_stats(const StatsSources& sources);

}  // namespace usernet
