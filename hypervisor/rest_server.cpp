#include "hypervisor/rest_server.hpp"

#include <boost/beast/http.hpp>
#include <sys/stat.h>
#include <unistd.h>

#include "netstack/base/owner_only_bind.hpp"
#include "netstack/base/uv_handles.hpp"

namespace usernet {

namespace http = boost::beast::http;

namespace {

constexpr std::size_t kHeaderLimit = 8192;
constexpr std::size_t kBodyLimit = std::size_t{64} * 1024;  // state changes are tiny
constexpr std::uint64_t kRequestTimeoutMs = 10000;

/// Reason phrases for the statuses the API uses.
const char* reason_for(unsigned status) {
  switch (status) {
    case 200: return "OK";
    case 202: return "Accepted";
    case 400: return "Bad Request";
    case 404: return "Not Found";
    case 405: return "Method Not Allowed";
    case 409: return "Conflict";
    case 500: return "Internal Server Error";
    default: return "Unknown";
  }
}

}  // namespace

std::string serialize_rest_response(const RestResponse& response) {
  std::string out = "HTTP/1.1 " + std::to_string(response.status) + " " + reason_for(response.status) + "\r\n";
  out += "Content-Type: " + response.content_type + "\r\n";
  out += "Content-Length: " + std::to_string(response.body.size()) + "\r\n";
  out += "Connection: close\r\n\r\n";
  out += response.body;
  return out;
}

/// One client: read a request, answer it, close. Deletes itself once its handle closed.
class RestServer::Connection {
 public:
  Connection(RestServer& server, uv_stream_t* stream)
      : server_(&server), stream_(stream), deadline_(server.loop_, [this] { close(); }) {
    stream_->data = this;
    parser_.header_limit(kHeaderLimit);
    parser_.body_limit(kBodyLimit);
    parser_.eager(true);
    server_->connections_.insert(this);
    deadline_.start(kRequestTimeoutMs);
    uv_read_start(stream_, &Connection::on_alloc, &Connection::on_read);
  }

  /// Stops reading and closes the handle; the close callback deletes the connection.
  void close() {
    if (closing_) return;
    closing_ = true;
    deadline_.stop();
    if (server_ != nullptr) server_->connections_.erase(this);
    server_ = nullptr;
    uv_close(reinterpret_cast<uv_handle_t*>(stream_), [](uv_handle_t* handle) {
      auto* self = static_cast<Connection*>(handle->data);
      delete reinterpret_cast<uv_any_handle*>(handle);
      delete self;
    });
  }

 private:
  struct WriteRequest {
    uv_write_t request;
    std::string bytes;
    Connection* connection;
  };

  static void on_alloc(uv_handle_t* handle, std::size_t, uv_buf_t* buf) {
    auto* self = static_cast<Connection*>(handle->data);
    *buf = uv_buf_init(self->buffer_, sizeof self->buffer_);
  }

  static void on_read(uv_stream_t* stream, ssize_t nread, const uv_buf_t* buf) {
    auto* self = static_cast<Connection*>(stream->data);
    if (nread < 0) {
      self->close();
      return;
    }
    self->input_.append(buf->base, static_cast<std::size_t>(nread));
    self->parse();
  }

  /// Feeds buffered bytes to the parser; answers once the request is complete.
  void parse() {
    boost::beast::error_code error;
    while (!input_.empty() && !parser_.is_done()) {
      const std::size_t used = parser_.put(boost::asio::buffer(input_.data(), input_.size()), error);
      input_.erase(0, used);
      if (error == http::error::need_more) return;
      if (error) {
        respond(RestResponse{400, "text/plain", "bad request: " + error.message() + "\n"});
        return;
      }
      if (used == 0) return;
    }
    if (!parser_.is_done()) return;
    const auto& message = parser_.get();
    RestRequest request;
    request.method = std::string(message.method_string());
    request.target = std::string(message.target());
    request.body = message.body();
    respond(server_ != nullptr ? server_->handler_(request) : RestResponse{500, "text/plain", "shutting down\n"});
  }

  /// Writes the response, then closes.
  void respond(const RestResponse& response) {
    uv_read_stop(stream_);
    auto* write = new WriteRequest{{}, serialize_rest_response(response), this};
    write->request.data = write;
    uv_buf_t buf = uv_buf_init(write->bytes.data(), static_cast<unsigned>(write->bytes.size()));
    const int rc = uv_write(&write->request, stream_, &buf, 1, [](uv_write_t* request, int) {
      auto* done = static_cast<WriteRequest*>(request->data);
      done->connection->close();
      delete done;
    });
    if (rc != 0) {
      delete write;
      close();
    }
  }

  RestServer* server_;
  uv_stream_t* stream_;
  Timer deadline_;
  http::request_parser<http::string_body> parser_;
  std::string input_;
  bool closing_ = false;
  char buffer_[4096];
};

RestServer::RestServer(uv_loop_t* loop, Handler handler) : loop_(loop), handler_(std::move(handler)) {}

RestServer::~RestServer() {
  for (Connection* connection : std::set<Connection*>(connections_)) connection->close();
  if (listener_ != nullptr) {
    uv_close(reinterpret_cast<uv_handle_t*>(listener_),
             [](uv_handle_t* handle) { delete reinterpret_cast<uv_any_handle*>(handle); });
  }
  if (!unix_path_.empty()) ::unlink(unix_path_.c_str());
}

Status RestServer::listen(const RestEndpoint& endpoint) {
  auto* handle = new uv_any_handle;
  int rc = 0;
  if (endpoint.kind == RestEndpoint::Kind::unix_socket) {
    uv_pipe_init(loop_, &handle->pipe, 0);
    ::unlink(endpoint.path.c_str());
    // Bind with a 0600 socket: only our user may drive the VM.
    rc = with_owner_only_umask([&] { return uv_pipe_bind(&handle->pipe, endpoint.path.c_str()); });
    if (rc == 0) unix_path_ = endpoint.path;
  } else if (endpoint.kind == RestEndpoint::Kind::tcp) {
    uv_tcp_init(loop_, &handle->tcp);
    sockaddr_in address{};
    rc = uv_ip4_addr(endpoint.host.c_str(), endpoint.port, &address);
    if (rc == 0) rc = uv_tcp_bind(&handle->tcp, reinterpret_cast<const sockaddr*>(&address), 0);
  } else {
    delete handle;
    return {};
  }
  listener_ = reinterpret_cast<uv_stream_t*>(handle);
  listener_->data = this;
  if (rc == 0) rc = uv_listen(listener_, 16, &RestServer::on_connection);
  if (rc != 0) return Error{std::string("REST API: cannot listen: ") + uv_strerror(rc)};
  return {};
}

int RestServer::tcp_port() const {
  if (listener_ == nullptr || listener_->type != UV_TCP) return 0;
  sockaddr_storage address{};
  int length = sizeof address;
  if (uv_tcp_getsockname(reinterpret_cast<const uv_tcp_t*>(listener_), reinterpret_cast<sockaddr*>(&address),
                         &length) != 0) {
    return 0;
  }
  return ntohs(reinterpret_cast<const sockaddr_in*>(&address)->sin_port);
}

void RestServer::on_connection(uv_stream_t* listener, int status) {
  auto* self = static_cast<RestServer*>(listener->data);
  if (status < 0) return;
  auto* client = new uv_any_handle;
  if (listener->type == UV_TCP) {
    uv_tcp_init(self->loop_, &client->tcp);
  } else {
    uv_pipe_init(self->loop_, &client->pipe, 0);
  }
  auto* stream = reinterpret_cast<uv_stream_t*>(client);
  if (uv_accept(listener, stream) != 0) {
    uv_close(reinterpret_cast<uv_handle_t*>(client),
             [](uv_handle_t* handle) { delete reinterpret_cast<uv_any_handle*>(handle); });
    return;
  }
  new Connection(*self, stream);  // owns itself; the server closes it on shutdown
}

}  // namespace usernet
