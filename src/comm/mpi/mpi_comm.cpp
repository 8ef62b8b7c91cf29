#include "comm/mpi/mpi_comm.h"

#include <sched.h>

#include <chrono>
#include <climits>
#include <cstring>

#include "comm/mpi/host_reduce.h"

namespace porta::comm {
namespace {

constexpr int kTagData = 0x5054;   // "PT"
constexpr int kTagCheck = 0x5055;
// MPI counts are int: calls move at most this many bytes at once.
constexpr size_t kMaxBytes = size_t{1} << 30;

struct Segment {
  size_t first, count;
};
// Rank r's share of `count` elements: the first count % n ranks get one more.
Segment segment(size_t count, int n, int r) {
  const size_t base = count / static_cast<size_t>(n), extra = count % static_cast<size_t>(n);
  const size_t ur = static_cast<size_t>(r);
  return {ur * base + std::min(ur, extra), base + (ur < extra ? 1 : 0)};
}

int as_int(size_t bytes, const char* what) {
  if (bytes > static_cast<size_t>(INT_MAX))
    throw Error(Errc::unsupported, std::string(what) + ": " + std::to_string(bytes) +
                                       " bytes in one MPI call exceed what MPI counts hold (2^31 - 1); split the call");
  return static_cast<int>(bytes);
}

}  // namespace

MpiComm::MpiComm(MPI_Comm comm, const Settings& settings) : comm_(comm), settings_(settings) {
  MPI_Comm_set_errhandler(comm_, MPI_ERRORS_RETURN);
  MPI_Comm_rank(comm_, &rank_);
  MPI_Comm_size(comm_, &size_);
}

MpiComm::~MpiComm() {
  int finalized = 0;
  MPI_Finalized(&finalized);
  // An aborted communicator may have requests in flight: leave it to MPI_Finalize.
  if (!aborted_ && !finalized) MPI_Comm_free(&comm_);
}

void MpiComm::mpi_check(int rc, const char* call, const char* what) {
  if (rc == MPI_SUCCESS) return;
  char text[MPI_MAX_ERROR_STRING] = {};
  int len = 0;
  MPI_Error_string(rc, text, &len);
  aborted_ = true;
  throw Error(Errc::comm_failed, std::string(what) + ": " + call + " failed: " + text);
}

void MpiComm::wait(MPI_Request* reqs, int n, const char* what) {
  using clock = std::chrono::steady_clock;
  const auto deadline = clock::now() + std::chrono::duration<double>(settings_.timeout_s);
  const auto spin_until = clock::now() + std::chrono::microseconds(200);
  bool yielding = false;
  for (int spins = 0;; ++spins) {
    int done = 0;
    mpi_check(MPI_Testall(n, reqs, &done, MPI_STATUSES_IGNORE), "MPI_Testall", what);
    if (done) return;
    // Spin like MPI's own blocking calls for 200 us (latency), then yield the core each
    // poll: ranks often outnumber cores (oversubscribed runs), and the peer needs it.
    if (!yielding && (spins & 15) == 0) yielding = clock::now() > spin_until;
    if (yielding) sched_yield();
    if ((spins & 63) == 0 && clock::now() > deadline) {
      aborted_ = true;
      throw Error(Errc::comm_failed,
                  std::string(what) + ": rank " + std::to_string(rank_) + " of " + std::to_string(size_) +
                      " waited " + std::to_string(static_cast<int>(settings_.timeout_s)) +
                      " s (PORTA_COMM_TIMEOUT_S) without the other ranks taking part: one has died, hangs or "
                      "called a different collective (PORTA_COMM_CHECK=1 finds the latter); the communicator is "
                      "aborted");
    }
  }
}

void MpiComm::all_reduce_chunk(const char* in, char* out, size_t count, DType t, ReduceOp op) {
  const char* what = "all_reduce";
  const size_t es = dtype_size(t);
  const int n = size_;
  const Segment mine = segment(count, n, rank_);
  std::vector<int> sc(static_cast<size_t>(n)), sd(sc), rc(sc), rd(sc), gc(sc), gd(sc);
  for (int r = 0; r < n; ++r) {
    const Segment s = segment(count, n, r);
    const size_t ur = static_cast<size_t>(r);
    sc[ur] = static_cast<int>(s.count * es);
    sd[ur] = static_cast<int>(s.first * es);
    rc[ur] = static_cast<int>(mine.count * es);
    rd[ur] = static_cast<int>(ur * mine.count * es);
    gc[ur] = sc[ur];
    gd[ur] = sd[ur];
  }
  const size_t stride = mine.count * es;
  if (scratch_.size() < stride * static_cast<size_t>(n)) scratch_.resize(stride * static_cast<size_t>(n));
  // 1. every rank's copy of my segment, in rank order; 2. fold it; 3. share the folded segments.
  MPI_Request req;
  mpi_check(MPI_Ialltoallv(in, sc.data(), sd.data(), MPI_BYTE, scratch_.data(), rc.data(), rd.data(), MPI_BYTE,
                           comm_, &req),
            "MPI_Ialltoallv", what);
  wait(&req, 1, what);
  if (mine.count) reduce_in_rank_order(scratch_.data(), stride, n, out + mine.first * es, mine.count, t, op);
  mpi_check(MPI_Iallgatherv(MPI_IN_PLACE, 0, MPI_BYTE, out, gc.data(), gd.data(), MPI_BYTE, comm_, &req),
            "MPI_Iallgatherv", what);
  wait(&req, 1, what);
}

void MpiComm::all_reduce(const void* in, void* out, size_t count, DType t, ReduceOp op, void*) {
  const size_t es = dtype_size(t);
  const size_t per = kMaxBytes / es;
  for (size_t first = 0; first < count; first += per) {
    const size_t m = std::min(per, count - first);
    all_reduce_chunk(static_cast<const char*>(in) + first * es, static_cast<char*>(out) + first * es, m, t, op);
  }
}

void MpiComm::reduce_scatter(const void* in, void* out, size_t count, DType t, ReduceOp op, void*) {
  const char* what = "reduce_scatter";
  const size_t bytes = count * dtype_size(t);
  const int b = as_int(bytes * static_cast<size_t>(size_), what);
  (void)b;
  if (scratch_.size() < bytes * static_cast<size_t>(size_)) scratch_.resize(bytes * static_cast<size_t>(size_));
  MPI_Request req;
  mpi_check(MPI_Ialltoall(in, static_cast<int>(bytes), MPI_BYTE, scratch_.data(), static_cast<int>(bytes), MPI_BYTE,
                          comm_, &req),
            "MPI_Ialltoall", what);
  wait(&req, 1, what);
  if (count) reduce_in_rank_order(scratch_.data(), bytes, size_, out, count, t, op);
}

void MpiComm::all_gather(const void* in, void* out, size_t count, DType t, void*) {
  const char* what = "all_gather";
  const size_t bytes = count * dtype_size(t);
  as_int(bytes * static_cast<size_t>(size_), what);
  const bool in_place = in == static_cast<const char*>(out) + static_cast<size_t>(rank_) * bytes;
  MPI_Request req;
  mpi_check(MPI_Iallgather(in_place ? MPI_IN_PLACE : in, static_cast<int>(bytes), MPI_BYTE, out,
                           static_cast<int>(bytes), MPI_BYTE, comm_, &req),
            "MPI_Iallgather", what);
  wait(&req, 1, what);
}

void MpiComm::broadcast(const void* in, void* out, size_t count, DType t, int root, void*) {
  const char* what = "broadcast";
  const size_t bytes = count * dtype_size(t);
  if (rank_ == root && in != out) std::memcpy(out, in, bytes);
  for (size_t first = 0; first < bytes; first += kMaxBytes) {
    const size_t m = std::min(kMaxBytes, bytes - first);
    MPI_Request req;
    mpi_check(MPI_Ibcast(static_cast<char*>(out) + first, static_cast<int>(m), MPI_BYTE, root, comm_, &req),
              "MPI_Ibcast", what);
    wait(&req, 1, what);
  }
}

void MpiComm::send(const void* buf, size_t count, DType t, int peer, void*) {
  const size_t bytes = count * dtype_size(t);
  for (size_t first = 0; first < bytes; first += kMaxBytes) {
    const size_t m = std::min(kMaxBytes, bytes - first);
    MPI_Request req;
    mpi_check(MPI_Isend(static_cast<const char*>(buf) + first, static_cast<int>(m), MPI_BYTE, peer, kTagData,
                        comm_, &req),
              "MPI_Isend", "send");
    wait(&req, 1, "send");
  }
}

void MpiComm::recv(void* buf, size_t count, DType t, int peer, void*) {
  const size_t bytes = count * dtype_size(t);
  for (size_t first = 0; first < bytes; first += kMaxBytes) {
    const size_t m = std::min(kMaxBytes, bytes - first);
    MPI_Request req;
    mpi_check(MPI_Irecv(static_cast<char*>(buf) + first, static_cast<int>(m), MPI_BYTE, peer, kTagData, comm_, &req),
              "MPI_Irecv", "recv");
    wait(&req, 1, "recv");
  }
}

namespace {
struct Packed {  // Signature as plain bytes for MPI
  uint32_t kind, dtype, op;
  int32_t root;
  uint64_t count;
};
Packed pack(const Signature& s) { return {static_cast<uint32_t>(s.kind), s.dtype, s.op, s.root, s.count}; }
Signature unpack(const Packed& p) {
  Signature s;
  s.kind = static_cast<Kind>(p.kind);
  s.dtype = p.dtype;
  s.op = p.op;
  s.root = p.root;
  s.count = p.count;
  return s;
}
}  // namespace

void MpiComm::check(const Signature& s, void*) {
  const char* what = kind_name(s.kind);
  const Packed mine = pack(s);
  if (s.kind == Kind::send || s.kind == Kind::recv) {
    Packed theirs{};
    MPI_Request reqs[2];
    mpi_check(MPI_Isend(&mine, sizeof mine, MPI_BYTE, s.root, kTagCheck, comm_, &reqs[0]), "MPI_Isend", what);
    mpi_check(MPI_Irecv(&theirs, sizeof theirs, MPI_BYTE, s.root, kTagCheck, comm_, &reqs[1]), "MPI_Irecv", what);
    wait(reqs, 2, what);
    const Signature t = unpack(theirs);
    const Kind want = s.kind == Kind::send ? Kind::recv : Kind::send;
    if (t.kind != want || t.root != rank_ || t.dtype != s.dtype || t.count != s.count)
      throw Error(t.dtype != s.dtype ? Errc::dtype_mismatch : Errc::shape_mismatch,
                  std::string(what) + ": PORTA_COMM_CHECK: rank " + std::to_string(rank_) + " called " + s.str() +
                      " but rank " + std::to_string(s.root) + " called " + t.str() +
                      "; a send needs a recv of the same dtype and element count on its peer");
    return;
  }
  std::vector<Packed> all(static_cast<size_t>(size_));
  MPI_Request req;
  mpi_check(MPI_Iallgather(&mine, sizeof mine, MPI_BYTE, all.data(), sizeof mine, MPI_BYTE, comm_, &req),
            "MPI_Iallgather", what);
  wait(&req, 1, what);
  for (int r = 0; r < size_; ++r) {
    const Packed& p = all[static_cast<size_t>(r)];
    if (std::memcmp(&p, &all[0], sizeof p) == 0) continue;
    const Signature a = unpack(all[0]), b = unpack(p);
    throw Error(a.dtype != b.dtype ? Errc::dtype_mismatch : Errc::shape_mismatch,
                std::string(what) + ": PORTA_COMM_CHECK: rank 0 called " + a.str() + " but rank " +
                    std::to_string(r) + " called " + b.str() + "; every rank must make the same call");
  }
}

std::unique_ptr<Comm> MpiComm::split(int color, int key) {
  MPI_Comm sub = MPI_COMM_NULL;
  mpi_check(MPI_Comm_split(comm_, color < 0 ? MPI_UNDEFINED : color, key, &sub), "MPI_Comm_split", "split");
  if (sub == MPI_COMM_NULL) return nullptr;
  return std::make_unique<MpiComm>(sub, settings_);
}

}  // namespace porta::comm
