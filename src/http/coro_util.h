// Coroutine helpers shared by the HTTP/1 and HTTP/2 sessions (server.cc, h2c.cc). Internal to
// src/http.
#pragma once

#include <type_traits>

#include <boost/asio/awaitable.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/thread_pool.hpp>
#include <boost/asio/use_awaitable.hpp>

namespace pydepot::http {

// Runs `fn` on the blocking pool and resumes the calling coroutine on its own executor with the
// result: storage round trips, password hashes and upload hashing never hold a network thread.
template <typename F>
boost::asio::awaitable<std::invoke_result_t<F&>> OnPool(boost::asio::thread_pool& pool, F fn) {
  using Result = std::invoke_result_t<F&>;
  co_return co_await boost::asio::co_spawn(
      pool, [&fn]() -> boost::asio::awaitable<Result> { co_return fn(); },
      boost::asio::use_awaitable);
}

}  // namespace pydepot::http
