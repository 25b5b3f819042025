#include "netstack/api/gvproxy_stats.hpp"

#include <nlohmann/json.hpp>

namespace usernet {

namespace {
using json = nlohmann::json;

/// gVisor's tcpip.Stats as gvproxy encodes it (field names of gvisor-tap-vsock's vendored
/// gVisor; embedded structs appear under their type name), every counter 0.
constexpr const char* kGvisorStatsShape =
      R"({"ARP":{"DisabledPacketsReceived":0,"MalformedPacketsReceived":0,"OutgoingRepliesDropped":0,)"
      R"("OutgoingRepliesSent":0,"OutgoingRequestBadLocalAddressErrors":0,)"
      R"("OutgoingRequestInterfaceHasNoLocalAddressErrors":0,"OutgoingRequestsDropped":0,)"
      R"("OutgoingRequestsSent":0,"PacketsReceived":0,"RepliesReceived":0,"RequestsReceived":0,)"
      R"("RequestsReceivedUnknownTargetAddress":0},"BytesReceived":0,"BytesSent":0,"DroppedPackets":0,)"
      R"("ICMP":{"V4":{"PacketsReceived":{"ICMPv4PacketStats":{"DstUnreachable":0,"EchoReply":0,"EchoRequest":0,)"
      R"("InfoReply":0,"InfoRequest":0,"ParamProblem":0,"Redirect":0,"SrcQuench":0,"TimeExceeded":0,)"
      R"("Timestamp":0,"TimestampReply":0},"Invalid":0},"PacketsSent":{"Dropped":0,)"
      R"("ICMPv4PacketStats":{"DstUnreachable":0,"EchoReply":0,"EchoRequest":0,"InfoReply":0,"InfoRequest":0,)"
      R"("ParamProblem":0,"Redirect":0,"SrcQuench":0,"TimeExceeded":0,"Timestamp":0,"TimestampReply":0},)"
      R"("RateLimited":0}},"V6":{"PacketsReceived":{"ICMPv6PacketStats":{"DstUnreachable":0,"EchoReply":0,)"
      R"("EchoRequest":0,"MulticastListenerDone":0,"MulticastListenerQuery":0,"MulticastListenerReport":0,)"
      R"("MulticastListenerReportV2":0,"NeighborAdvert":0,"NeighborSolicit":0,"PacketTooBig":0,"ParamProblem":0,)"
      R"("RedirectMsg":0,"RouterAdvert":0,"RouterSolicit":0,"TimeExceeded":0},"Invalid":0,)"
      R"("RouterOnlyPacketsDroppedByHost":0,"Unrecognized":0},"PacketsSent":{"Dropped":0,)"
      R"("ICMPv6PacketStats":{"DstUnreachable":0,"EchoReply":0,"EchoRequest":0,"MulticastListenerDone":0,)"
      R"("MulticastListenerQuery":0,"MulticastListenerReport":0,"MulticastListenerReportV2":0,"NeighborAdvert":0,)"
      R"("NeighborSolicit":0,"PacketTooBig":0,"ParamProblem":0,"RedirectMsg":0,"RouterAdvert":0,)"
      R"("RouterSolicit":0,"TimeExceeded":0},"RateLimited":0}}},"IGMP":{"PacketsReceived":{"ChecksumErrors":0,)"
      R"("IGMPPacketStats":{"LeaveGroup":0,"MembershipQuery":0,"V1MembershipReport":0,"V2MembershipReport":0,)"
      R"("V3MembershipReport":0},"Invalid":0,"Unrecognized":0},"PacketsSent":{"Dropped":0,)"
      R"("IGMPPacketStats":{"LeaveGroup":0,"MembershipQuery":0,"V1MembershipReport":0,"V2MembershipReport":0,)"
      R"("V3MembershipReport":0}}},"IP":{"DisabledPacketsReceived":0,"Forwarding":{"Errors":0,"ExhaustedTTL":0,)"
      R"("ExtensionHeaderProblem":0,"HostUnreachable":0,"InitializingSource":0,"LinkLocalDestination":0,)"
      R"("LinkLocalSource":0,"NoMulticastPendingQueueBufferSpace":0,"OutgoingDeviceClosedForSend":0,)"
      R"("OutgoingDeviceNoBufferSpace":0,"PacketTooBig":0,"UnexpectedMulticastInputInterface":0,)"
      R"("UnknownOutputEndpoint":0,"Unrouteable":0},"IPTablesForwardDropped":0,"IPTablesInputDropped":0,)"
      R"("IPTablesOutputDropped":0,"IPTablesPostroutingDropped":0,"IPTablesPreroutingDropped":0,)"
      R"("InvalidDestinationAddressesReceived":0,"InvalidSourceAddressesReceived":0,)"
      R"("MalformedFragmentsReceived":0,"MalformedPacketsReceived":0,"OptionRecordRouteReceived":0,)"
      R"("OptionRouterAlertReceived":0,"OptionTimestampReceived":0,"OptionUnknownReceived":0,)"
      R"("OutgoingPacketErrors":0,"PacketsDelivered":0,"PacketsReceived":0,"PacketsSent":0,)"
      R"("ValidPacketsReceived":0},"NICs":{"DisabledRx":{"Bytes":0,"Packets":0},"MalformedL4RcvdPackets":0,)"
      R"("Neighbor":{"DroppedConfirmationForNoninitiatedNeighbor":0,"DroppedInvalidLinkAddressConfirmations":0,)"
      R"("UnreachableEntryLookups":0},"Rx":{"Bytes":0,"Packets":0},"Tx":{"Bytes":0,"Packets":0},)"
      R"("TxPacketsDroppedNoBufferSpace":0},"TCP":{"ActiveConnectionOpenings":0,"ChecksumErrors":0,)"
      R"("CurrentConnected":0,"CurrentEstablished":0,"EstablishedClosed":0,"EstablishedResets":0,)"
      R"("EstablishedTimedout":0,"FailedConnectionAttempts":0,"FailedPortReservations":0,"FastRecovery":0,)"
      R"("FastRetransmit":0,"ForwardMaxInFlightDrop":0,"InvalidSegmentsReceived":0,"ListenOverflowAckDrop":0,)"
      R"("ListenOverflowInvalidSynCookieRcvd":0,"ListenOverflowSynCookieRcvd":0,"ListenOverflowSynCookieSent":0,)"
      R"("ListenOverflowSynDrop":0,"PassiveConnectionOpenings":0,"ResetsReceived":0,"ResetsSent":0,)"
      R"("Retransmits":0,"SACKRecovery":0,"SegmentSendErrors":0,"SegmentsAckedWithDSACK":0,"SegmentsSent":0,)"
      R"("SlowStartRetransmits":0,"SpuriousRTORecovery":0,"SpuriousRecovery":0,"TLPRecovery":0,"Timeouts":0,)"
      R"("ValidSegmentsReceived":0},"UDP":{"ChecksumErrors":0,"MalformedPacketsReceived":0,"PacketSendErrors":0,)"
      R"("PacketsReceived":0,"PacketsSent":0,"ReceiveBufferErrors":0,"UnknownPortErrors":0}})";

/// Sum of a metric's samples over every switch port but the gateway's own.
std::uint64_t guest_port_total(const StatsSnapshot& s, const std::string& name, const std::string& direction) {
  std::uint64_t total = 0;
  for (const auto& metric : s.metrics()) {
    if (metric.name != name) continue;
    for (const auto& sample : metric.samples) {
      bool guest = true, matches = false;
      for (const auto& [key, value] : sample.labels) {
        if (key == "name" && value == "gateway") guest = false;
        if (key == "direction" && value == direction) matches = true;
      }
      if (guest && matches) total += sample.value;
    }
  }
  return total;
}
}  // namespace

std::string gvproxy_stats_json(const StatsSnapshot& s) {
  static const json shape = json::parse(kGvisorStatsShape);
  json out = shape;
  auto set = [&](const char* pointer, std::uint64_t value) { out[json::json_pointer(pointer)] = value; };
  set("/BytesSent", guest_port_total(s, "usernet_switch_bytes_total", "tx"));
  set("/BytesReceived", guest_port_total(s, "usernet_switch_bytes_total", "rx"));
  set("/NICs/Rx/Packets", s.value("usernet_gateway_frames_total", {{"direction", "in"}}));
  set("/NICs/Tx/Packets", s.value("usernet_gateway_frames_total", {{"direction", "out"}}));
  set("/DroppedPackets", s.value("usernet_switch_drops_total") + s.value("usernet_nat_drops_total"));
  set("/IP/MalformedPacketsReceived", s.value("usernet_nat_drops_total", {{"reason", "malformed"}}));
  set("/IP/InvalidSourceAddressesReceived", s.value("usernet_nat_drops_total", {{"reason", "foreign_source"}}));
  set("/ARP/OutgoingRepliesSent", s.value("usernet_gateway_arp_replies_total"));
  // The guest's connections are passive openings of gvproxy's stack, forwards active ones.
  set("/TCP/PassiveConnectionOpenings", s.value("usernet_flows_total", {{"protocol", "tcp"}}));
  set("/TCP/ActiveConnectionOpenings", s.value("usernet_port_forward_connections_total"));
  set("/TCP/CurrentEstablished", s.value("usernet_flows_active", {{"protocol", "tcp"}}));
  set("/TCP/FailedConnectionAttempts", s.value("usernet_flow_failures_total", {{"protocol", "tcp"}}));
  set("/TCP/InvalidSegmentsReceived", s.value("usernet_nat_drops_total", {{"reason", "bad_tcp_header"}}));
  set("/UDP/PacketsReceived", s.value("usernet_nat_datagrams_total", {{"direction", "to_host"}}) +
                                  s.value("usernet_port_forward_datagrams_total", {{"direction", "to_host"}}));
  set("/UDP/PacketsSent", s.value("usernet_nat_datagrams_total", {{"direction", "to_guest"}}) +
                              s.value("usernet_port_forward_datagrams_total", {{"direction", "to_guest"}}));
  set("/UDP/MalformedPacketsReceived", s.value("usernet_nat_drops_total", {{"reason", "bad_udp_header"}}));
  set("/ICMP/V4/PacketsReceived/ICMPv4PacketStats/EchoRequest", s.value("usernet_flows_total", {{"protocol", "icmp"}}));
  return out.dump() + "\n";
}

}  // namespace usernet
