// GEMM dispatch: picks the small-M (decode) kernel, the tiled kernel, or the tiled kernel
// with split-K, with tile sizes from the device's tuning row (tuning.cpp). Where the device
// limits loop trips (llvmpipe), a K longer than one invocation may loop over runs as passes
// over K ranges that add into f32 partial sums in order, then one epilogue pass.
#include <algorithm>

#include "backends/vulkan/ops.h"
#include "backends/vulkan/push.h"

namespace porta::vk {
namespace {

uint32_t code(DType t) { return static_cast<uint32_t>(t); }

}  // namespace

void op_gemm(VulkanQueue& q, const GemmArgs& g) {
  const char* op = "gemm";
  VulkanDevice& dev = q.device();
  const Tuning& tune = dev.tuning();
  if (dev.settings().coopmat == "1" && !dev.caps().coopmat_enabled)
    throw Error(Errc::unsupported,
                "vulkan: gemm: PORTA_VULKAN_COOPMAT=1 forces the cooperative-matrix path, but " +
                    dev.info().name +
                    (dev.caps().coopmat_nv ? " runs a porta build whose glslc lacked GL_NV_cooperative_matrix"
                                           : " does not expose VK_NV_cooperative_matrix") +
                    "; unset PORTA_VULKAN_COOPMAT or set it to 0");
  const int64_t batch = g.c.shape[0];
  GemmPush pc{};
  pc.M = u32(g.c.shape[1], op, "M");
  pc.N = u32(g.c.shape[2], op, "N");
  pc.K = u32(g.a.shape[2], op, "K");
  if (batch == 0 || pc.M == 0 || pc.N == 0) return;
  pc.off_a = u32(g.a.offset, op, "byte offset");
  pc.off_b = u32(g.b.offset, op, "byte offset");
  pc.off_c = u32(g.c.offset, op, "byte offset");
  pc.sa_b = u32(g.a.strides[0], op, "stride");
  pc.sa_m = u32(g.a.strides[1], op, "stride");
  pc.sa_k = u32(g.a.strides[2], op, "stride");
  pc.sb_b = u32(g.b.strides[0], op, "stride");
  pc.sb_k = u32(g.b.strides[1], op, "stride");
  pc.sb_n = u32(g.b.strides[2], op, "stride");
  pc.sc_b = u32(g.c.strides[0], op, "stride");
  pc.sc_m = u32(g.c.strides[1], op, "stride");
  pc.sc_n = u32(g.c.strides[2], op, "stride");
  pc.act = static_cast<uint32_t>(g.activation);
  pc.alpha = g.alpha;
  pc.beta = g.beta;
  pc.splits = 1;
  pc.k_chunk = std::max<uint32_t>(pc.K, 1);
  pc.dt_bias = code(g.c.dtype);
  pc.dt_c = code(g.c.dtype);
  const TensorArg& bias = g.bias ? *g.bias : g.c;
  if (g.bias) {
    pc.has_bias = 1;
    pc.off_bias = u32(g.bias->offset, op, "byte offset");
    pc.s_bias = u32(g.bias->strides[0], op, "stride");
    pc.dt_bias = code(g.bias->dtype);
  }
  const uint32_t max_z = std::min<uint32_t>(dev.caps().max_groups[2], 65535u);
  const uint32_t ea = static_cast<uint32_t>(dtype_size(g.a.dtype)),
                 eb = static_cast<uint32_t>(dtype_size(g.b.dtype)),
                 ec = static_cast<uint32_t>(dtype_size(g.c.dtype));

  // Batches beyond the z-dimension limit go in several dispatches with shifted offsets.
  auto for_batches = [&](uint32_t per, auto&& run) {
    GemmPush p = pc;
    for (int64_t b0 = 0; b0 < batch; b0 += per) {
      const uint32_t nb = static_cast<uint32_t>(std::min<int64_t>(per, batch - b0));
      p.off_a = u32(g.a.offset + b0 * g.a.strides[0] * ea, op, "byte offset");
      p.off_b = u32(g.b.offset + b0 * g.b.strides[0] * eb, op, "byte offset");
      p.off_c = u32(g.c.offset + b0 * g.c.strides[0] * ec, op, "byte offset");
      run(p, nb);
    }
  };

  // Matrix units (NV cooperative matrix, 16x16x16 f16): f16 operands with unit inner strides,
  // 16-byte aligned rows and whole 128x128x32 tiles; anything else takes the scalar kernels.
  const uint64_t trips = max_trips(dev);
  if (dev.caps().coopmat_enabled && pc.M > tune.small_m_max && pc.K / 32 < trips && g.a.dtype == DType::f16 &&
      g.b.dtype == DType::f16 && dev.caps().subgroup_size == 32) {
    const bool b_kn = pc.sb_n == 1, b_nk = pc.sb_k == 1;
    const uint32_t b_row = b_kn ? pc.sb_k : pc.sb_n;
    const bool fits = pc.sa_k == 1 && (b_kn || b_nk) && pc.M % 128 == 0 && pc.N % 128 == 0 &&
                      pc.K % 32 == 0 && pc.sa_m % 8 == 0 && b_row % 8 == 0 && pc.off_a % 16 == 0 &&
                      pc.off_b % 16 == 0 && (batch == 1 || (pc.sa_b % 8 == 0 && pc.sb_b % 8 == 0));
    if (fits) {
      const Pipeline& p = dev.pipelines().get("gemm_coopmat_nv", 4, {b_kn ? 1u : 0u});
      for_batches(max_z, [&](const GemmPush& p2, uint32_t nb) {
        q.dispatch(p, {ref(g.a, false), ref(g.b, false), ref(g.c, true), ref(bias, false)}, &p2, sizeof p2,
                   pc.N / 128, pc.M / 128, nb);
      });
      return;
    }
  }

  // Decode / small M with B read along K: stream the weight once.
  // (Its lanes step K by 64 at the narrowest; longer K takes the tiled passes below.)
  if (pc.M <= tune.small_m_max && pc.sb_k == 1 && pc.N >= 4 && pc.K / 64 < trips) {
    const bool half_b = g.b.dtype == DType::f16 || g.b.dtype == DType::bf16;
    const uint32_t pair =
        half_b && pc.K % 2 == 0 && pc.sb_n % 2 == 0 && pc.off_b % 4 == 0 && (pc.sb_b % 2 == 0 || batch == 1)
            ? 1
            : 0;
    // Eight 16-bit weights per 16-byte read where rows are 16-byte aligned.
    const uint32_t octet =
        half_b && pc.K % 8 == 0 && pc.sb_n % 8 == 0 && pc.off_b % 16 == 0 && (pc.sb_b % 8 == 0 || batch == 1)
            ? 1
            : 0;
    const Pipeline& p =
        dev.pipelines().get("gemm_small_m", 4, {pc.M, code(g.a.dtype), code(g.b.dtype), pair, octet});
    const uint32_t gx = (pc.N + 3) / 4;
    if (gx > dev.caps().max_groups[0])
      throw Error(Errc::unsupported, "vulkan: gemm: N too large for one dispatch");
    for_batches(max_z, [&](const GemmPush& p2, uint32_t nb) {
      q.dispatch(p, {ref(g.a, false), ref(g.b, false), ref(g.c, true), ref(bias, false)}, &p2, sizeof p2, gx,
                 nb);
    });
    return;
  }

  const GemmTiling& t = tune.gemm;
  const uint32_t gx = (pc.N + t.block_n() - 1) / t.block_n(), gy = (pc.M + t.block_m() - 1) / t.block_m();
  if (gx > dev.caps().max_groups[0] || gy > dev.caps().max_groups[1])
    throw Error(Errc::unsupported, "vulkan: gemm: C of " + std::to_string(pc.M) + " x " +
                                       std::to_string(pc.N) +
                                       " needs more workgroups than one dispatch allows; split it");
  // Split K when C has too few tiles to fill the device.
  uint32_t splits = 1;
  const uint64_t tiles = uint64_t{gx} * gy * static_cast<uint64_t>(batch);
  if (tune.splitk_max_tiles > 0 && tiles <= tune.splitk_max_tiles && pc.K >= tune.splitk_min_k)
    splits = static_cast<uint32_t>(std::min<uint64_t>({16, pc.K / 512, (2 * tune.splitk_max_tiles) / tiles}));
  splits = std::max<uint32_t>(splits, 1);
  // vec4 reads on the direct (no shared memory) path: f32 operands, unit inner strides,
  // 16-byte aligned rows and K, N multiples of 4.
  const bool vec4 = !t.use_shared && t.thread_n % 4 == 0 && g.a.dtype == DType::f32 &&
                    g.b.dtype == DType::f32 && pc.sa_k == 1 && pc.sb_n == 1 && pc.K % 4 == 0 &&
                    pc.N % 4 == 0 && pc.sa_m % 4 == 0 && pc.sb_k % 4 == 0 &&
                    (batch == 1 || (pc.sa_b % 4 == 0 && pc.sb_b % 4 == 0)) && pc.off_a % 16 == 0 &&
                    pc.off_b % 16 == 0;
  if (vec4) splits = 1;
  // K per dispatch: `splits` parallel ranges of k_chunk, each within the loop-trip limit.
  // The K loop steps by BK with shared memory, by 4 with vec4, else by 1; a shared-memory
  // step also runs its staging loops and (if not unrolled) the BK loop: their back-edges count.
  const uint64_t k_step = t.use_shared ? t.block_k : vec4 ? 4 : 1;
  const uint64_t wg = uint64_t{t.wg_x} * t.wg_y;
  const uint64_t edges = t.use_shared ? 1 + (uint64_t{t.block_m()} * t.block_k + wg - 1) / wg +
                                            (uint64_t{t.block_n()} * t.block_k + wg - 1) / wg + t.block_k
                                      : 1;
  const uint64_t k_cap = std::max<uint64_t>(
      std::min<uint64_t>(trips / edges, uint64_t{1} << 31) * k_step / t.block_k * t.block_k, t.block_k);
  pc.k_chunk = (pc.K + splits - 1) / splits;
  pc.k_chunk = (pc.k_chunk + t.block_k - 1) / t.block_k * t.block_k;
  if (pc.k_chunk > k_cap) pc.k_chunk = static_cast<uint32_t>(k_cap);
  const uint64_t span = uint64_t{splits} * pc.k_chunk;
  const uint32_t passes = static_cast<uint32_t>((pc.K + span - 1) / span);
  const bool partials = splits > 1 || passes > 1;
  const std::vector<uint32_t> spec = {
      t.wg_x,       t.wg_y,          t.thread_m,      t.thread_n,         t.block_k,
      t.use_shared, code(g.a.dtype), code(g.b.dtype), partials ? 1u : 0u, vec4 ? 1u : 0u};
  const Pipeline& tiled = dev.pipelines().get("gemm_tiled", 5, spec);
  if (!partials) {
    pc.k_chunk = std::max<uint32_t>(pc.K, 1);
    for_batches(max_z, [&](const GemmPush& p2, uint32_t nb) {
      q.dispatch(tiled, {ref(g.a, false), ref(g.b, false), ref(g.c, true), ref(bias, false), ref(g.c, true)},
                 &p2, sizeof p2, gx, gy, nb);
    });
    return;
  }
  // f32 partial sums [splits][batches][M][N]: as many batches per round as a binding holds
  // (split-K itself runs only when C has few tiles, so then all of them).
  pc.splits = splits;
  const uint64_t per_batch = uint64_t{splits} * pc.M * pc.N * 4;
  const uint64_t fit = std::min<uint64_t>(dev.info().max_allocation_bytes, uint64_t{1} << 31) / per_batch;
  if (fit == 0)
    throw Error(Errc::unsupported, "vulkan: gemm: the f32 partial sums of a " + std::to_string(pc.M) + " x " +
                                       std::to_string(pc.N) + " C (K = " + std::to_string(pc.K) +
                                       " in passes) exceed one binding of " + dev.info().name +
                                       "; split C along M");
  const uint32_t per = static_cast<uint32_t>(std::min<uint64_t>({fit, max_z / splits, uint64_t(batch)}));
  Allocation part = q.scratch(per * per_batch, "split-K partial sums");
  const Pipeline& reduce = dev.pipelines().get("gemm_splitk_reduce", 3, {});
  for_batches(per, [&](const GemmPush& p2, uint32_t nb) {
    GemmPush p = p2;
    for (uint32_t pass = 0; pass < passes; ++pass) {  // in order: each adds to the last one's sums
      p.k_base = static_cast<uint32_t>(pass * span);
      p.accumulate = pass > 0 ? 1 : 0;
      q.dispatch(tiled, {ref(g.a, false), ref(g.b, false), ref(g.c, false), ref(bias, false), ref(part, true)},
                 &p, sizeof p, gx, gy, nb * splits);
    }
    GemmPush r = p2;
    r.sa_b = nb;  // the reduce kernel reads the batch count here
    q.dispatch(reduce, {ref(part, false), ref(g.c, true), ref(bias, false)}, &r, sizeof r,
               groups(q, uint64_t{nb} * pc.M * pc.N, 256));
  });
}

}  // namespace porta::vk
