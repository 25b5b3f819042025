// Arbitrary bytes into the slirp4netns personality: API requests against one engine that
// keeps its forwards across inputs' requests (each must get a JSON object back, and the
// table must match what the backend holds open), and whole command lines through the
// translator (each must translate, print or fail with a message; never crash).
#include <nlohmann/json.hpp>
#include <spdlog/spdlog.h>

#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <set>
#include <string>
#include <string_view>
#include <vector>

#include "netstack/api/slirp4netns_api.hpp"
#include "netstack/daemon/slirp4netns_compat.hpp"
#include "tests/fuzz/fuzz_text.hpp"

using namespace usernet;

namespace {

void fuzz_api(std::string_view text) {
  std::set<std::string> open;
  HostForwardBackend backend{[&open](const ForwardSpec& spec) -> Status {
                               const auto key = spec.protocol_name() + spec.local();
                               if (open.contains(key) || spec.local_port % 7 == 0) return Error{"in use"};
                               open.insert(key);
                               return {};
                             },
                             [&open](const ForwardSpec& spec) { open.erase(spec.protocol_name() + spec.local()); }};
  Slirp4netnsApi api(backend, make_ipv4(10, 0, 2, 100));
  // Requests separated by NUL bytes, so one input exercises add, then list, then remove.
  // A few per input: more only multiply the hit counts libFuzzer tracks as new features.
  constexpr int kMaxRequests = 4;
  std::size_t start = 0;
  for (int n = 0; n < kMaxRequests && start <= text.size(); ++n) {
    const auto end = text.find('\0', start);
    const auto request = text.substr(start, end == std::string_view::npos ? std::string_view::npos : end - start);
    const auto reply = nlohmann::json::parse(api.answer(request), nullptr, false);
    if (reply.is_discarded() || !reply.is_object() || reply.size() != 1) std::abort();
    if (api.forward_count() != open.size()) std::abort();  // the table and the backend agree
    if (end == std::string_view::npos) break;
    start = end + 1;
  }
}

void fuzz_command_line(std::string_view text) {
  const auto translated = translate_slirp4netns_command_line(fuzz::split_lines(text));
  using Action = Slirp4netnsTranslation::Action;
  if (translated.action == Action::print_and_exit && translated.message.empty()) std::abort();
  if (translated.action == Action::fail && translated.message.empty() && !translated.show_usage) std::abort();
  if (translated.action == Action::run && translated.args.empty()) std::abort();
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  static const bool quiet = [] {
    spdlog::set_level(spdlog::level::off);  // a refused forward's warning on every input would drown the fuzzer
    return true;
  }();
  (void)quiet;
  if (size == 0) return 0;
  const std::string_view text(reinterpret_cast<const char*>(data) + 1, size - 1);
  if (data[0] % 2 == 0) fuzz_api(text);
  else fuzz_command_line(text);
  return 0;
}
