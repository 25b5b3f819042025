# Builds lwIP as a static library from Debian's orig tarball (fetched and checked by
# tools/setup-deps.sh), configured by our own port/lwipopts.h. lwIP's own
# Filelists.cmake is not used: it writes generated files into the source tree.
include(FetchContent)

set(USERNET_LWIP_TARBALL "${CMAKE_SOURCE_DIR}/.cache/lwip/lwip.orig.tar.xz" CACHE FILEPATH
    "lwIP source tarball (Debian orig tarball of 2.1.3)")
# Upstream releases we accept, by SHA-256 of the tarball.
set(USERNET_LWIP_KNOWN_SHA256
    0a8276d09fc4e97bbba2f953d74af2388fc2195ea156be9d7589e297a68fde24) # 2.1.3+dfsg1

if(NOT EXISTS "${USERNET_LWIP_TARBALL}")
  message(FATAL_ERROR "lwIP tarball not found at ${USERNET_LWIP_TARBALL}; run tools/setup-deps.sh")
endif()
file(SHA256 "${USERNET_LWIP_TARBALL}" _lwip_sha)
if(NOT _lwip_sha IN_LIST USERNET_LWIP_KNOWN_SHA256)
  message(FATAL_ERROR "lwIP tarball ${USERNET_LWIP_TARBALL} has unknown SHA-256 ${_lwip_sha}")
endif()

FetchContent_Declare(lwip URL "${USERNET_LWIP_TARBALL}" URL_HASH SHA256=${_lwip_sha}
                     DOWNLOAD_EXTRACT_TIMESTAMP TRUE)
FetchContent_GetProperties(lwip)
if(NOT lwip_POPULATED)
  FetchContent_Populate(lwip)
endif()

set(_lw ${lwip_SOURCE_DIR}/src)
add_library(lwip STATIC
  ${_lw}/core/init.c ${_lw}/core/def.c ${_lw}/core/inet_chksum.c ${_lw}/core/ip.c
  ${_lw}/core/mem.c ${_lw}/core/memp.c ${_lw}/core/netif.c ${_lw}/core/pbuf.c
  ${_lw}/core/raw.c ${_lw}/core/stats.c ${_lw}/core/sys.c ${_lw}/core/tcp.c
  ${_lw}/core/tcp_in.c ${_lw}/core/tcp_out.c ${_lw}/core/timeouts.c ${_lw}/core/udp.c
  ${_lw}/core/ipv4/etharp.c ${_lw}/core/ipv4/icmp.c ${_lw}/core/ipv4/ip4.c
  ${_lw}/core/ipv4/ip4_addr.c ${_lw}/core/ipv4/ip4_frag.c
  ${_lw}/core/ipv6/ip6.c ${_lw}/core/ipv6/ip6_addr.c ${_lw}/core/ipv6/ip6_frag.c
  ${_lw}/core/ipv6/icmp6.c ${_lw}/core/ipv6/nd6.c ${_lw}/core/ipv6/mld6.c
  ${_lw}/core/ipv6/ethip6.c ${_lw}/core/ipv6/inet6.c
  ${_lw}/netif/ethernet.c
  ${CMAKE_SOURCE_DIR}/netstack/lwip/port/usernet_chksum.c)
target_include_directories(lwip SYSTEM PUBLIC ${CMAKE_SOURCE_DIR}/netstack/lwip/port ${_lw}/include)
target_compile_definitions(lwip PUBLIC LWIP_DONT_PROVIDE_BYTEORDER_FUNCTIONS=1)
target_compile_options(lwip PRIVATE -w)
set_target_properties(lwip PROPERTIES POSITION_INDEPENDENT_CODE ON)
