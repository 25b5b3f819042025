#include "netstack/base/end_of_turn.hpp"

#include "netstack/base/uv_handles.hpp"

namespace usernet {

EndOfTurn::EndOfTurn(uv_loop_t* loop) : handle_(new uv_check_t) {
  uv_check_init(loop, handle_);
  handle_->data = this;
  uv_check_start(handle_, [](uv_check_t* h) {
    if (auto* self = static_cast<EndOfTurn*>(h->data)) self->run();
  });
  // A check handle alone must not keep the loop alive.
  uv_unref(reinterpret_cast<uv_handle_t*>(handle_));
}

EndOfTurn::~EndOfTurn() {
  close_and_free(handle_);
}

EndOfTurn::Token EndOfTurn::add(int stage, std::function<void()> callback) {
  return callbacks_.emplace(stage, std::move(callback));
}

void EndOfTurn::remove(Token token) { callbacks_.erase(token); }

void EndOfTurn::run() {
  // Callbacks may not add or remove entries while running (std::multimap iterators
  // stay valid on insert; removal of the running one is not allowed).
  for (auto& [stage, callback] : callbacks_) callback();
}

}  // namespace usernet
