// THE backend interface. A backend is a module (shared library, or linked into
// libporta) exposing one extern "C" entry point, porta_backend_entry(), that
// returns a BackendModule. Everything a backend author needs is in this file; the
// skeleton backend (src/backends/skeleton) implements all of it in ~800 lines.
//
// Contract (each class and method below states its own part):
//  * Validation. Core validates every op call before it reaches a backend (shapes, dtypes,
//    devices, aliasing, sizes). Backends do not re-check; they may assume the documented
//    preconditions. Device-resident values (kv_lens, ids) are NOT checked: kernels clamp them.
//  * Sizes. Core never passes an empty tensor, a zero extent, a zero-byte allocation or a
//    zero-byte transfer (porta tensors are never empty). Extents and byte counts are 64-bit
//    and may exceed 2^31; a kernel that indexes in 32 bits must chunk or raise unsupported.
//  * Errors. Backends report failure by throwing porta::Error (porta/error.h), never anything
//    else across this interface; never abort or exit. Core prefixes the op's name when the
//    message lacks it. Errc::device_lost makes core mark the device lost for good.
//  * Ownership. Objects returned as unique_ptr are owned by core. Core guarantees a Device
//    outlives its Buffers, Queues and Events, and a Backend outlives its Devices.
//  * Lifetimes (core's rule). Core destroys a Buffer only after every Queue that used it has
//    passed that use (it records an Event and polls Event::query, or synchronizes), so a
//    backend may free memory at once in ~Buffer and needs no retire list. Op arguments
//    (the structs and what their pointers point to) live only for the call: copy them.
//  * Threads. Backend::enumerate, shutdown and recreate are called under a lock, never
//    concurrently. Device methods may be called from any thread concurrently. A Queue is used
//    by one thread at a time, but different Queues of one Device run on different threads at
//    once. Calls on one Event are serialised by core (record on one thread and wait or
//    synchronize on another never overlap), but the Event may be recorded on one Queue and
//    waited for by another.
//  * Process exit. Core calls Backend::shutdown() once at exit, after synchronizing the
//    default streams, then calls nothing but destructors of objects users still hold.
//  * ABI. Modules are C++ shared libraries loaded with dlopen(RTLD_LOCAL): build them with the
//    same compiler family and C++ standard library ABI as libporta (libstdc++ with the same
//    _GLIBCXX_USE_CXX11_ABI), since std::string, std::vector, std::unique_ptr and exceptions
//    cross the boundary. porta::Error's type info is exported from libporta (link the module
//    against libporta, never a static copy), so the error a module throws is the one core
//    catches. kInterfaceVersion guards the layout of everything in this file.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "porta/device.h"
#include "porta/dtype.h"
#include "porta/error.h"
#include "porta/ops.h"
#include "porta/quant.h"
#include "porta/serving.h"

namespace porta::backend {

/// Bumped on any change of this file's classes or structs. Version 2 is the serving wave
/// (quantized weights, paged attention, collectives' native handles, core-owned lifetimes):
/// every method it adds has a default body that raises Errc::unsupported, so a module
/// written against version 1 only needs a rebuild.
constexpr uint32_t kInterfaceVersion = 2;

enum class Op : uint8_t {
  gemm,
  attention,
  rms_norm,
  layer_norm,
  rope,
  softmax,
  silu_mul,
  gelu,
  add,
  mul,
  scale,
  cast,
  copy,
  fill,
  embedding,
  argmax,
  // interface 2
  quantize,         // dense weight -> QuantWeight (ops::quantize)
  dequantize,       // QuantWeight -> dense (ops::dequantize)
  gemm_quant,       // gemm with a quantized B
  embedding_quant,  // row gather from a quantized table
  kv_cache_write,   // scatter a step's K/V into block caches
  copy_blocks,      // block copies inside caches
  paged_attention,  // varlen attention over block tables
  count
};
const char* op_name(Op op) noexcept;

/// What an interface-2 method's default body throws: the op is not implemented by this backend.
[[noreturn]] inline void unsupported_op(Op op, const char* backend_name) {
  throw Error(Errc::unsupported, std::string(op_name(op)) + ": not implemented by the " + backend_name +
                                     " backend (interface 2 method left at its default)");
}

// ---------------------------------------------------------------------------
// Memory

/// A device allocation. Backends subclass it; core only passes it back. Owned by core;
/// destroyed (any thread) only after all queued work that uses it has completed (core's
/// lifetime rule), and also after device_lost: freeing must work on a lost device.
class Buffer {
 public:
  explicit Buffer(uint64_t bytes) : bytes_(bytes) {}
  virtual ~Buffer() = default;
  uint64_t size() const { return bytes_; }
  /// Host address of byte 0 when the memory is host-addressable (cpu backend), else null.
  virtual void* host_ptr() { return nullptr; }
  /// Interface 2 (collectives): the native device address of byte 0 (CUdeviceptr as a
  /// pointer) for NCCL-API transports, or null when the backend has none.
  virtual void* native_ptr() { return nullptr; }

 private:
  uint64_t bytes_;
};

/// A tensor as a kernel sees it. Strides in elements (may be 0 for broadcast
/// dims or negative never: core rejects negative strides). offset in bytes.
struct TensorArg {
  Buffer* buffer = nullptr;
  int64_t offset = 0;
  DType dtype = DType::f32;
  int rank = 0;
  int64_t shape[4] = {1, 1, 1, 1};
  int64_t strides[4] = {0, 0, 0, 0};

  int64_t numel() const {
    int64_t n = 1;
    for (int i = 0; i < rank; ++i) n *= shape[i];
    return n;
  }
  bool contiguous() const {
    int64_t expect = 1;
    for (int i = rank - 1; i >= 0; --i) {
      if (shape[i] != 1 && strides[i] != expect) return false;
      expect *= shape[i];
    }
    return true;
  }
  /// Host pointer of element 0 (cpu-like backends only).
  template <typename T = void>
  T* host() const {
    return reinterpret_cast<T*>(static_cast<char*>(buffer->host_ptr()) + offset);
  }
};

// ---------------------------------------------------------------------------
// Op arguments. Shapes below are after core's normalisation:
//   gemm: a [batch, M, K], b [batch, K, N], c [batch, M, N], rank 3 always; transposes
//         are folded into strides (so strides[2] of a may be != 1); a batch stride of 0 broadcasts.

struct GemmArgs {
  TensorArg a, b, c;
  const TensorArg* bias = nullptr;  // [N] (rank 1) or null
  float alpha = 1.0f, beta = 0.0f;
  ops::Activation activation = ops::Activation::none;
};

struct AttentionArgs {
  TensorArg q, k, v, out;              // [B, Hq, Sq, D], [B, Hkv, Skv, D] x2, [B, Hq, Sq, D]
  const TensorArg* kv_lens = nullptr;  // i32 [B]; values clamped to [0, Skv] by the kernel
  bool causal = false;
  float scale = 0.0f;  // resolved by core (never NaN)
};

struct NormArgs {                   // rms_norm and layer_norm over the last dim
  TensorArg x, weight, out;         // x/out same shape, weight [D]
  const TensorArg* bias = nullptr;  // layer_norm only, [D] or null
  float eps = 0.0f;
};

struct RopeArgs {
  TensorArg x, positions, out;  // x/out [B, H, S, D]; positions i32 [B, S] (batch stride 0 when shared)
  ops::RopeStyle style = ops::RopeStyle::neox;
  float theta = 10000.0f;
  int rotary_dim = 0;  // resolved (> 0, even, <= D)
  const float* freq_factors = nullptr;  // host, rotary_dim/2 positive values or null; valid during the call
};

struct SoftmaxArgs {
  TensorArg x, out;
  const TensorArg* mask = nullptr;  // broadcast to x's shape through 0 strides (same rank as x)
  float scale = 1.0f;
};

/// silu_mul, add, mul: a and b are broadcast to out's shape (same rank, 0 strides).
/// gelu, scale, cast, copy: b unused. Element-wise kinds:
enum class Elementwise : uint8_t { silu_mul, gelu_tanh, gelu_erf, add, mul, scale, cast, copy };
struct ElementwiseArgs {
  Elementwise kind = Elementwise::copy;
  TensorArg a, b, out;
  float alpha = 1.0f;  // scale
};

struct FillArgs {
  TensorArg dst;
  double value = 0;
};

struct EmbeddingArgs {
  TensorArg table, ids,
      out;  // table [V, D]; ids i32 [N] (flattened by core); out [N, D]. ids clamped by kernel
};

struct ArgmaxArgs {
  TensorArg x, out;  // x [R, C] (flattened by core), out i32 [R]
};

// ---- interface 2 argument structs: quantized weights (quant section), serving attention
// (paged section). Each wave-2 feature keeps its structs between its own markers.
// [quant structs]
/// A quantized weight [N, K] in the canonical layout (porta/quant.h). codes: i8 [N, row
/// bytes], strides[0] = bytes between rows (views along K start mid-row). scales: [N, G]
/// (f16/bf16/f32; row stride 0 when per tensor). zeros: f16 [N, G] or null. perm: i32 [K]
/// or null; its values come from the device and are clamped to [0, K) by kernels.
struct QuantWeightArg {
  QuantFormat format = QuantFormat::int4;
  int group = 128;  // > 0: elements per scale along K; kPerChannel / kPerTensor: one scale per row
  int64_t n = 0, k = 0;
  TensorArg codes, scales;
  const TensorArg* zeros = nullptr;
  const TensorArg* perm = nullptr;
};

struct QuantizeArgs {
  TensorArg w;  // [N, K] f32/f16/bf16, any strides
  QuantWeightArg out;  // contiguous storage, no perm
};

struct DequantizeArgs {
  QuantWeightArg w;
  TensorArg out;  // [N, K] f32/f16/bf16, any strides
};

/// c = act(alpha * a . w^T + beta * c + bias); a [M, K], c [M, N] (leading dims merged by core).
struct QuantGemmArgs {
  TensorArg a, c;
  QuantWeightArg w;
  const TensorArg* bias = nullptr;  // [N] or null
  float alpha = 1.0f, beta = 0.0f;
  ops::Activation activation = ops::Activation::none;
};

struct QuantEmbeddingArgs {
  QuantWeightArg table;  // [V, D]
  TensorArg ids, out;    // ids i32 [R] (clamped by the kernel), out [R, D]
};
// [/quant structs]
// [paged structs]
/// A paged KV cache as kernels see it. k/v [num_blocks, block_size, Hkv, D], strides[3] == 1,
/// block_size in {16, 32, 64}; plain: f32/f16/bf16; int8 and fp8_e4m3fn: i8 codes.
struct KvCacheArg {
  TensorArg k, v;
  KvCacheFormat format = KvCacheFormat::plain;
  TensorArg k_scales, v_scales;  // int8 only: f32 [num_blocks, block_size, Hkv], any strides
  float k_scale = 1.0f, v_scale = 1.0f;  // fp8_e4m3fn only
};

struct KvCacheWriteArgs {
  TensorArg k, v;    // [T, Hkv, D] (T >= 1), f32/f16/bf16; the cache's Hkv and D
  TensorArg slots;   // i32 or i64 [T]: skip the token unless 0 <= slot < num_blocks * block_size
  KvCacheArg cache;  // written
};

struct CopyBlocksArgs {
  KvCacheArg cache;   // read and written
  TensorArg mapping;  // i32 or i64 [N, 2] (N >= 1): (src, dst); skip a pair with an id outside [0, num_blocks)
};

/// ops::paged_attention (porta/serving.h states the semantics). B >= 1 and T >= 1. Device
/// values are not checked by core: kernels clamp cu_seqlens_q to [0, T], each query count to
/// [0, max_seqlen_q], seq_lens to [0, max_seqlen_k], and skip blocks with ids outside
/// [0, num_blocks).
struct PagedAttentionArgs {
  TensorArg q, out;         // [T, Hq, D]; q is the cache's dtype for a plain cache
  KvCacheArg cache;         // read only
  TensorArg block_tables;   // i32 [B, max_blocks]
  TensorArg cu_seqlens_q;   // i32 [B + 1]
  TensorArg seq_lens;       // i32 [B]
  const TensorArg* lse = nullptr;  // f32 [T, Hq] or null
  int64_t max_seqlen_q = 0;  // resolved by core: <= T
  int64_t max_seqlen_k = 0;  // resolved by core: <= max_blocks * block_size
  bool causal = true;
  float scale = 0.0f;   // resolved by core
  int64_t window = 0;   // 0: none
};
// [/paged structs]

// ---------------------------------------------------------------------------
// Execution

/// A point on a queue's timeline (the fence or event the device API already has). Owned by
/// core; core serialises the calls on one Event (see the contract) but they may come from any
/// thread, and the Event may be destroyed while its recorded point is still pending.
class Event {
 public:
  virtual ~Event() = default;
  /// Blocks until the recorded point has completed (returns at once when never recorded).
  /// Throws device_lost when the device was lost before the point.
  virtual void synchronize() = 0;
  /// Whether the recorded point has completed, without blocking (an event never recorded has).
  /// Core polls it to release memory that queued work read. Interface 2; the default blocks.
  virtual bool query() {
    synchronize();
    return true;
  }
  /// Milliseconds from `start` (same device) to this event; both recorded. May block.
  virtual double elapsed_ms_since(Event& start) = 0;
};

/// An in-order queue (a stream). Owned by core; used by one thread at a time. Every method
/// may enqueue and return early; errors found later are thrown by a later call (typically
/// synchronize()). The destructor may block until queued work finished (core synchronizes
/// before destroying a queue), and must not throw.
class Queue {
 public:
  virtual ~Queue() = default;

  /// Copies `bytes` from host `src` into buffer at `offset`. `src` may be reused on return
  /// (stage it if the copy is asynchronous).
  virtual void upload(Buffer& dst, uint64_t offset, const void* src, uint64_t bytes) = 0;
  /// Copies from the buffer into host `dst`; `dst` is valid once synchronize() returns.
  virtual void download(const Buffer& src, uint64_t offset, void* dst, uint64_t bytes) = 0;
  /// Blocks until everything enqueued so far completed; throws the first deferred error.
  virtual void synchronize() = 0;
  /// Makes `e` mark the current end of this queue (re-recording moves the mark).
  virtual void record(Event& e) = 0;
  /// Later work on this queue starts after `e`'s recorded point (recorded on any queue of
  /// the same device; core checks it was recorded). Must not block the host.
  virtual void wait(Event& e) = 0;

  // Ops: enqueue the kernel for already-validated arguments (see the structs above). The
  // argument struct and what its pointers point to live only for the call.

  virtual void gemm(const GemmArgs& a) = 0;
  virtual void attention(const AttentionArgs& a) = 0;
  virtual void rms_norm(const NormArgs& a) = 0;
  virtual void layer_norm(const NormArgs& a) = 0;
  virtual void rope(const RopeArgs& a) = 0;
  virtual void softmax(const SoftmaxArgs& a) = 0;
  virtual void elementwise(const ElementwiseArgs& a) = 0;
  virtual void fill(const FillArgs& a) = 0;
  virtual void embedding(const EmbeddingArgs& a) = 0;
  virtual void argmax(const ArgmaxArgs& a) = 0;

  // ---- interface 2: each defaults to raising Errc::unsupported (unsupported_op below).
  // [quant queue methods]
  virtual void quantize(const QuantizeArgs&) { unsupported_op(Op::quantize, "device's"); }
  virtual void dequantize(const DequantizeArgs&) { unsupported_op(Op::dequantize, "device's"); }
  virtual void gemm_quant(const QuantGemmArgs&) { unsupported_op(Op::gemm_quant, "device's"); }
  virtual void embedding_quant(const QuantEmbeddingArgs&) { unsupported_op(Op::embedding_quant, "device's"); }
  // [/quant queue methods]
  // [paged queue methods]
  virtual void kv_cache_write(const KvCacheWriteArgs& a) {
    (void)a;
    unsupported_op(Op::kv_cache_write, "device's");
  }
  virtual void copy_blocks(const CopyBlocksArgs& a) {
    (void)a;
    unsupported_op(Op::copy_blocks, "device's");
  }
  virtual void paged_attention(const PagedAttentionArgs& a) {
    (void)a;
    unsupported_op(Op::paged_attention, "device's");
  }
  // [/paged queue methods]
  // [comm queue methods]
  /// The queue's native stream (cudaStream_t, hipStream_t, …) for collective libraries that
  /// enqueue on it (NCCL-API transports), or null when it has none. Owned by the queue.
  virtual void* native_stream() { return nullptr; }
  // [/comm queue methods]
};

/// One device. Owned by core (never destroyed before its Buffers, Queues and Events); every
/// method may be called from several threads at once.
class Device {
 public:
  virtual ~Device() = default;
  /// Filled once at enumeration; core sets `index` and `backend`. Read-only afterwards.
  virtual DeviceInfo& info() = 0;
  /// Throws Error(out_of_memory) when the allocation cannot be satisfied (core then waits
  /// for memory released by handles but still held for queued work, and retries once). The
  /// device must stay usable after it.
  virtual std::unique_ptr<Buffer> allocate(uint64_t bytes) = 0;
  virtual std::unique_ptr<Queue> create_queue() = 0;
  /// A new, unrecorded event.
  virtual std::unique_ptr<Event> create_event() = 0;
  /// Interface 2 (collectives): makes the device current on the calling thread for a native
  /// library (cudaSetDevice) and returns its native ordinal; -1 when the backend has no native
  /// device an NCCL-API library could use.
  virtual int make_native_current() { return -1; }
  /// Whether the kernel for `op` reads/writes arbitrary strides. When false, core passes
  /// contiguous copies (and copies the output back) for non-contiguous tensors.
  virtual bool accepts_strided(Op op) const {
    (void)op;
    return true;
  }
  /// Whether `op` runs with these dtypes (inputs then output). Default: all in info().dtypes.
  virtual bool supports(Op op, DType in, DType out) const {
    (void)op;
    return (info_const().dtypes & dtype_bit(in)) && (info_const().dtypes & dtype_bit(out));
  }
  // [quant device methods]
  /// Whether `op` (quantize, dequantize, gemm_quant, embedding_quant) runs on weights of
  /// format `f` with float dtype `act` (the dense side: input of quantize, output of
  /// dequantize and embedding, activations and output of gemm). Default: no (the queue's
  /// default methods raise unsupported); core refuses the call with Errc::unsupported.
  virtual bool supports_quant(Op op, QuantFormat f, DType act) const {
    (void)op;
    (void)f;
    (void)act;
    return false;
  }
  // [/quant device methods]

 private:
  const DeviceInfo& info_const() const { return const_cast<Device*>(this)->info(); }
};

/// Settings parsed from the environment by core, handed to backends (backends never getenv).
struct Options {
  int cpu_threads = 0;  // PORTA_CPU_THREADS; 0 = one per core
  int cpu_devices = 1;  // PORTA_CPU_DEVICES: logical cpu devices (several let tests cover multi-device rules)
  /// Backend-specific switches: PORTA_<BACKEND>_<KEY>=value (e.g. PORTA_CUDA_GEMM_PATH=sm80
  /// is {"GEMM_PATH", "sm80"} for backend "cuda"). Returns fallback when unset, except for key
  /// "CACHE_DIR": then porta's cache directory (PORTA_CACHE_DIR, else $XDG_CACHE_HOME/porta, else
  /// $HOME/.cache/porta; empty when caching is off). The backend creates the directory.
  std::string (*get)(const char* backend, const char* key, const char* fallback) = nullptr;
  /// PORTA_DETERMINISTIC=1: split reductions (split-K GEMM, split-KV attention) are
  /// partitioned by the shape alone, never by the thread count or the number of compute
  /// units, so results are bitwise equal across PORTA_CPU_THREADS values and across devices
  /// that run the same kernels with different SM/CU counts. (Run to run on one device every
  /// backend is already bitwise reproducible: no float atomics, fixed reduction orders.)
  /// Appended after `get` so a module built against the older struct still reads it right.
  bool deterministic = false;
};

/// One per module, created by BackendModule::create and owned by core; outlives its Devices.
/// enumerate, shutdown and recreate are never called concurrently.
class Backend {
 public:
  virtual ~Backend() = default;
  virtual const char* name() const = 0;  // "cpu", "vulkan", ...
  /// All usable devices. May return none (no driver); then diagnostics() says why.
  /// Throws only for broken installations.
  virtual std::vector<std::unique_ptr<Device>> enumerate(const Options& opts) = 0;
  /// Human-readable notes on what enumerate() skipped and why.
  virtual std::vector<std::string> diagnostics() const { return {}; }
  /// Called once at process exit, after core synchronized and dropped the default streams:
  /// flush what must outlive the process (the Vulkan backend writes its pipeline cache here).
  /// Device objects are NOT destroyed afterwards (a vendor runtime's own exit handlers may
  /// already have run); core only destroys objects users still hold. Interface 2; no-op.
  virtual void shutdown() {}
  /// After `lost` raised device_lost: a new Device object for the same physical device
  /// (discovery is not re-run; `lost` is kept, refusing work, until its objects are gone).
  /// Interface 2; the default raises unsupported (porta::Device::recreate then tells the user
  /// to restart the process).
  virtual std::unique_ptr<Device> recreate(Device& lost, const Options& opts) {
    (void)lost;
    (void)opts;
    throw Error(Errc::unsupported, std::string(name()) + ": re-creating a lost device is not supported");
  }
};

struct BackendModule {
  uint32_t interface_version;  // kInterfaceVersion the module was built with
  const char* name;
  /// Creates the backend object (owned by core).
  Backend* (*create)();
};

// ---- services libporta offers to backends ----
enum class LogLevel : uint8_t { trace, debug, info, warn, error };
/// Logs through porta's logger (PORTA_LOG_LEVEL).
void log(LogLevel level, const std::string& message);

}  // namespace porta::backend

// Each backend module defines its entry with this macro. In plugin builds the
// symbol is porta_backend_entry; when linked into libporta it is
// porta_backend_entry_<name>, which core's static table references.
#if defined(_WIN32)
#define PORTA_BACKEND_EXPORT extern "C" __declspec(dllexport)
#else
#define PORTA_BACKEND_EXPORT extern "C" __attribute__((visibility("default")))
#endif
#ifdef PORTA_BACKEND_STATIC
#define PORTA_BACKEND_ENTRY_NAME(name) porta_backend_entry_##name
#else
#define PORTA_BACKEND_ENTRY_NAME(name) porta_backend_entry
#endif
#define PORTA_DEFINE_BACKEND(name, factory)                                                         \
  PORTA_BACKEND_EXPORT const ::porta::backend::BackendModule* PORTA_BACKEND_ENTRY_NAME(name)() {    \
    static const ::porta::backend::BackendModule module{::porta::backend::kInterfaceVersion, #name, \
                                                        factory};                                   \
    return &module;                                                                                 \
  }
