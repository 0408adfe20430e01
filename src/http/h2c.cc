#include "http/h2c.h"

#include <unistd.h>

#include <algorithm>
#include <array>
#include <cctype>
#include <cerrno>
#include <cstring>
#include <ctime>
#include <deque>
#include <memory>
#include <optional>
#include <string>
#include <type_traits>
#include <unordered_map>
#include <utility>
#include <vector>

#include <boost/asio.hpp>
#include <boost/beast/core/string.hpp>

#include "http/coro_util.h"
#include "http/form.h"
#include "ops/log.h"
#include "ops/metrics.h"

#include <nghttp2/nghttp2.h>

namespace pydepot::http {
namespace {

namespace asio = boost::asio;
using tcp = asio::ip::tcp;
using asio::awaitable;
using asio::use_awaitable;
using Clock = std::chrono::steady_clock;
constexpr auto kTuple = asio::as_tuple(use_awaitable);

// Upload bodies are fed to the handlers in chunks of about this size.
constexpr std::size_t kChunkBytes = 256 * 1024;
// Flow control (RFC 9113 section 5.2). A stream's body is acknowledged only as it is consumed
// (NGHTTP2_OPT_NO_AUTO_WINDOW_UPDATE). A stream starts with a small window; an upload that is
// being read gets a larger one; the connection's window is larger than all streams' windows
// together (kMaxStreams * kStreamWindow + some uploads), so data a stream cannot take yet never
// blocks another stream.
constexpr std::uint32_t kMaxStreams = 100;
constexpr std::int32_t kStreamWindow = 64 * 1024;
constexpr std::int32_t kUploadWindow = 4 << 20;
constexpr std::int32_t kConnectionWindow = 16 << 20;
// Request body bytes still read and dropped after an early answer (a refused upload) before
// the stream is reset.
constexpr std::size_t kDrainBytes = 8 << 20;
// Bytes gathered from nghttp2 before one socket write.
constexpr std::size_t kWriteBatch = 64 * 1024;
// The connection's watchdog looks at its clocks this often.
constexpr std::chrono::milliseconds kWatchTick{500};
// A connection with streams open is closed when nothing moved for body_timeout plus this (an
// upload stream that stalls is answered 408 at body_timeout first).
constexpr std::chrono::seconds kConnectionGrace{5};

std::string HttpDate() {
  const std::time_t now = std::time(nullptr);
  std::tm tm{};
  gmtime_r(&now, &tm);
  std::array<char, 64> text{};
  const std::size_t length =
      std::strftime(text.data(), text.size(), "%a, %d %b %Y %H:%M:%S GMT", &tm);
  return {text.data(), length};
}

std::uint8_t* Bytes(const std::string& s) {
  return reinterpret_cast<std::uint8_t*>(const_cast<char*>(s.data()));
}

// Headers that mean something only to HTTP/1.1 connections (RFC 9113 section 8.2.2), and the
// length, which is the server's own.
bool DroppedResponseHeader(std::string_view lower_name) {
  return lower_name == "connection" || lower_name == "keep-alive" ||
         lower_name == "transfer-encoding" || lower_name == "upgrade" ||
         lower_name == "proxy-connection" || lower_name == "content-length";
}

// One request/response exchange.
struct Stream {
  Stream(std::int32_t stream_id, const asio::any_io_executor& executor)
      : id(stream_id), wake(executor) {}

  enum class Body { kDiscard, kCollect, kUpload };

  const std::int32_t id;
  RequestHead head;
  std::string authority;
  std::string cookies;
  std::size_t header_bytes = 0;
  unsigned refuse = 0;  // 431, 414 or 400 decided while the head was read
  Body body = Body::kDiscard;
  bool body_too_large = false;  // a collected body above Handlers::kMaxFormBytes
  bool dispatched = false;      // its task runs
  bool request_ended = false;   // END_STREAM received
  bool closed = false;          // nghttp2 closed the stream
  // Upload DATA received but not yet fed to the handlers; `unconsumed` of it (and of the chunk
  // being fed) is not yet acknowledged to the peer.
  std::deque<std::string> input;
  std::size_t unconsumed = 0;

  // The response, kept until the stream closes (its body is sent from here).
  bool responded = false;
  bool response_done = false;  // END_STREAM sent
  // Answered while the request body still comes: the rest is dropped (up to kDrainBytes, then
  // the stream is reset).
  bool draining = false;
  bool reset_sent = false;
  std::size_t drained = 0;
  Response res;
  std::string request_id;
  Clock::time_point started;
  std::string_view inline_body;  // string or cached page bytes left to send
  std::int64_t file_offset = 0;  // a file descriptor's next offset
  std::int64_t left = 0;         // file or storage stream bytes left to produce
  std::vector<char> chunk;       // a storage stream's current chunk
  std::size_t chunk_pos = 0;
  std::size_t chunk_len = 0;
  bool want_chunk = false;    // nghttp2 deferred the body: read the next chunk
  bool chunk_failed = false;  // the storage stream ended early: reset the stream

  // Wakes the stream's task (data arrived, the body wants a chunk, the stream closed).
  asio::steady_timer wake;
};

class H2Session : public std::enable_shared_from_this<H2Session> {
 public:
  H2Session(tcp::socket& socket, H2cContext context)
      : socket_(socket),
        ctx_(std::move(context)),
        executor_(socket.get_executor()),
        wake_(executor_),
        watch_timer_(executor_),
        last_activity_(Clock::now()) {
    // The security headers, from their HTTP/1.1 form.
    std::string_view lines = ctx_.security_headers;
    while (!lines.empty()) {
      const std::size_t end = lines.find("\r\n");
      const std::string_view line = lines.substr(0, end);
      lines = end == std::string_view::npos ? std::string_view() : lines.substr(end + 2);
      const std::size_t colon = line.find(':');
      if (colon == std::string_view::npos) {
        continue;
      }
      std::string name(line.substr(0, colon));
      std::transform(name.begin(), name.end(), name.begin(),
                     [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
      security_.emplace_back(std::move(name), std::string(TrimBlanks(line.substr(colon + 1))));
    }
  }

  ~H2Session() {
    if (session_ != nullptr) {
      nghttp2_session_del(session_);
    }
  }
  H2Session(const H2Session&) = delete;
  H2Session& operator=(const H2Session&) = delete;

  // Creates the nghttp2 session, queues our SETTINGS and feeds it the bytes already read.
  bool Init(std::string_view initial) {
    nghttp2_session_callbacks* callbacks = nullptr;
    if (nghttp2_session_callbacks_new(&callbacks) != 0) {
      return false;
    }
    nghttp2_session_callbacks_set_on_begin_headers_callback(callbacks, &OnBeginHeaders);
    nghttp2_session_callbacks_set_on_header_callback(callbacks, &OnHeader);
    nghttp2_session_callbacks_set_on_frame_recv_callback(callbacks, &OnFrameRecv);
    nghttp2_session_callbacks_set_on_data_chunk_recv_callback(callbacks, &OnDataChunkRecv);
    nghttp2_session_callbacks_set_on_stream_close_callback(callbacks, &OnStreamClose);
    nghttp2_session_callbacks_set_on_frame_send_callback(callbacks, &OnFrameSend);
    nghttp2_option* option = nullptr;
    if (nghttp2_option_new(&option) != 0) {
      nghttp2_session_callbacks_del(callbacks);
      return false;
    }
    nghttp2_option_set_no_auto_window_update(option, 1);
    const int rv = nghttp2_session_server_new2(&session_, callbacks, this, option);
    nghttp2_option_del(option);
    nghttp2_session_callbacks_del(callbacks);
    if (rv != 0) {
      session_ = nullptr;
      return false;
    }
    const std::array<nghttp2_settings_entry, 3> settings{{
        {NGHTTP2_SETTINGS_MAX_CONCURRENT_STREAMS, kMaxStreams},
        {NGHTTP2_SETTINGS_INITIAL_WINDOW_SIZE, static_cast<std::uint32_t>(kStreamWindow)},
        {NGHTTP2_SETTINGS_MAX_HEADER_LIST_SIZE,
         static_cast<std::uint32_t>(ctx_.options.max_header_bytes)},
    }};
    if (nghttp2_submit_settings(session_, NGHTTP2_FLAG_NONE, settings.data(), settings.size()) !=
            0 ||
        nghttp2_session_set_local_window_size(session_, NGHTTP2_FLAG_NONE, 0, kConnectionWindow) !=
            0) {
      return false;
    }
    Receive(initial);
    return true;
  }

  // Serves the connection until it ends.
  awaitable<void> Run() {
    auto self = shared_from_this();
    Spawn([](std::shared_ptr<H2Session> s) -> awaitable<void> { co_await s->ReadLoop(); });
    Spawn([](std::shared_ptr<H2Session> s) -> awaitable<void> { co_await s->WatchLoop(); });
    co_await WriteLoop();
    End();
    // Every task holds the session; wait for them, so none outlives the socket.
    while (tasks_ > 0) {
      co_await Wait(wake_);
    }
  }

 private:
  // --- Coroutines ----------------------------------------------------------------------------

  // Runs `body(self)` as a task of this connection (counted: Run waits for it).
  template <typename Body>
  void Spawn(Body body) {
    ++tasks_;
    auto self = shared_from_this();
    asio::co_spawn(
        executor_,
        [](std::shared_ptr<H2Session> s, Body b) -> awaitable<void> {
          struct Done {
            H2Session& session;
            ~Done() {
              --session.tasks_;
              session.Notify();
            }
          } done{*s};
          co_await b(s);
        }(self, std::move(body)),
        [](const std::exception_ptr& error) {
          if (error) {
            try {
              std::rethrow_exception(error);
            } catch (const std::exception& e) {
              ops::Log(ops::Severity::kError, std::string("h2c stream error: ") + e.what());
            }
          }
        });
  }

  // Waits until `timer` is cancelled (a notification) or expires; true when notified.
  static awaitable<bool> Wait(asio::steady_timer& timer,
                              Clock::duration timeout = Clock::duration::max()) {
    if (timeout == Clock::duration::max()) {
      timer.expires_at(Clock::time_point::max());
    } else {
      timer.expires_after(timeout);
    }
    auto [ec] = co_await timer.async_wait(kTuple);
    co_return ec == asio::error::operation_aborted;
  }

  // Wakes the writer (nghttp2 may have something to send) and Run's final wait.
  void Notify() { wake_.cancel(); }

  // Ends the connection: the socket closes both ways, every task wakes and finishes.
  void End() {
    if (ended_) {
      return;
    }
    ended_ = true;
    boost::system::error_code ignored;
    socket_.shutdown(tcp::socket::shutdown_both, ignored);
    socket_.cancel(ignored);
    watch_timer_.cancel();
    for (auto& [id, stream] : streams_) {
      stream->wake.cancel();
    }
    Notify();
  }

  // Feeds received bytes to nghttp2. A protocol error ends the session with GOAWAY (nghttp2
  // queues it); a fatal one ends the connection at once.
  void Receive(std::string_view bytes) {
    const auto* data = reinterpret_cast<const std::uint8_t*>(bytes.data());
    const ssize_t rv = nghttp2_session_mem_recv(session_, data, bytes.size());
    if (rv < 0) {
      if (rv <= NGHTTP2_ERR_FATAL) {
        End();
      } else {
        nghttp2_session_terminate_session(session_, NGHTTP2_PROTOCOL_ERROR);
      }
    }
    Notify();
  }

  awaitable<void> ReadLoop() {
    std::vector<char> buffer(64 * 1024);
    while (!ended_ && nghttp2_session_want_read(session_) != 0) {
      auto [ec, n] = co_await socket_.async_read_some(asio::buffer(buffer), kTuple);
      if (ec) {
        End();  // the peer closed or reset the connection, or we ended it
        co_return;
      }
      last_activity_ = Clock::now();
      Receive({buffer.data(), n});
    }
  }

  awaitable<void> WriteLoop() {
    std::string out;
    while (!ended_) {
      while (out.size() < kWriteBatch) {
        const std::uint8_t* data = nullptr;
        const ssize_t n = nghttp2_session_mem_send(session_, &data);
        if (n < 0) {
          co_return;  // fatal: close
        }
        if (n == 0) {
          break;
        }
        out.append(reinterpret_cast<const char*>(data), static_cast<std::size_t>(n));
      }
      if (!out.empty()) {
        writing_since_ = Clock::now();
        auto [ec, n] = co_await asio::async_write(socket_, asio::buffer(out), kTuple);
        writing_since_ = Clock::time_point::max();
        if (ec) {
          co_return;
        }
        last_activity_ = Clock::now();
        out.clear();
        continue;
      }
      if (nghttp2_session_want_read(session_) == 0 && nghttp2_session_want_write(session_) == 0) {
        co_return;  // GOAWAY exchanged and no stream left: done
      }
      co_await Wait(wake_);
    }
  }

  // Timeouts and the graceful shutdown.
  awaitable<void> WatchLoop() {
    while (!ended_) {
      co_await Wait(watch_timer_, kWatchTick);
      if (ended_) {
        co_return;
      }
      const Clock::time_point now = Clock::now();
      if (ctx_.stopping.load() && !goaway_sent_) {
        // No new streams; those under way finish, then WriteLoop sees nothing left to do.
        goaway_sent_ = true;
        nghttp2_submit_goaway(session_, NGHTTP2_FLAG_NONE,
                              nghttp2_session_get_last_proc_stream_id(session_), NGHTTP2_NO_ERROR,
                              nullptr, 0);
        Notify();
      }
      if (writing_since_ != Clock::time_point::max() &&
          now - writing_since_ > ctx_.options.body_timeout) {
        End();  // the peer does not read what we write
        co_return;
      }
      if (busy_ > 0) {
        last_activity_ = now;  // a handler at work is not the client's doing
        continue;
      }
      if (streams_.empty()) {
        if (now - last_activity_ > ctx_.options.idle_timeout) {
          if (goaway_sent_) {
            End();
            co_return;
          }
          goaway_sent_ = true;
          nghttp2_submit_goaway(session_, NGHTTP2_FLAG_NONE,
                                nghttp2_session_get_last_proc_stream_id(session_), NGHTTP2_NO_ERROR,
                                nullptr, 0);
          last_activity_ = now;  // a last idle period for the GOAWAY to go out
          Notify();
        }
      } else if (now - last_activity_ > ctx_.options.body_timeout + kConnectionGrace) {
        End();
        co_return;
      }
    }
  }

  // Runs blocking work on the pool (the watchdog does not count it against the client).
  template <typename F>
  awaitable<std::invoke_result_t<F&>> Blocking(const std::string& request_id, F fn) {
    struct Busy {
      H2Session& s;
      explicit Busy(H2Session& session) : s(session) { ++s.busy_; }
      ~Busy() {
        --s.busy_;
        s.last_activity_ = Clock::now();
      }
    } busy(*this);
    co_return co_await OnPool(ctx_.pool, [&request_id, &fn] {
      const ops::RequestIdScope scope(request_id);
      return fn();
    });
  }

  // --- One stream ------------------------------------------------------------------------------

  awaitable<void> Serve(std::shared_ptr<Stream> s) {
    ops::Metrics::Global().in_flight().Add(1);
    struct InFlight {
      ~InFlight() { ops::Metrics::Global().in_flight().Add(-1); }
    } in_flight;
    s->started = Clock::now();
    s->request_id =
        ops::RequestIdFrom(s->head.Header("X-Request-Id"), s->head.Header("X-Cloud-Trace-Context"));
    Handlers& handlers = ctx_.handlers;
    const RequestHead& head = s->head;
    std::optional<Response> res;
    if (s->refuse != 0) {
      res = s->refuse == 431
                ? ErrorResponse(431, "Request header fields too large: the limit is " +
                                         std::to_string(ctx_.options.max_header_bytes) + " bytes.")
            : s->refuse == 414
                ? ErrorResponse(414, "Request target too long: the limit is " +
                                         std::to_string(ctx_.options.max_target_bytes) + " bytes.")
                : ErrorResponse(400, "Malformed HTTP/2 request.");
    } else if (s->body == Stream::Body::kUpload) {
      res = co_await Upload(s);
    } else if (s->body_too_large) {
      res =
          ErrorResponse(413, "Request body too large: forms and admin API calls may send at most " +
                                 std::to_string(Handlers::kMaxFormBytes / 1024) + " KiB.");
    } else {
      const ops::RequestIdScope scope(s->request_id);
      res = handlers.TryHandleInMemory(head);
    }
    if (!res && s->body != Stream::Body::kUpload) {
      res = co_await Blocking(s->request_id, [&] { return handlers.Handle(head); });
    }
    if (!res || s->closed || ended_) {
      co_return;  // the client reset the stream, or the connection is gone
    }
    Respond(*s, *std::move(res));
    if (s->res.stream && s->left > 0) {
      co_await Pump(s);
    }
  }

  // An upload: checked before its body is read, then its DATA fed as it comes.
  awaitable<std::optional<Response>> Upload(std::shared_ptr<Stream> s) {
    Handlers& handlers = ctx_.handlers;
    auto start = co_await Blocking(s->request_id, [&] { return handlers.BeginUpload(s->head); });
    if (start.reject) {
      Abandon(*s);
      co_return std::move(start.reject);
    }
    if (!s->closed && !ended_) {
      nghttp2_session_set_local_window_size(session_, NGHTTP2_FLAG_NONE, s->id, kUploadWindow);
      Notify();
    }
    std::string chunk;
    while (true) {
      if (s->closed || ended_) {
        co_return std::nullopt;  // nothing is stored
      }
      if (!s->input.empty()) {
        chunk.clear();
        while (!s->input.empty() && chunk.size() < kChunkBytes) {
          chunk += s->input.front();
          s->input.pop_front();
        }
        auto refused = co_await Blocking(s->request_id,
                                         [&] { return handlers.FeedUpload(*start.body, chunk); });
        if (!s->closed && !ended_) {
          s->unconsumed -= chunk.size();
          nghttp2_session_consume(session_, s->id, chunk.size());
          Notify();
        }
        if (refused) {
          Abandon(*s);
          co_return refused;
        }
        continue;
      }
      if (s->request_ended) {
        break;
      }
      if (!co_await Wait(s->wake, ctx_.options.body_timeout) && s->input.empty() &&
          !s->request_ended && !s->closed && !ended_) {
        Abandon(*s);
        co_return ErrorResponse(408, "Request body stalled: no data for " +
                                         std::to_string(ctx_.options.body_timeout.count()) +
                                         " seconds. Nothing was stored.");
      }
    }
    co_return co_await Blocking(s->request_id,
                                [&] { return handlers.FinishUpload(*start.body, s->head); });
  }

  // The rest of a request body is not wanted: acknowledge what was buffered and whatever else
  // comes (the stream is reset once the response is sent).
  void Abandon(Stream& s) {
    s.body = Stream::Body::kDiscard;
    s.input.clear();
    if (s.unconsumed > 0 && !s.closed && !ended_) {
      nghttp2_session_consume(session_, s.id, s.unconsumed);
      Notify();
    }
    s.unconsumed = 0;
  }

  void Respond(Stream& s, Response res) {
    res.SetHeader("X-Request-Id", s.request_id);
    s.res = std::move(res);
    Response& r = s.res;
    const bool no_body = r.status == 304 || r.status == 204 || (r.status >= 100 && r.status < 200);
    const std::int64_t length = no_body ? 0 : r.ContentLength();
    std::vector<std::pair<std::string, std::string>> fields;
    fields.reserve(r.headers.size() + security_.size() + 4);
    fields.emplace_back(":status", std::to_string(r.status));
    fields.emplace_back("server", "pydepot");
    fields.emplace_back("date", HttpDate());
    for (const auto& field : security_) {
      fields.push_back(field);
    }
    for (const auto& [name, value] : r.headers) {
      std::string lower = name;
      std::transform(lower.begin(), lower.end(), lower.begin(),
                     [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
      if (DroppedResponseHeader(lower)) {
        continue;
      }
      std::string clean = value;
      std::replace_if(
          clean.begin(), clean.end(), [](char c) { return c == '\r' || c == '\n'; }, ' ');
      fields.emplace_back(std::move(lower), std::move(clean));
    }
    if (!no_body) {
      fields.emplace_back("content-length", std::to_string(length));
    }
    std::vector<nghttp2_nv> nva;
    nva.reserve(fields.size());
    for (const auto& [name, value] : fields) {
      nva.push_back({Bytes(name), Bytes(value), name.size(), value.size(), NGHTTP2_NV_FLAG_NONE});
    }
    s.responded = true;
    nghttp2_data_provider provider{};
    const bool has_body = !no_body && !r.head_only && length > 0;
    if (has_body) {
      provider.source.ptr = &s;
      provider.read_callback = &ReadBody;
      if (r.file.valid()) {
        s.file_offset = r.file_offset;
        s.left = r.stream_length;
      } else if (r.stream) {
        s.left = r.stream_length;
      } else {
        s.inline_body = r.page_owner ? r.page : std::string_view(r.body);
      }
    }
    const int rv = nghttp2_submit_response(session_, s.id, nva.data(), nva.size(),
                                           has_body ? &provider : nullptr);
    if (rv != 0) {
      nghttp2_submit_rst_stream(session_, NGHTTP2_FLAG_NONE, s.id, NGHTTP2_INTERNAL_ERROR);
    }
    Notify();
  }

  // Reads a storage stream's body on the pool, a chunk at a time, as nghttp2 asks for it.
  awaitable<void> Pump(std::shared_ptr<Stream> s) {
    while (!s->closed && !ended_ && s->left > 0 && !s->chunk_failed) {
      if (!s->want_chunk) {
        co_await Wait(s->wake);
        continue;
      }
      const std::size_t want = static_cast<std::size_t>(
          std::min<std::int64_t>(s->left, static_cast<std::int64_t>(kChunkBytes)));
      s->chunk.resize(kChunkBytes);
      auto got = co_await Blocking(s->request_id,
                                   [&] { return s->res.stream->Read(s->chunk.data(), want); });
      s->want_chunk = false;
      if (!got.has_value() || *got == 0) {
        s->chunk_failed = true;  // the length is promised: a short body resets the stream
      } else {
        s->chunk_pos = 0;
        s->chunk_len = *got;
        s->left -= static_cast<std::int64_t>(*got);
      }
      if (!s->closed && !ended_) {
        nghttp2_session_resume_data(session_, s->id);
        Notify();
      }
    }
  }

  // Dispatches a stream whose head (and, for a collected body, the body) is complete.
  void Dispatch(const std::shared_ptr<Stream>& s) {
    if (s->dispatched || ended_) {
      return;
    }
    s->dispatched = true;
    Spawn(
        [s](std::shared_ptr<H2Session> session) -> awaitable<void> { co_await session->Serve(s); });
  }

  // The head is complete: decides what its body is for.
  void HeadComplete(const std::shared_ptr<Stream>& s, bool end_stream) {
    RequestHead& head = s->head;
    head.remote_address = ctx_.remote;
    if (!s->authority.empty() && head.Header("Host").empty()) {
      head.headers.emplace_back("host", s->authority);
    }
    if (!s->cookies.empty()) {
      head.headers.emplace_back("cookie", std::move(s->cookies));
    }
    if (ctx_.trusted_peer) {
      head.remote_address = ForwardedClientAddress(ctx_.remote, head, ctx_.options.trusted_proxies);
      head.secure = boost::beast::iequals(TrimBlanks(head.Header("X-Forwarded-Proto")), "https");
    }
    if (s->refuse == 0 && (head.method.empty() || head.target.empty())) {
      s->refuse = 400;  // CONNECT, which has no :path
    }
    if (s->refuse == 0 && head.target.size() > ctx_.options.max_target_bytes) {
      s->refuse = 414;
    }
    s->request_ended = end_stream;
    if (s->refuse != 0) {
      s->body = Stream::Body::kDiscard;
      Dispatch(s);
    } else if (Handlers::IsUpload(head)) {
      s->body = Stream::Body::kUpload;
      Dispatch(s);
    } else if (!end_stream && Handlers::TakesBody(head)) {
      s->body = Stream::Body::kCollect;  // dispatched when the body is complete
    } else {
      s->body = Stream::Body::kDiscard;
      Dispatch(s);
    }
  }

  std::shared_ptr<Stream> Find(std::int32_t id) {
    auto it = streams_.find(id);
    return it == streams_.end() ? nullptr : it->second;
  }

  // --- nghttp2 callbacks (all run on the strand, inside mem_recv or mem_send) -----------------

  static H2Session& Self(void* user_data) { return *static_cast<H2Session*>(user_data); }

  static int OnBeginHeaders(nghttp2_session*, const nghttp2_frame* frame, void* user_data) {
    if (frame->hd.type != NGHTTP2_HEADERS || frame->headers.cat != NGHTTP2_HCAT_REQUEST) {
      return 0;
    }
    H2Session& self = Self(user_data);
    self.streams_[frame->hd.stream_id] =
        std::make_shared<Stream>(frame->hd.stream_id, self.executor_);
    self.last_activity_ = Clock::now();
    return 0;
  }

  static int OnHeader(nghttp2_session*, const nghttp2_frame* frame, const std::uint8_t* name_data,
                      std::size_t name_length, const std::uint8_t* value_data,
                      std::size_t value_length, std::uint8_t, void* user_data) {
    if (frame->hd.type != NGHTTP2_HEADERS || frame->headers.cat != NGHTTP2_HCAT_REQUEST) {
      return 0;  // trailers are ignored
    }
    H2Session& self = Self(user_data);
    auto s = self.Find(frame->hd.stream_id);
    if (!s) {
      return 0;
    }
    // RFC 9113 section 6.5.2 counts 32 bytes of overhead per field.
    s->header_bytes += name_length + value_length + 32;
    if (s->header_bytes > self.ctx_.options.max_header_bytes + 32) {
      s->refuse = 431;
      return 0;
    }
    const std::string_view name(reinterpret_cast<const char*>(name_data), name_length);
    std::string value(reinterpret_cast<const char*>(value_data), value_length);
    if (name == ":method") {
      s->head.method = std::move(value);
    } else if (name == ":path") {
      s->head.target = std::move(value);
    } else if (name == ":authority") {
      s->authority = std::move(value);
    } else if (name.starts_with(':')) {
      // :scheme; nghttp2 refuses unknown pseudo-headers
    } else if (name == "cookie") {
      // HTTP/2 may split the cookie header; joined as one (RFC 9113 section 8.2.3).
      if (!s->cookies.empty()) {
        s->cookies += "; ";
      }
      s->cookies += value;
    } else {
      s->head.headers.emplace_back(std::string(name), std::move(value));
    }
    return 0;
  }

  static int OnFrameRecv(nghttp2_session*, const nghttp2_frame* frame, void* user_data) {
    H2Session& self = Self(user_data);
    const bool end_stream = (frame->hd.flags & NGHTTP2_FLAG_END_STREAM) != 0;
    if (frame->hd.type == NGHTTP2_HEADERS) {
      auto s = self.Find(frame->hd.stream_id);
      if (!s) {
        return 0;
      }
      if (frame->headers.cat == NGHTTP2_HCAT_REQUEST) {
        self.HeadComplete(s, end_stream);
        return 0;
      }
    }
    if ((frame->hd.type == NGHTTP2_HEADERS || frame->hd.type == NGHTTP2_DATA) && end_stream) {
      if (auto s = self.Find(frame->hd.stream_id)) {
        s->request_ended = true;
        s->wake.cancel();
        if (s->body == Stream::Body::kCollect) {
          self.Dispatch(s);
        }
      }
    }
    return 0;
  }

  static int OnDataChunkRecv(nghttp2_session* session, std::uint8_t, std::int32_t stream_id,
                             const std::uint8_t* data, std::size_t length, void* user_data) {
    H2Session& self = Self(user_data);
    self.last_activity_ = Clock::now();
    auto s = self.Find(stream_id);
    if (s && s->body == Stream::Body::kUpload) {
      s->input.emplace_back(reinterpret_cast<const char*>(data), length);
      s->unconsumed += length;
      s->wake.cancel();
      return 0;
    }
    // Not kept: acknowledged at once.
    nghttp2_session_consume(session, stream_id, length);
    if (s && s->body == Stream::Body::kDiscard) {
      s->drained += length;
      if (s->draining && s->drained > kDrainBytes && !s->reset_sent) {
        s->reset_sent = true;
        nghttp2_submit_rst_stream(session, NGHTTP2_FLAG_NONE, stream_id, NGHTTP2_NO_ERROR);
      }
    }
    if (s && s->body == Stream::Body::kCollect && !s->dispatched) {
      if (s->head.body.size() + length > Handlers::kMaxFormBytes) {
        s->body_too_large = true;
        s->body = Stream::Body::kDiscard;
        s->head.body.clear();
        self.Dispatch(s);
      } else {
        s->head.body.append(reinterpret_cast<const char*>(data), length);
      }
    }
    return 0;
  }

  static int OnStreamClose(nghttp2_session* session, std::int32_t stream_id, std::uint32_t,
                           void* user_data) {
    H2Session& self = Self(user_data);
    auto it = self.streams_.find(stream_id);
    if (it == self.streams_.end()) {
      return 0;
    }
    std::shared_ptr<Stream> s = std::move(it->second);
    self.streams_.erase(it);
    s->closed = true;
    if (s->unconsumed > 0) {
      // Buffered upload bytes that will never be fed: give the connection window back.
      nghttp2_session_consume_connection(session, s->unconsumed);
      s->unconsumed = 0;
    }
    s->input.clear();
    s->wake.cancel();
    if (s->responded && self.ctx_.record) {
      self.ctx_.record(s->head, s->res, s->request_id, s->started, s->response_done);
    }
    return 0;
  }

  static int OnFrameSend(nghttp2_session* session, const nghttp2_frame* frame, void* user_data) {
    H2Session& self = Self(user_data);
    if ((frame->hd.type != NGHTTP2_HEADERS && frame->hd.type != NGHTTP2_DATA) ||
        (frame->hd.flags & NGHTTP2_FLAG_END_STREAM) == 0) {
      return 0;
    }
    auto s = self.Find(frame->hd.stream_id);
    if (!s) {
      return 0;
    }
    s->response_done = true;
    if (!s->request_ended) {
      // Answered before the request body ended (a refused upload): the rest is not wanted. It
      // is read and dropped for a while (some clients, curl 7.88 among them, fail a stream
      // reset before they sent their whole body instead of reading the answer), then the
      // stream is reset (NO_ERROR: the answer stands).
      s->draining = true;
      if (s->drained > kDrainBytes && !s->reset_sent) {
        s->reset_sent = true;
        nghttp2_submit_rst_stream(session, NGHTTP2_FLAG_NONE, s->id, NGHTTP2_NO_ERROR);
      }
    }
    return 0;
  }

  static ssize_t ReadBody(nghttp2_session*, std::int32_t, std::uint8_t* buf, std::size_t length,
                          std::uint32_t* data_flags, nghttp2_data_source* source, void*) {
    Stream& s = *static_cast<Stream*>(source->ptr);
    const Response& r = s.res;
    if (r.file.valid()) {
      const std::size_t want = static_cast<std::size_t>(
          std::min<std::int64_t>(s.left, static_cast<std::int64_t>(length)));
      ssize_t got = 0;
      do {
        got = ::pread(r.file.get(), buf, want, static_cast<off_t>(s.file_offset));
      } while (got < 0 && errno == EINTR);
      if (got <= 0) {
        return NGHTTP2_ERR_TEMPORAL_CALLBACK_FAILURE;  // shorter than promised: reset
      }
      s.file_offset += got;
      s.left -= got;
      if (s.left == 0) {
        *data_flags |= NGHTTP2_DATA_FLAG_EOF;
      }
      return got;
    }
    if (r.stream) {
      if (s.chunk_pos == s.chunk_len) {
        if (s.chunk_failed) {
          return NGHTTP2_ERR_TEMPORAL_CALLBACK_FAILURE;
        }
        if (s.left == 0) {
          *data_flags |= NGHTTP2_DATA_FLAG_EOF;
          return 0;
        }
        s.want_chunk = true;
        s.wake.cancel();
        return NGHTTP2_ERR_DEFERRED;
      }
      const std::size_t n = std::min(length, s.chunk_len - s.chunk_pos);
      std::memcpy(buf, s.chunk.data() + s.chunk_pos, n);
      s.chunk_pos += n;
      if (s.chunk_pos == s.chunk_len && s.left == 0) {
        *data_flags |= NGHTTP2_DATA_FLAG_EOF;
      }
      return static_cast<ssize_t>(n);
    }
    const std::size_t n = std::min(length, s.inline_body.size());
    std::memcpy(buf, s.inline_body.data(), n);
    s.inline_body.remove_prefix(n);
    if (s.inline_body.empty()) {
      *data_flags |= NGHTTP2_DATA_FLAG_EOF;
    }
    return static_cast<ssize_t>(n);
  }

  tcp::socket& socket_;
  H2cContext ctx_;
  asio::any_io_executor executor_;  // the connection's strand
  nghttp2_session* session_ = nullptr;
  std::vector<std::pair<std::string, std::string>> security_;
  std::unordered_map<std::int32_t, std::shared_ptr<Stream>> streams_;
  asio::steady_timer wake_;  // the writer's (and Run's) wake-up
  asio::steady_timer watch_timer_;
  int tasks_ = 0;  // spawned coroutines still running
  int busy_ = 0;   // handler calls on the pool
  bool ended_ = false;
  bool goaway_sent_ = false;
  Clock::time_point last_activity_;
  Clock::time_point writing_since_ = Clock::time_point::max();
};

}  // namespace

PrefaceMatch MatchH2cPreface(std::string_view bytes) {
  if (bytes.size() >= kH2cPreface.size()) {
    return bytes.starts_with(kH2cPreface) ? PrefaceMatch::kYes : PrefaceMatch::kNo;
  }
  return kH2cPreface.starts_with(bytes) && !bytes.empty() ? PrefaceMatch::kPartial
                                                          : PrefaceMatch::kNo;
}

namespace {

awaitable<bool> ServeIfH2c(tcp::socket& socket, boost::beast::flat_buffer& buffer,
                           std::unique_ptr<H2cContext> context) {
  auto view = [&buffer] {
    return std::string_view(static_cast<const char*>(buffer.data().data()), buffer.size());
  };
  PrefaceMatch match = MatchH2cPreface(view());
  while (match == PrefaceMatch::kPartial) {
    // A prefix of the preface ("P" could also start "POST"): read on to decide. The caller's
    // read deadline still holds.
    auto [ec, n] = co_await socket.async_read_some(buffer.prepare(kH2cPreface.size()), kTuple);
    if (ec) {
      co_return true;  // gone before it said what it speaks: nothing to answer
    }
    buffer.commit(n);
    match = MatchH2cPreface(view());
  }
  if (match == PrefaceMatch::kNo) {
    co_return false;
  }
  if (context->on_start) {
    context->on_start();
  }
  auto session = std::make_shared<H2Session>(socket, std::move(*context));
  const std::string initial(view());
  buffer.consume(buffer.size());
  if (session->Init(initial)) {
    co_await session->Run();
  }
  co_return true;
}

}  // namespace

// Not a coroutine: the context is copied to the heap before the coroutine starts, so no
// coroutine parameter holds an aggregate (GCC 12 mishandles temporary aggregates around
// co_await: it copied one bytewise and freed its strings twice).
awaitable<bool> MaybeServeH2c(tcp::socket& socket, boost::beast::flat_buffer& buffer,
                              const H2cContext& context) {
  auto owned = std::make_unique<H2cContext>(context);
  return ServeIfH2c(socket, buffer, std::move(owned));
}

}  // namespace pydepot::http
