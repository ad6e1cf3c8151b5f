// Collectives across processes and machines on libtorch's c10d: a TCPStore rendezvous and a
// ProcessGroupGloo (CPU tensors). Every call blocks the calling thread until the collective is done
// (work->wait()); no JavaScript ever runs on a libtorch or Gloo thread.
//
// Faults: the group's timeout bounds every collective. When one fails (a peer died, hung, or timed
// out), the error names the ranks that stopped: each rank runs a heartbeat thread that writes
// "<ms since epoch> <collectives entered>" to the store every kHeartbeatMs on its own store
// connection, and the failing rank reads them twice, kStaleMs apart, to see which did not move.
//
// Builds against a libtorch without c10d/Gloo headers (the official archive without Gloo's
// headers, some pip wheels) compile to entry points that report that, so the rest of the shim
// still builds.
#include "common.h"

// ECN_NO_GLOO forces the stubs (to check that they build).
#if !defined(ECN_NO_GLOO) && __has_include(<gloo/config.h>) && \
    __has_include(<torch/csrc/distributed/c10d/ProcessGroupGloo.hpp>)
#define ECN_HAVE_GLOO 1
#ifndef USE_C10D_GLOO
#define USE_C10D_GLOO 1
#endif
#include <torch/csrc/distributed/c10d/ProcessGroupGloo.hpp>
#include <torch/csrc/distributed/c10d/TCPStore.hpp>
#endif

#include <chrono>
#include <map>
#include <memory>
#include <mutex>
#include <sstream>
#include <thread>

namespace {

const char* kNoGloo =
    "this libtorch has no c10d/Gloo (the headers torch/csrc/distributed/c10d/ProcessGroupGloo.hpp "
    "and gloo/*.h were not found at build time): multi-process training needs a libtorch built with "
    "distributed support and Gloo's headers (Debian: apt-get install libtorch-dev libgloo-dev), then "
    "`deno task build --force`";

#ifdef ECN_HAVE_GLOO

std::string cstr(const uint8_t* p, const char* what) {
  if (p == nullptr) throw std::invalid_argument(std::string(what) + ": null string");
  return std::string(reinterpret_cast<const char*>(p));
}

constexpr int64_t kHeartbeatMs = 500;
constexpr int64_t kStaleMs = 2000;

int64_t now_ms() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::system_clock::now().time_since_epoch())
      .count();
}

std::string to_string(const std::vector<uint8_t>& v) { return std::string(v.begin(), v.end()); }
std::vector<uint8_t> to_bytes(const std::string& s) { return std::vector<uint8_t>(s.begin(), s.end()); }

struct Group {
  std::string host;
  int port = 0;
  int rank = 0;
  int size = 1;
  std::chrono::milliseconds timeout{0};
  c10::intrusive_ptr<c10d::TCPStore> store;
  c10::intrusive_ptr<c10d::ProcessGroupGloo> pg;
  std::atomic<int64_t> seq{0};
  std::atomic<bool> stop{false};
  std::thread heartbeat;
  std::string broken;  // set after a failed collective: later calls fail at once with it

  ~Group() {
    stop = true;
    if (heartbeat.joinable()) heartbeat.join();
  }

  std::string hb_key(int r) const { return "ecn/heartbeat/" + std::to_string(r); }

  void start_heartbeat() {
    heartbeat = std::thread([this]() {
      c10::intrusive_ptr<c10d::TCPStore> own;
      try {
        c10d::TCPStoreOptions o;
        o.port = static_cast<uint16_t>(port);
        o.isServer = false;
        o.waitWorkers = false;
        o.timeout = std::chrono::milliseconds(kStaleMs);
        own = c10::make_intrusive<c10d::TCPStore>(host, o);
      } catch (...) {
        return;  // no heartbeat: a failure is then reported without naming ranks
      }
      while (!stop.load()) {
        try {
          own->set(hb_key(rank), to_bytes(std::to_string(now_ms()) + " " + std::to_string(seq.load())));
        } catch (...) {
          return;  // the store (rank 0) is gone
        }
        for (int64_t waited = 0; waited < kHeartbeatMs && !stop.load(); waited += 50)
          std::this_thread::sleep_for(std::chrono::milliseconds(50));
      }
    });
  }

  // Which ranks stopped: heartbeats that did not move within kStaleMs, or ranks that are alive but
  // have not entered this collective. Bounded by about kStaleMs plus the store's timeout.
  std::string diagnose() {
    try {
      store->setTimeout(std::chrono::milliseconds(kStaleMs));
      auto read = [&]() {
        std::vector<std::string> v(size);
        for (int r = 0; r < size; ++r) {
          if (r == rank) continue;
          v[r] = store->check({hb_key(r)}) ? to_string(store->get(hb_key(r))) : std::string();
        }
        return v;
      };
      auto first = read();
      std::this_thread::sleep_for(std::chrono::milliseconds(kStaleMs));
      auto second = read();
      std::ostringstream dead, behind;
      int64_t mine = seq.load();
      for (int r = 0; r < size; ++r) {
        if (r == rank) continue;
        if (second[r].empty() || second[r] == first[r]) {
          dead << (dead.tellp() > 0 ? ", " : "") << r;
          continue;
        }
        int64_t ms = 0, their = 0;
        std::istringstream(second[r]) >> ms >> their;
        if (their < mine) behind << (behind.tellp() > 0 ? ", " : "") << r << " (at collective " << their << ")";
      }
      std::string out;
      if (dead.tellp() > 0) out += "rank " + dead.str() + " stopped responding (died or hangs)";
      if (behind.tellp() > 0)
        out += std::string(out.empty() ? "" : "; ") + "rank " + behind.str() +
               " is alive but has not reached collective " + std::to_string(mine);
      return out.empty() ? "every other rank still answers" : out;
    } catch (const std::exception&) {
      return rank == 0 ? "the store could not be read"
                       : "rank 0 (which hosts the rendezvous store at " + host + ":" + std::to_string(port) +
                             ") stopped responding (died or hangs)";
    }
  }

  template <typename F>
  void collective(const char* what, F&& body) {
    if (!broken.empty()) throw std::runtime_error(broken);
    seq.fetch_add(1);
    try {
      body();
    } catch (const std::exception& e) {
      std::string msg = e.what();
      auto nl = msg.find("\nException raised from");
      if (nl != std::string::npos) msg = msg.substr(0, nl);
      broken = std::string("distributed ") + what + " #" + std::to_string(seq.load()) + " failed on rank " +
               std::to_string(rank) + " of " + std::to_string(size) + ": " + diagnose() + " [" + msg + "]";
      throw std::runtime_error(broken);
    }
  }
};

std::mutex g_mutex;
std::map<int64_t, std::shared_ptr<Group>> g_groups;
int64_t g_next = 1;

std::shared_ptr<Group> group(int64_t id) {
  std::lock_guard<std::mutex> lock(g_mutex);
  auto it = g_groups.find(id);
  if (it == g_groups.end()) throw std::invalid_argument("distributed: no process group with id " + std::to_string(id));
  return it->second;
}

std::vector<at::Tensor> tensors_of(const ts_tensor* list, int32_t n, const char* what) {
  if (n < 0 || (n > 0 && list == nullptr)) throw std::invalid_argument(std::string(what) + ": bad tensor list");
  std::vector<at::Tensor> out;
  out.reserve(n);
  for (int32_t i = 0; i < n; ++i) {
    const auto& t = ts::T(list[i], what);
    if (!t.device().is_cpu())
      throw std::invalid_argument(std::string(what) + ": tensor " + std::to_string(i) + " is on " + t.device().str() +
                                  "; the Gloo group takes CPU tensors (NCCL, for CUDA tensors, is not built in)");
    out.push_back(t);
  }
  return out;
}

// Flattens runs of same-dtype tensors into buckets of at most `bucket_bytes` (one tensor larger than
// that is a bucket of its own), applies `op` to each flat bucket, and copies the results back.
template <typename F>
void bucketed(std::vector<at::Tensor>& ts, int64_t bucket_bytes, F&& op) {
  size_t i = 0;
  while (i < ts.size()) {
    size_t j = i;
    int64_t bytes = 0;
    while (j < ts.size() && ts[j].scalar_type() == ts[i].scalar_type() &&
           (j == i || bytes + static_cast<int64_t>(ts[j].nbytes()) <= bucket_bytes)) {
      bytes += static_cast<int64_t>(ts[j].nbytes());
      ++j;
    }
    std::vector<at::Tensor> flat;
    for (size_t k = i; k < j; ++k) flat.push_back(ts[k].reshape({-1}));
    at::Tensor bucket = at::cat(flat);
    op(bucket);
    int64_t off = 0;
    for (size_t k = i; k < j; ++k) {
      int64_t n = ts[k].numel();
      ts[k].copy_(bucket.narrow(0, off, n).view(ts[k].sizes()));
      off += n;
    }
    i = j;
  }
}

#endif  // ECN_HAVE_GLOO

}  // namespace

extern "C" {

int32_t ts_dist_available(void) {
#ifdef ECN_HAVE_GLOO
  return 1;
#else
  ts::set_error(kNoGloo);
  return 0;
#endif
}

int64_t ts_dist_init(const uint8_t* master_addr, int32_t port, int32_t rank, int32_t world_size, const uint8_t* bind,
                     int64_t timeout_ms) {
  TS_STATUS({
#ifdef ECN_HAVE_GLOO
    std::string host = cstr(master_addr, "master address");
    std::string where = cstr(bind, "bind");
    if (world_size < 1) throw std::invalid_argument("WORLD_SIZE must be >= 1, got " + std::to_string(world_size));
    if (rank < 0 || rank >= world_size)
      throw std::invalid_argument("RANK " + std::to_string(rank) + " out of range [0, " + std::to_string(world_size) + ")");
    if (port < 1 || port > 65535) throw std::invalid_argument("MASTER_PORT " + std::to_string(port) + " out of range 1..65535");
    if (timeout_ms < 1) throw std::invalid_argument("timeout must be >= 1 ms, got " + std::to_string(timeout_ms));
    auto g = std::make_shared<Group>();
    g->host = host;
    g->port = port;
    g->rank = rank;
    g->size = world_size;
    g->timeout = std::chrono::milliseconds(timeout_ms);
    c10d::TCPStoreOptions o;
    o.port = static_cast<uint16_t>(port);
    o.isServer = rank == 0;
    o.numWorkers = static_cast<size_t>(world_size);
    o.waitWorkers = true;
    o.timeout = g->timeout;
    try {
      g->store = c10::make_intrusive<c10d::TCPStore>(host, o);
    } catch (const std::exception& e) {
      std::string msg = e.what();
      auto nl = msg.find("\nException raised from");
      if (nl != std::string::npos) msg = msg.substr(0, nl);
      throw std::runtime_error("rendezvous at " + host + ":" + std::to_string(port) + " failed on rank " +
                               std::to_string(rank) + " of " + std::to_string(world_size) +
                               (rank == 0 ? " (rank 0 hosts the store: is the port free, and did every rank start?)"
                                          : " (is rank 0 running and reachable there?)") +
                               ": " + msg);
    }
    auto opts = c10d::ProcessGroupGloo::Options::create(g->timeout);
    if (where.rfind("iface:", 0) == 0)
      opts->devices.push_back(c10d::ProcessGroupGloo::createDeviceForInterface(where.substr(6)));
    else if (!where.empty())
      opts->devices.push_back(c10d::ProcessGroupGloo::createDeviceForHostname(where));
    else
      opts->devices.push_back(c10d::ProcessGroupGloo::createDefaultDevice());
    opts->threads = 2;
    g->pg = c10::make_intrusive<c10d::ProcessGroupGloo>(g->store, rank, world_size, opts);
    g->start_heartbeat();
    std::lock_guard<std::mutex> lock(g_mutex);
    int64_t id = g_next++;
    g_groups[id] = g;
    return id;
#else
    throw std::runtime_error(kNoGloo);
#endif
  })
}

int32_t ts_dist_destroy(int64_t group_id) {
  TS_STATUS({
#ifdef ECN_HAVE_GLOO
    std::shared_ptr<Group> g;
    {
      std::lock_guard<std::mutex> lock(g_mutex);
      auto it = g_groups.find(group_id);
      if (it == g_groups.end()) return 0;
      g = it->second;
      g_groups.erase(it);
    }
    g.reset();
    return 0;
#else
    throw std::runtime_error(kNoGloo);
#endif
  })
}

int32_t ts_dist_allreduce(int64_t group_id, const ts_tensor* tensors, int32_t n, int32_t average, int64_t bucket_bytes) {
  TS_STATUS({
#ifdef ECN_HAVE_GLOO
    auto g = group(group_id);
    auto ts = tensors_of(tensors, n, "allreduce");
    if (bucket_bytes < 1) throw std::invalid_argument("allreduce: bucket size must be >= 1 byte");
    for (auto& t : ts)
      if (!at::isFloatingType(t.scalar_type()) && average)
        throw std::invalid_argument("allreduce: averaging needs floating-point tensors, got " +
                                    std::string(c10::toString(t.scalar_type())));
    at::NoGradGuard no_grad;
    bucketed(ts, bucket_bytes, [&](at::Tensor& bucket) {
      g->collective("allreduce", [&]() {
        std::vector<at::Tensor> v{bucket};
        c10d::AllreduceOptions ao;
        ao.reduceOp = c10d::ReduceOp::SUM;
        g->pg->allreduce(v, ao)->wait();
      });
      if (average) bucket.div_(static_cast<double>(g->size));
    });
    return 0;
#else
    throw std::runtime_error(kNoGloo);
#endif
  })
}

int32_t ts_dist_broadcast(int64_t group_id, const ts_tensor* tensors, int32_t n, int32_t root, int64_t bucket_bytes) {
  TS_STATUS({
#ifdef ECN_HAVE_GLOO
    auto g = group(group_id);
    auto ts = tensors_of(tensors, n, "broadcast");
    if (root < 0 || root >= g->size) throw std::invalid_argument("broadcast: root " + std::to_string(root) + " out of range");
    if (bucket_bytes < 1) throw std::invalid_argument("broadcast: bucket size must be >= 1 byte");
    at::NoGradGuard no_grad;
    bucketed(ts, bucket_bytes, [&](at::Tensor& bucket) {
      g->collective("broadcast", [&]() {
        std::vector<at::Tensor> v{bucket};
        c10d::BroadcastOptions bo;
        bo.rootRank = root;
        g->pg->broadcast(v, bo)->wait();
      });
    });
    return 0;
#else
    throw std::runtime_error(kNoGloo);
#endif
  })
}

ts_tensor ts_dist_all_gather(int64_t group_id, ts_tensor t) {
  TS_TENSOR({
#ifdef ECN_HAVE_GLOO
    auto g = group(group_id);
    ts_tensor one[1] = {t};
    auto x = tensors_of(one, 1, "all_gather")[0].detach().contiguous();
    if (x.dim() < 1) throw std::invalid_argument("all_gather: needs a tensor of at least one dimension");
    // Ranks may hold different first dimensions: share them, pad to the largest, then trim.
    auto len = at::full({1}, x.size(0), at::TensorOptions().dtype(at::kLong));
    std::vector<at::Tensor> lens_out(g->size);
    for (auto& l : lens_out) l = at::empty({1}, at::TensorOptions().dtype(at::kLong));
    g->collective("all_gather (sizes)", [&]() {
      std::vector<std::vector<at::Tensor>> out{lens_out};
      std::vector<at::Tensor> in{len};
      g->pg->allgather(out, in)->wait();
      lens_out = out[0];
    });
    int64_t most = 0;
    for (auto& l : lens_out) most = std::max(most, l.item<int64_t>());
    auto rest = x.sizes().slice(1).vec();
    std::vector<int64_t> padded_shape{most};
    padded_shape.insert(padded_shape.end(), rest.begin(), rest.end());
    auto padded = at::zeros(padded_shape, x.options());
    if (x.size(0) > 0) padded.narrow(0, 0, x.size(0)).copy_(x);
    std::vector<at::Tensor> outs(g->size);
    for (auto& o : outs) o = at::empty(padded_shape, x.options());
    g->collective("all_gather", [&]() {
      std::vector<std::vector<at::Tensor>> out{outs};
      std::vector<at::Tensor> in{padded};
      g->pg->allgather(out, in)->wait();
      outs = out[0];
    });
    std::vector<at::Tensor> parts;
    for (int r = 0; r < g->size; ++r) parts.push_back(outs[r].narrow(0, 0, lens_out[r].item<int64_t>()));
    return ts::box(at::cat(parts));
#else
    throw std::runtime_error(kNoGloo);
#endif
  })
}

int32_t ts_dist_barrier(int64_t group_id, int64_t timeout_ms) {
  TS_STATUS({
#ifdef ECN_HAVE_GLOO
    auto g = group(group_id);
    g->collective("barrier", [&]() {
      c10d::BarrierOptions bo;
      if (timeout_ms > 0) bo.timeout = std::chrono::milliseconds(timeout_ms);
      g->pg->barrier(bo)->wait();
    });
    return 0;
#else
    throw std::runtime_error(kNoGloo);
#endif
  })
}

}  // extern "C"
