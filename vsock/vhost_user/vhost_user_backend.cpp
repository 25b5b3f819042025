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

// Maps one region's fd (the region starts mmap_offset bytes into it).
std::optional<GuestRegion> map_region(const MemoryRegionDescription& d, int fd,
                                      std::string& error) {
  if (d.size == 0 || d.mmap_offset > std::numeric_limits<std::uint64_t>::max() - d.size) {
    error = "memory region size/offset invalid";
    return std::nullopt;
  }
  const std::uint64_t length = d.mmap_offset + d.size;
  void* base = mmap(nullptr, length, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
  if (base == MAP_FAILED) {
    error = "mmap of guest memory failed: errno " + std::to_string(errno);
    return std::nullopt;
  }
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
  out.error = validate_header(m.header);
  if (!out.error.empty() || m.payload.size() != m.header.size) {
    if (out.error.empty()) out.error = "payload size mismatch";
    out.fatal = true;
    close_all(m.fds);
    return out;
  }
  auto& reply = out.reply;
  const bool ok = dispatch(m, reply, out.error);
  close_all(m.fds);  // whatever dispatch did not take
  const bool ack_wanted =
      (m.header.flags & static_cast<std::uint32_t>(HeaderFlag::need_reply)) != 0 &&
      (acked_protocol_features_ & feature_mask(ProtocolFeatureBit::reply_ack)) != 0;
  if (reply.empty() && ack_wanted) {
    reply = encode_u64_reply(static_cast<Request>(m.header.request), ok ? 0 : 1);
  }
  return out;
}

Backend::Vring* Backend::vring_for(std::uint32_t index, std::string& error) {
  if (index >= vrings_.size()) {
    error = "vring index " + std::to_string(index) + " out of range";
    return nullptr;
  }
  return &vrings_[index];
}

bool Backend::dispatch(IncomingMessage& m, std::vector<std::uint8_t>& reply, std::string& error) {
  const auto request = static_cast<Request>(m.header.request);
  switch (request) {
    case Request::get_features:
      reply = encode_u64_reply(request, offered_features());
      return true;
    case Request::set_features: {
      const auto features = decode_u64(m.payload);
      if (!features || (*features & ~offered_features()) != 0) {
        error = "SET_FEATURES with unoffered bits";
        return false;
      }
      acked_features_ = *features;
      return true;
    }
    case Request::get_protocol_features:
      reply = encode_u64_reply(request, offered_protocol_features());
      return true;
    case Request::set_protocol_features: {
      const auto features = decode_u64(m.payload);
      if (!features || (*features & ~offered_protocol_features()) != 0) {
        error = "SET_PROTOCOL_FEATURES with unoffered bits";
        return false;
      }
      acked_protocol_features_ = *features;
      return true;
    }
    case Request::get_queue_num:
      reply = encode_u64_reply(request, vrings_.size());
      return true;
    case Request::set_owner:
      return true;
    case Request::reset_owner:
    case Request::reset_device:
      reset();
      return true;
    case Request::set_mem_table:
      return set_mem_table(m, error);
    case Request::set_vring_num: {
      const auto state = decode_vring_state(m.payload);
      if (!state) return error = "bad SET_VRING_NUM", false;
      Vring* v = vring_for(state->index, error);
      if (!v) return false;
      if (state->num == 0 || state->num > SplitVirtqueue::kMaxSize ||
          (state->num & (state->num - 1)) != 0) {
        error = "vring size " + std::to_string(state->num) + " invalid";
        return false;
      }
      v->size = static_cast<std::uint16_t>(state->num);
      return true;
    }
    case Request::set_vring_addr: {
      const auto address = decode_vring_address(m.payload);
      if (!address) return error = "bad SET_VRING_ADDR", false;
      Vring* v = vring_for(address->index, error);
      if (!v) return false;
      v->address = *address;
      try_start(address->index);
      return true;
    }
    case Request::set_vring_base: {
      const auto state = decode_vring_state(m.payload);
      if (!state) return error = "bad SET_VRING_BASE", false;
      Vring* v = vring_for(state->index, error);
      if (!v) return false;
      v->base = static_cast<std::uint16_t>(state->num);
      return true;
    }
    case Request::get_vring_base: {
      const auto state = decode_vring_state(m.payload);
      if (!state) return error = "bad GET_VRING_BASE", false;
      Vring* v = vring_for(state->index, error);
      if (!v) return false;
      const std::uint16_t base = v->queue ? v->queue->next_available() : v->base;
      stop(state->index);  // the spec: GET_VRING_BASE stops the ring
      kicks_.watch_kick(state->index, -1);
      close_fd(v->kick_fd);
      v->base = base;
      reply = encode_vring_state_reply(request, {state->index, base});
      return true;
    }
    case Request::set_vring_kick:
    case Request::set_vring_call:
    case Request::set_vring_err:
      return set_vring_fd(m, error);
    case Request::set_vring_enable: {
      const auto state = decode_vring_state(m.payload);
      if (!state) return error = "bad SET_VRING_ENABLE", false;
      Vring* v = vring_for(state->index, error);
      if (!v) return false;
      v->enabled = state->num != 0;
      if (v->enabled) {
        try_start(state->index);
      } else {
        stop(state->index);
      }
      return true;
    }
    case Request::get_config: {
      auto access = decode_config(m.payload);
      if (!access) return error = "bad GET_CONFIG", false;
      const auto space = model_.config_space();
      if (access->offset > space.size() || access->size > space.size() - access->offset) {
        error = "GET_CONFIG outside the config space";
        return false;
      }
      access->data.assign(space.begin() + access->offset,
                          space.begin() + access->offset + access->size);
      reply = encode_config_reply(*access);
      return true;
    }
    case Request::set_config:
      return true;  // vsock config space is read-only; accept and ignore
    case Request::set_log_base:
    case Request::set_log_fd:
    case Request::set_backend_req_fd:
    case Request::get_max_mem_slots:
    case Request::set_status:
    case Request::get_status:
      break;
  }
  error = "unsupported request " + request_name(m.header.request);
  return false;
}

// Replaces the memory table; running queues are restarted on the new mappings.
bool Backend::set_mem_table(IncomingMessage& m, std::string& error) {
  const auto regions = decode_memory_table(m.payload);
  if (!regions || regions->size() != m.fds.size()) {
    error = "SET_MEM_TABLE needs one fd per region";
    return false;
  }
  std::vector<GuestRegion> mapped;
  for (std::size_t i = 0; i < regions->size(); ++i) {
    auto region = map_region((*regions)[i], m.fds[i], error);
    if (!region) return false;
    mapped.push_back(std::move(*region));
  }
  auto memory = GuestMemory::create(std::move(mapped), error);
  if (!memory) return false;
  std::vector<bool> was_running;
  for (std::uint32_t i = 0; i < vrings_.size(); ++i) {
    was_running.push_back(running(i));
    stop(i);
  }
  memory_ = std::move(*memory);
  for (std::uint32_t i = 0; i < vrings_.size(); ++i) {
    if (was_running[i]) try_start(i);
  }
  return true;
}

// KICK/CALL/ERR: u64 with the index in the low byte and bit 8 meaning "no fd".
bool Backend::set_vring_fd(IncomingMessage& m, std::string& error) {
  const auto value = decode_u64(m.payload);
  if (!value) return error = "bad vring fd message", false;
  const auto index = static_cast<std::uint32_t>(*value & kVringIndexMask);
  Vring* v = vring_for(index, error);
  if (!v) return false;
  const bool no_fd = (*value & kVringNoFdFlag) != 0;
  if (no_fd != m.fds.empty() || m.fds.size() > 1) {
    error = "vring fd message with " + std::to_string(m.fds.size()) + " fds";
    return false;
  }
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
      return true;
    case Request::set_vring_call:
      close_fd(v->call_fd);
      v->call_fd = fd;
      return true;
    default:
      close_fd(v->err_fd);
      v->err_fd = fd;
      return true;
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
  std::string error;
  const bool event_idx = (acked_features_ & feature_mask(FeatureBit::ring_event_idx)) != 0;
  v.queue = SplitVirtqueue::create(memory_, v.size, {*descriptors, *available, *used}, event_idx,
                                   v.base, error);
  if (v.queue) publish_queues();
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
