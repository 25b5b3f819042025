#include "vsock/transport/tap_device.hpp"

#include <arpa/inet.h>
#include <fcntl.h>
#include <linux/if_tun.h>
#include <net/if.h>
#include <net/if_arp.h>
#include <net/route.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <system_error>

namespace usernet {

namespace {

[[noreturn]] void fail(const std::string& what) {
  throw std::system_error(errno, std::generic_category(), what);
}

/// Closes a descriptor at scope exit.
struct FdGuard {
  int fd;
  ~FdGuard() {
    if (fd >= 0) ::close(fd);
  }
};

ifreq make_ifreq(const std::string& name) {
  ifreq ifr{};
  std::strncpy(ifr.ifr_name, name.c_str(), IFNAMSIZ - 1);
  return ifr;
}

void set_ipv4(sockaddr* sa, std::uint32_t address) {
  auto* sin = reinterpret_cast<sockaddr_in*>(sa);
  sin->sin_family = AF_INET;
  sin->sin_addr.s_addr = htonl(address);
}

}  // namespace

bool interface_exists(const std::string& name) { return if_nametoindex(name.c_str()) != 0; }

void configure_interface(const std::string& name, const TapConfig& config) {
  const int sock = ::socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  if (sock < 0) fail("socket for interface configuration");
  FdGuard guard{sock};

  if (config.mac) {
    ifreq ifr = make_ifreq(name);
    ifr.ifr_hwaddr.sa_family = ARPHRD_ETHER;
    std::memcpy(ifr.ifr_hwaddr.sa_data, config.mac->data(), 6);
    if (::ioctl(sock, SIOCSIFHWADDR, &ifr) != 0) fail("set MAC address of " + name);
  }
  if (config.mtu) {
    ifreq ifr = make_ifreq(name);
    ifr.ifr_mtu = static_cast<int>(*config.mtu);
    if (::ioctl(sock, SIOCSIFMTU, &ifr) != 0) fail("set MTU of " + name);
  }
  if (config.tx_queue_length) {
    ifreq ifr = make_ifreq(name);
    ifr.ifr_qlen = static_cast<int>(*config.tx_queue_length);
    // Best effort: the ioctl wants CAP_NET_ADMIN in the initial user namespace, which a
    // rootless container's owner lacks; the kernel's default queue then stays.
    if (::ioctl(sock, SIOCSIFTXQLEN, &ifr) != 0 && errno != EPERM) fail("set txqueuelen of " + name);
  }
  if (config.ipv4) {
    ifreq ifr = make_ifreq(name);
    set_ipv4(&ifr.ifr_addr, *config.ipv4);
    if (::ioctl(sock, SIOCSIFADDR, &ifr) != 0) fail("set IPv4 address of " + name);
    const std::uint32_t mask =
        config.prefix_length == 0 ? 0 : ~std::uint32_t{0} << (32 - config.prefix_length);
    ifr = make_ifreq(name);
    set_ipv4(&ifr.ifr_netmask, mask);
    if (::ioctl(sock, SIOCSIFNETMASK, &ifr) != 0) fail("set netmask of " + name);
  }
  if (config.up) {
    ifreq ifr = make_ifreq(name);
    if (::ioctl(sock, SIOCGIFFLAGS, &ifr) != 0) fail("get flags of " + name);
    ifr.ifr_flags = static_cast<short>(ifr.ifr_flags | IFF_UP | IFF_RUNNING);
    if (::ioctl(sock, SIOCSIFFLAGS, &ifr) != 0) fail("bring up " + name);
  }
  if (config.loopback_up) {
    ifreq ifr = make_ifreq("lo");
    if (::ioctl(sock, SIOCGIFFLAGS, &ifr) != 0) fail("get flags of lo");
    ifr.ifr_flags = static_cast<short>(ifr.ifr_flags | IFF_UP);
    if (::ioctl(sock, SIOCSIFFLAGS, &ifr) != 0) fail("bring up lo");
  }
  if (config.default_route) {
    rtentry route{};
    set_ipv4(&route.rt_dst, 0);
    set_ipv4(&route.rt_genmask, 0);
    set_ipv4(&route.rt_gateway, *config.default_route);
    route.rt_flags = RTF_UP | RTF_GATEWAY;
    std::string dev = name;
    route.rt_dev = dev.data();
    if (::ioctl(sock, SIOCADDRT, &route) != 0 && errno != EEXIST) fail("add default route via " + name);
  }
}

TapDevice TapDevice::open(const std::string& name, const TapConfig& config) {
  if (name.empty() || name.size() >= IFNAMSIZ) {
    errno = EINVAL;
    fail("TAP name '" + name + "' must be 1 to 15 characters");
  }
  const int fd = ::open("/dev/net/tun", O_RDWR | O_NONBLOCK | O_CLOEXEC);
  if (fd < 0) fail("open /dev/net/tun");
  ifreq ifr = make_ifreq(name);
  ifr.ifr_flags = IFF_TAP | IFF_NO_PI;
  if (::ioctl(fd, TUNSETIFF, &ifr) != 0) {
    const int saved = errno;
    ::close(fd);
    errno = saved;
    fail("create TAP " + name);
  }
  TapDevice device(fd, ifr.ifr_name);
  configure_interface(device.name(), config);
  return device;
}

MacAddress TapDevice::mac() const {
  ifreq ifr{};
  if (::ioctl(fd_, SIOCGIFHWADDR, &ifr) != 0) fail("get MAC address of " + name_);
  MacAddress mac{};
  std::memcpy(mac.data(), ifr.ifr_hwaddr.sa_data, mac.size());
  return mac;
}

TapDevice::TapDevice(TapDevice&& other) noexcept : fd_(other.fd_), name_(std::move(other.name_)) {
  other.fd_ = -1;
}

TapDevice& TapDevice::operator=(TapDevice&& other) noexcept {
  if (this != &other) {
    if (fd_ >= 0) ::close(fd_);
    fd_ = other.fd_;
    name_ = std::move(other.name_);
    other.fd_ = -1;
  }
  return *this;
}

TapDevice::~TapDevice() {
  if (fd_ >= 0) ::close(fd_);
}

}  // namespace usernet
