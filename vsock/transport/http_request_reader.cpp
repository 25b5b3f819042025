#include "vsock/transport/http_request_reader.hpp"

#include <boost/beast/http/parser.hpp>
#include <boost/beast/http/string_body.hpp>
#include <boost/beast/http/write.hpp>
#include <sstream>

namespace usernet {

namespace http = boost::beast::http;

struct HttpRequestReader::Parser {
  http::request_parser<http::string_body> impl;
};

HttpRequestReader::HttpRequestReader(std::size_t header_limit, std::size_t body_limit)
    : parser_(std::make_unique<Parser>()) {
  parser_->impl.header_limit(static_cast<std::uint32_t>(header_limit));
  parser_->impl.body_limit(body_limit);
  parser_->impl.eager(false);  // stop after the headers: /connect must not eat frames
}

HttpRequestReader::~HttpRequestReader() = default;

bool http_target_is(std::string_view target, std::string_view path) {
  return target.substr(0, target.find('?')) == path;
}

HttpRequestReader::Status HttpRequestReader::feed(ByteSpan bytes) {
  buffer_.insert(buffer_.end(), bytes.begin(), bytes.end());
  if (status_ != Status::need_more) return status_;
  auto& parser = parser_->impl;
  while (parsed_ < buffer_.size()) {
    boost::beast::error_code ec;
    const std::size_t used =
        parser.put(boost::asio::const_buffer(buffer_.data() + parsed_, buffer_.size() - parsed_), ec);
    parsed_ += used;
    if (ec == http::error::need_more) break;
    if (ec) {
      error_ = ec.message();
      return status_ = Status::error;
    }
    if (parser.is_header_done()) {
      const auto& header = parser.get();
      if (header.method() == http::verb::post &&
          is_connect_target(std::string_view(header.target().data(), header.target().size()))) {
        finish_request(true);
        return status_ = Status::connect;
      }
    }
    if (parser.is_done()) {
      finish_request(false);
      return status_ = Status::request;
    }
    if (used == 0) break;
  }
  return status_;
}

bool HttpRequestReader::is_connect_target(std::string_view target) const {
  return http_target_is(target, "/connect") ||
         (!connect_alias_.empty() && http_target_is(target, connect_alias_));
}

void HttpRequestReader::finish_request(bool headers_only) {
  const auto& message = parser_->impl.get();
  request_.method = std::string(message.method_string());
  request_.target = std::string(message.target());
  for (const auto& field : message)
    request_.headers.emplace_back(std::string(field.name_string()), std::string(field.value()));
  if (!headers_only) request_.body = message.body();
}

ByteSpan HttpRequestReader::leftover() const {
  return ByteSpan(buffer_).subspan(std::min(parsed_, buffer_.size()));
}

std::string serialize_http_response(const HttpResponse& response) {
  http::response<http::string_body> message;
  message.version(11);
  message.result(response.status);
  message.set(http::field::content_type, response.content_type);
  message.set(http::field::connection, "close");
  message.body() = response.body;
  message.prepare_payload();
  std::ostringstream out;
  out << message;
  return out.str();
}

}  // namespace usernet
