// GET /stats in gvproxy mode: gvproxy answers with gVisor's tcpip.Stats counter tree
// (every nested struct an object, every counter a number) plus BytesSent/BytesReceived.
// Tools that read it find the same field names here; the counters usernet has are filled
// in from the same snapshot as /metrics, the rest of gVisor's tree stays 0.
#pragma once

#include <string>

#include "netstack/api/stats.hpp"

namespace usernet {

/// The snapshot in gvproxy's /stats layout, as JSON text.
std::string gvproxy_stats_json(const StatsSnapshot& snapshot);

}  // namespace usernet
