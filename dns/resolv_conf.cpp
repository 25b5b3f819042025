#include "dns/resolv_conf.hpp"

#include <arpa/inet.h>

#include <sstream>

namespace usernet::dns {

namespace {

bool is_literal_address(const std::string& text) {
  unsigned char buffer[sizeof(in6_addr)];
  return inet_pton(AF_INET, text.c_str(), buffer) == 1 || inet_pton(AF_INET6, text.c_str(), buffer) == 1;
}

bool starts_comment(const std::string& word) { return word.starts_with('#') || word.starts_with(';'); }

}  // namespace

ResolvConf parse_resolv_conf(std::string_view text) {
  ResolvConf conf;
  std::istringstream lines{std::string(text)};
  std::string line;
  while (std::getline(lines, line)) {
    std::istringstream words(line);
    std::string keyword;
    words >> keyword;
    if (keyword == "nameserver") {
      std::string address;
      if (words >> address && is_literal_address(address)) conf.nameservers.push_back(address);
    } else if (keyword == "search" || keyword == "domain") {
      conf.search.clear();  // the last such line wins, as in resolv.conf(5)
      for (std::string domain; words >> domain && !starts_comment(domain);) conf.search.push_back(domain);
    }
  }
  return conf;
}

}  // namespace usernet::dns
