#include "hypervisor/qmp_client.hpp"

#include <unistd.h>

#include "netstack/base/uv_handles.hpp"

namespace usernet {

namespace {

/// A write request that owns its bytes until libuv is done with them.
struct WriteRequest {
  uv_write_t request;
  std::string bytes;
};

}  // namespace

QmpClient::QmpClient(uv_loop_t* loop, Callbacks callbacks)
    : loop_(loop), callbacks_(std::move(callbacks)), retry_timer_(loop, [this] { start_connect(); }) {}

QmpClient::~QmpClient() { close(); }

void QmpClient::connect(const std::string& path, std::uint64_t timeout_ms) {
  close();
  path_ = path;
  deadline_ = uv_now(loop_) + timeout_ms;
  start_connect();
}

void QmpClient::start_connect() {
  pipe_ = new uv_pipe_t;
  uv_pipe_init(loop_, pipe_, 0);
  pipe_->data = this;
  auto* request = new uv_connect_t;
  request->data = this;
  uv_pipe_connect(request, pipe_, path_.c_str(), &QmpClient::on_connect);
}

void QmpClient::on_connect(uv_connect_t* request, int status) {
  // The pipe's data is cleared when the client closed it meanwhile.
  auto* self = static_cast<QmpClient*>(request->handle->data);
  delete request;
  if (self == nullptr) return;
  if (status == 0) {
    self->start_reading();
    return;
  }
  self->release_pipe();
  const bool retryable = status == UV_ENOENT || status == UV_ECONNREFUSED || status == UV_EAGAIN;
  if (!retryable || uv_now(self->loop_) >= self->deadline_) {
    self->fail("cannot connect to QMP socket " + self->path_ + ": " + uv_strerror(status));
    return;
  }
  self->retry_timer_.start(20);
}

void QmpClient::open(int fd) {
  close();
  pipe_ = new uv_pipe_t;
  uv_pipe_init(loop_, pipe_, 0);
  pipe_->data = this;
  const int status = uv_pipe_open(pipe_, fd);
  if (status != 0) {
    ::close(fd);
    fail(std::string("cannot use QMP fd: ") + uv_strerror(status));
    return;
  }
  start_reading();
}

void QmpClient::start_reading() {
  const int status = uv_read_start(reinterpret_cast<uv_stream_t*>(pipe_), &QmpClient::on_alloc, &QmpClient::on_read);
  if (status != 0) fail(std::string("cannot read QMP socket: ") + uv_strerror(status));
}

void QmpClient::on_alloc(uv_handle_t* handle, std::size_t, uv_buf_t* buf) {
  auto* self = static_cast<QmpClient*>(handle->data);
  if (self == nullptr) {
    *buf = uv_buf_init(nullptr, 0);
    return;
  }
  *buf = uv_buf_init(self->read_buffer_, sizeof self->read_buffer_);
}

void QmpClient::on_read(uv_stream_t* stream, ssize_t nread, const uv_buf_t* buf) {
  auto* self = static_cast<QmpClient*>(stream->data);
  if (self == nullptr || nread == 0) return;
  if (nread < 0) {
    self->fail(nread == UV_EOF ? "QMP connection closed by QEMU"
                               : std::string("QMP read error: ") + uv_strerror(static_cast<int>(nread)));
    return;
  }
  const auto lines = self->splitter_.feed(std::string_view(buf->base, static_cast<std::size_t>(nread)));
  if (self->splitter_.overflowed()) {
    self->fail("QMP message too long");
    return;
  }
  for (const auto& line : lines) {
    self->handle_line(line);
    if (self->pipe_ == nullptr) return;  // a callback closed or failed the client
  }
}

void QmpClient::handle_line(const std::string& line) {
  const QmpMessage message = parse_qmp_message(line);
  switch (message.kind) {
    case QmpMessageKind::greeting:
      if (greeted_) return;
      greeted_ = true;
      capabilities_id_ = next_id_++;
      send_now(format_qmp_command("qmp_capabilities", capabilities_id_));
      return;
    case QmpMessageKind::result:
    case QmpMessageKind::error: {
      if (!message.id) return;
      if (*message.id == capabilities_id_ && !ready_) {
        if (message.kind == QmpMessageKind::error) {
          fail("qmp_capabilities failed: " + message.error_description);
          return;
        }
        ready_ = true;
        while (!queued_.empty()) {
          auto [id, pending] = std::move(queued_.front());
          queued_.pop_front();
          awaiting_[id] = std::move(pending.reply);
          send_now(pending.bytes);
        }
        if (callbacks_.on_ready) callbacks_.on_ready();
        return;
      }
      const auto it = awaiting_.find(*message.id);
      if (it == awaiting_.end()) return;
      ReplyHandler reply = std::move(it->second);
      awaiting_.erase(it);
      if (reply) reply(message);
      return;
    }
    case QmpMessageKind::event:
      if (callbacks_.on_event) callbacks_.on_event(message);
      return;
    case QmpMessageKind::invalid:
      return;  // ignore what we do not understand; QMP may grow new message kinds
  }
}

std::uint64_t QmpClient::execute(const std::string& command, const nlohmann::json& arguments, ReplyHandler reply) {
  const std::uint64_t id = next_id_++;
  std::string bytes = format_qmp_command(command, id, arguments);
  if (!ready_) {
    queued_.emplace_back(id, Pending{std::move(bytes), std::move(reply)});
    return id;
  }
  awaiting_[id] = std::move(reply);
  send_now(bytes);
  return id;
}

void QmpClient::send_now(const std::string& bytes) {
  if (pipe_ == nullptr) return;
  auto* write = new WriteRequest{{}, bytes};
  write->request.data = write;
  const uv_buf_t buf = uv_buf_init(write->bytes.data(), static_cast<unsigned>(write->bytes.size()));
  const int status = uv_write(&write->request, reinterpret_cast<uv_stream_t*>(pipe_), &buf, 1,
                              [](uv_write_t* request, int) { delete static_cast<WriteRequest*>(request->data); });
  if (status != 0) {
    delete write;
    fail(std::string("QMP write error: ") + uv_strerror(status));
  }
}

void QmpClient::fail(const std::string& why) {
  close();
  if (callbacks_.on_closed) callbacks_.on_closed(why);
}

void QmpClient::release_pipe() {
  if (pipe_ == nullptr) return;
  close_and_free(pipe_);  // callbacks still queued see data == nullptr
  pipe_ = nullptr;
}

void QmpClient::close() {
  release_pipe();
  retry_timer_.stop();
  splitter_ = QmpLineSplitter();
  greeted_ = ready_ = false;
  queued_.clear();
  awaiting_.clear();
}

}  // namespace usernet
