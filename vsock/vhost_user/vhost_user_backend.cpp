// vhost-user back-end state machine; see vhost_user_backend.hpp.
#include "vsock/vhost_user/vhost_user_backend.hpp"

#include <sys/mman.h>
#include <unistd.h>

#include <cerrno>
#include <limits>

namespace usernet::vhost {

namespace {
constexpr std::uint64_t kTransportFeatures = feature_mask(FeatureBit::version_1) |
                                             feature_mask(FeatureBit::ring_event_idx) |
                                             feature_mask(FeatureBit::protocol_features);

// Closes every descriptor of a message that the request does not consume.
void close_all(std::vector<int>& fds) {
  for (int& fd : fds) close_fd(fd);
  fds.clear();
}

// A request that has no reply of its own: nothing to send on success.
Result<std::vector<std::uint8_t>> no_reply(const Status& status) {
  if (!status) return Error{status.error()};
  return std::vector<std::uint8_t>{};
}

// Maps one region's fd (the region starts mmap_offset bytes into it).
Result<GuestRegion> map_region(const MemoryRegionDescription& d, int fd) {
  if (d.size == 0 || d.mmap_offset > std::numeric_limits<std::uint64_t>::max() - d.size)
    return Error{"memory region size/offset invalid"};
  const std::uint64_t length = d.mmap_offset + d.size;
  void* base = mmap(nullptr, length, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
  if (base == MAP_FAILED) return Error{"mmap of guest memory failed: errno " + std::to_string(errno)};
  auto keepalive = std::shared_ptr<void>(base, [length](void* p) { munmap(p, length); });
  auto* bytes = static_cast<std::uint8_t*>(base) + d.mmap_offset;
  return GuestRegion{d, std::span<std::uint8_t>(bytes, d.size), std::move(keepalive)};
}
}  // namespace

void close_fd(int& fd) {
  if (fd >= 0) ::close(fd);
  fd = -1;
}

Backend::Backend(DeviceModel& model, KickWatcher& kicks)
    : model_(model), kicks_(kicks), vrings_(model.queue_count()) {}

// Only releases descriptors: the model and the kick watcher may already be gone.
Backend::~Backend() {
  for (auto& v : vrings_) {
    v.queue.reset();
    close_fd(v.kick_fd);
    close_fd(v.call_fd);
    close_fd(v.err_fd);
  }
}

std::uint64_t Backend::offered_features() const {
  return kTransportFeatures | model_.device_features();
}

std::uint64_t Backend::offered_protocol_features() {
  return feature_mask(ProtocolFeatureBit::reply_ack) | feature_mask(ProtocolFeatureBit::config);
}

bool Backend::running(std::uint32_t index) const {
  return index < vrings_.size() && vrings_[index].queue.has_value();
}

// Everything back to the state of a fresh connection.
void Backend::reset() {
  for (std::uint32_t i = 0; i < vrings_.size(); ++i) {
    stop(i);
    Vring& v = vrings_[i];
    kicks_.watch_kick(i, -1);
    close_fd(v.kick_fd);
    close_fd(v.call_fd);
    close_fd(v.err_fd);
    v = Vring{};
  }
  memory_ = GuestMemory{};
  acked_features_ = 0;
  acked_protocol_features_ = 0;
}

// Header check, dispatch, then the REPLY_ACK answer if asked for and no other reply exists.
Backend::Outcome Backend::handle(IncomingMessage m) {
  Outcome out;
  out.status = validate_header(m.header);
  if (out.status && m.payload.size() != m.header.size) out.status = Error{"payload size mismatch"};
  if (!out.status) {
    out.fatal = true;
    close_all(m.fds);
    return out;
  }
  auto handled = dispatch(m);
  close_all(m.fds);  // whatever dispatch did not take
  if (handled) {
    out.reply = std::move(*handled);
  } else {
    out.status = Error{handled.error()};
  }
  const bool ack_wanted =
      (m.header.flags & static_cast<std::uint32_t>(HeaderFlag::need_reply)) != 0 &&
      (acked_protocol_features_ & feature_mask(ProtocolFeatureBit::reply_ack)) != 0;
  if (out.reply.empty() && ack_wanted) {
    out.reply = encode_u64_reply(static_cast<Request>(m.header.request), out.status ? 0 : 1);
  }
  return out;
}

Result<Backend::Vring*> Backend::vring_for(std::uint32_t index) {
  if (index >= vrings_.size()) return Error{"vring index " + std::to_string(index) + " out of range"};
  return &vrings_[index];
}

Result<std::vector<std::uint8_t>> Backend::dispatch(IncomingMessage& m) {
  using Reply = std::vector<std::uint8_t>;
  const auto request = static_cast<Request>(m.header.request);
  switch (request) {
    case Request::get_features:
      return encode_u64_reply(request, offered_features());
    case Request::set_features: {
      const auto features = decode_u64(m.payload);
      if (!features || (*features & ~offered_features()) != 0) return Error{"SET_FEATURES with unoffered bits"};
      acked_features_ = *features;
      return Reply{};
    }
    case Request::get_protocol_features:
      return encode_u64_reply(request, offered_protocol_features());
    case Request::set_protocol_features: {
      const auto features = decode_u64(m.payload);
      if (!features || (*features & ~offered_protocol_features()) != 0)
        return Error{"SET_PROTOCOL_FEATURES with unoffered bits"};
      acked_protocol_features_ = *features;
      return Reply{};
    }
    case Request::get_queue_num:
      return encode_u64_reply(request, vrings_.size());
    case Request::set_owner:
      return Reply{};
    case Request::reset_owner:
    case Request::reset_device:
      reset();
      return Reply{};
    case Request::set_mem_table:
      return no_reply(set_mem_table(m));
    case Request::set_vring_num:
    case Request::set_vring_base:
    case Request::get_vring_base:
    case Request::set_vring_enable:
      return vring_state_request(request, m);
    case Request::set_vring_addr:
      return set_vring_address(m);
    case Request::set_vring_kick:
    case Request::set_vring_call:
    case Request::set_vring_err:
      return no_reply(set_vring_fd(m));
    case Request::get_config:
      return get_config(m);
    case Request::set_config:
      return Reply{};  // vsock config space is read-only; accept and ignore
    case Request::set_log_base:
    case Request::set_log_fd:
    case Request::set_backend_req_fd:
    case Request::get_max_mem_slots:
    case Request::set_status:
    case Request::get_status:
      break;
  }
  return Error{"unsupported request " + request_name(m.header.request)};
}

Result<std::vector<std::uint8_t>> Backend::vring_state_request(Request request, IncomingMessage& m) {
  using Reply = std::vector<std::uint8_t>;
  const auto state = decode_vring_state(m.payload);
  if (!state) return Error{"bad " + request_name(m.header.request)};
  const auto found = vring_for(state->index);
  if (!found) return Error{found.error()};
  Vring* v = *found;
  switch (request) {
    case Request::set_vring_num:
      if (state->num == 0 || state->num > SplitVirtqueue::kMaxSize || (state->num & (state->num - 1)) != 0)
        return Error{"vring size " + std::to_string(state->num) + " invalid"};
      v->size = static_cast<std::uint16_t>(state->num);
      return Reply{};
    case Request::set_vring_base:
      v->base = static_cast<std::uint16_t>(state->num);
      return Reply{};
    case Request::get_vring_base: {
      const std::uint16_t base = v->queue ? v->queue->next_available() : v->base;
      stop(state->index);  // the spec: GET_VRING_BASE stops the ring
      kicks_.watch_kick(state->index, -1);
      close_fd(v->kick_fd);
      v->base = base;
      return encode_vring_state_reply(request, {state->index, base});
    }
    case Request::set_vring_enable:
      v->enabled = state->num != 0;
      if (v->enabled) {
        try_start(state->index);
      } else {
        stop(state->index);
      }
      return Reply{};
    default:
      return Error{"unsupported request " + request_name(m.header.request)};
  }
}

Result<std::vector<std::uint8_t>> Backend::set_vring_address(IncomingMessage& m) {
  const auto address = decode_vring_address(m.payload);
  if (!address) return Error{"bad SET_VRING_ADDR"};
  const auto found = vring_for(address->index);
  if (!found) return Error{found.error()};
  (*found)->address = *address;
  try_start(address->index);
  return std::vector<std::uint8_t>{};
}

Result<std::vector<std::uint8_t>> Backend::get_config(IncomingMessage& m) {
  auto access = decode_config(m.payload);
  if (!access) return Error{"bad GET_CONFIG"};
  const auto space = model_.config_space();
  if (access->offset > space.size() || access->size > space.size() - access->offset)
    return Error{"GET_CONFIG outside the config space"};
  access->data.assign(space.begin() + access->offset, space.begin() + access->offset + access->size);
  return encode_config_reply(*access);
}

// Replaces the memory table; running queues are restarted on the new mappings.
Status Backend::set_mem_table(IncomingMessage& m) {
  const auto regions = decode_memory_table(m.payload);
  if (!regions || regions->size() != m.fds.size()) return Error{"SET_MEM_TABLE needs one fd per region"};
  std::vector<GuestRegion> mapped;
  for (std::size_t i = 0; i < regions->size(); ++i) {
    auto region = map_region((*regions)[i], m.fds[i]);
    if (!region) return Error{region.error()};
    mapped.push_back(std::move(*region));
  }
  auto memory = GuestMemory::create(std::move(mapped));
  if (!memory) return Error{memory.error()};
  std::vector<bool> was_running;
  for (std::uint32_t i = 0; i < vrings_.size(); ++i) {
    was_running.push_back(running(i));
    stop(i);
  }
  memory_ = std::move(*memory);
  for (std::uint32_t i = 0; i < vrings_.size(); ++i) {
    if (was_running[i]) try_start(i);
  }
  return {};
}

// KICK/CALL/ERR: u64 with the index in the low byte and bit 8 meaning "no fd".
Status Backend::set_vring_fd(IncomingMessage& m) {
  const auto value = decode_u64(m.payload);
  if (!value) return Error{"bad vring fd message"};
  const auto index = static_cast<std::uint32_t>(*value & kVringIndexMask);
  const auto found = vring_for(index);
  if (!found) return Error{found.error()};
  Vring* v = *found;
  const bool no_fd = (*value & kVringNoFdFlag) != 0;
  if (no_fd != m.fds.empty() || m.fds.size() > 1)
    return Error{"vring fd message with " + std::to_string(m.fds.size()) + " fds"};
  int fd = no_fd ? -1 : m.fds[0];
  m.fds.clear();
  switch (static_cast<Request>(m.header.request)) {
    case Request::set_vring_kick:
      stop(index);
      kicks_.watch_kick(index, -1);  // stop polling before the old fd is closed
      close_fd(v->kick_fd);
      v->kick_fd = fd;
      kicks_.watch_kick(index, fd);
      // Without protocol features a ring is enabled as soon as it has a kick fd.
      if ((acked_features_ & feature_mask(FeatureBit::protocol_features)) == 0 &&
          acked_protocol_features_ == 0) {
        v->enabled = true;
      }
      try_start(index);
      return {};
    case Request::set_vring_call:
      close_fd(v->call_fd);
      v->call_fd = fd;
      return {};
    default:
      close_fd(v->err_fd);
      v->err_fd = fd;
      return {};
  }
}

// A queue runs once it has memory, size, addresses, a kick fd and is enabled.
void Backend::try_start(std::uint32_t index) {
  Vring& v = vrings_[index];
  if (v.queue || !v.enabled || v.size == 0 || !v.address || v.kick_fd < 0 || memory_.empty()) {
    return;
  }
  const auto& a = *v.address;
  const auto descriptors =
      memory_.translate_user(a.descriptor_table, SplitVirtqueue::descriptor_table_bytes(v.size));
  const auto available =
      memory_.translate_user(a.available_ring, SplitVirtqueue::available_ring_bytes(v.size));
  const auto used = memory_.translate_user(a.used_ring, SplitVirtqueue::used_ring_bytes(v.size));
  if (!descriptors || !available || !used) return;  // stays stopped; nothing is touched
  const bool event_idx = (acked_features_ & feature_mask(FeatureBit::ring_event_idx)) != 0;
  auto queue = SplitVirtqueue::create(memory_, v.size, {*descriptors, *available, *used}, event_idx, v.base);
  if (!queue) return;  // bad geometry: stays stopped
  v.queue = std::move(*queue);
  publish_queues();
}

void Backend::stop(std::uint32_t index) {
  Vring& v = vrings_[index];
  if (!v.queue) return;
  v.base = v.queue->next_available();
  if (published_) {
    published_ = false;
    model_.queues_changed({});
  }
  v.queue.reset();
}

// Tells the model once every queue runs.
void Backend::publish_queues() {
  std::vector<SplitVirtqueue*> queues;
  for (auto& v : vrings_) {
    if (!v.queue) return;
    queues.push_back(&*v.queue);
  }
  published_ = true;
  model_.queues_changed(queues);
}

void Backend::kicked(std::uint32_t index) {
  if (running(index) && published_) model_.queue_kicked(index);
}

// eventfd write of 1; EAGAIN (counter saturated) means the guest is already signalled.
void Backend::notify(std::uint32_t index) {
  if (index >= vrings_.size() || vrings_[index].call_fd < 0) return;
  const std::uint64_t one = 1;
  [[maybe_unused]] const auto n = ::write(vrings_[index].call_fd, &one, sizeof(one));
}

}  // namespace usernet::vhost
