// attention: few query rows per KV head (decode, speculative decode) run the split-KV kernel
// of attention_decode.cl, which reads each K/V element once per GQA group and splits KV until
// the device is full; everything else runs the tiled prefill kernel of attention_prefill.cl.
// Tile shapes come from the device class's row of the tuning table.
#include <algorithm>
#include <climits>

#include "backends/opencl/queue.h"

namespace porta::opencl {
namespace {

struct LensArg {
  cl_mem mem;
  cl_long off = 0, st = 0;
  cl_int has = 0;
};

LensArg lens_arg(const backend::AttentionArgs& a, cl_mem fallback) {
  if (!a.kv_lens) return {fallback};
  return {mem_of(*a.kv_lens), static_cast<cl_long>(a.kv_lens->offset),
          static_cast<cl_long>(a.kv_lens->strides[0]), 1};
}

}  // namespace

void ClQueue::attention(const backend::AttentionArgs& a) {
  const View4 q = view4(a.q), k = view4(a.k), v = view4(a.v), o = view4(a.out);
  const int64_t B = q.dim(0), Hq = q.dim(1), Sq = q.dim(2), D = q.dim(3), Hkv = k.dim(1), Skv = k.dim(2);
  const int64_t rows = B * Hq * Sq;
  if (rows == 0) return;
  if (rows > INT_MAX || Skv > INT_MAX)
    throw Error(Errc::unsupported, "opencl: attention with " + std::to_string(rows) + " query rows and Skv " +
                                       std::to_string(Skv) + ": both must stay below 2^31 on this backend");
  const AttentionParams& p = dev_.tuning().attention;
  const LensArg lens = lens_arg(a, o.mem);
  const std::string dt = " -DDT=" + std::to_string(static_cast<int>(a.q.dtype));
  const int64_t group_rows = (Hq / Hkv) * Sq;

  if (group_rows <= std::min(p.decode_max_rows, 16)) {
    // Split KV so that (batch, KV head, split) items fill the device; chunks are whole 16-key blocks.
    const int64_t items = B * Hkv;
    int64_t splits = 1;
    if (items < p.decode_items && Skv > p.decode_min_chunk)
      splits =
          std::min((Skv + p.decode_min_chunk - 1) / p.decode_min_chunk, (p.decode_items + items - 1) / items);
    int64_t chunk = (Skv + splits - 1) / splits;
    chunk = (chunk + 15) / 16 * 16;
    splits = std::max<int64_t>(1, (Skv + chunk - 1) / chunk);
    cl_mem work = o.mem;
    if (splits > 1) work = scratch(1, static_cast<uint64_t>(rows * splits * (D + 2)) * sizeof(float));
    // The grouped kernel (CPU rows): head dim fixed at compile time, K/V rows read along D.
    const bool grouped = p.decode_grouped != 0 && (p.decode_vec == 8 || p.decode_vec == 16) &&
                         D % p.decode_vec == 0 && k.st(3) == 1 && v.st(3) == 1;
    std::string opts = base_options(dev_) + dt + " -DVW=" + std::to_string(p.decode_vec);
    if (grouped)
      opts += " -DHEAD_D=" + std::to_string(D) + " -DSPAN=" + std::to_string(p.decode_span) +
              " -DPFD=" + std::to_string(p.decode_prefetch) +
              " -DPF_L2=" + std::to_string(p.decode_prefetch_l2);
    if (items * splits > INT_MAX)
      throw Error(Errc::unsupported, "opencl: attention decode with " + std::to_string(items) +
                                         " (batch, KV head) pairs is too large for this backend");
    const size_t local = static_cast<size_t>(std::max(1, p.decode_wg));
    const size_t global = static_cast<size_t>(items * splits);
    const char* name = grouped ? "attention_decode_grouped" : "attention_decode";
    Launch launch(kernel("attention_decode", opts, name), "attention (split-KV decode)");
    launch.arg(cl_int{static_cast<int>(B)})
        .arg(cl_int{static_cast<int>(Hq)})
        .arg(cl_int{static_cast<int>(Hkv)})
        .arg(cl_int{static_cast<int>(Sq)})
        .arg(cl_int{static_cast<int>(Skv)});
    if (!grouped) launch.arg(cl_int{static_cast<int>(D)});
    launch.arg(cl_int{a.causal ? 1 : 0})
        .arg(cl_float{a.scale})
        .arg(cl_int{static_cast<int>(splits)})
        .arg(cl_int{static_cast<int>(chunk)})
        .tensor(q)
        .tensor(k)
        .tensor(v)
        .tensor(o)
        .arg(lens.mem)
        .arg(lens.off)
        .arg(lens.st)
        .arg(lens.has)
        .arg(work)
        .run(q_, 1, &global, &local);
    if (splits == 1) return;
    if (grouped) {
      const size_t rglobal = static_cast<size_t>(rows), rlocal = 1;
      Launch(kernel("attention_decode", opts, "attention_combine_rows"), "attention (split-KV combine)")
          .arg(cl_int{static_cast<int>(Hq)})
          .arg(cl_int{static_cast<int>(Sq)})
          .arg(cl_int{static_cast<int>(splits)})
          .tensor(o)
          .arg(work)
          .run(q_, 1, &rglobal, &rlocal);
      return;
    }
    const size_t cglobal[2] = {static_cast<size_t>(D), static_cast<size_t>(rows)};
    const size_t clocal[2] = {static_cast<size_t>(D), 1};
    Launch(kernel("attention_decode", opts, "attention_combine"), "attention (split-KV combine)")
        .arg(cl_int{static_cast<int>(Hq)})
        .arg(cl_int{static_cast<int>(Sq)})
        .arg(cl_int{static_cast<int>(D)})
        .arg(cl_int{static_cast<int>(splits)})
        .tensor(o)
        .arg(work)
        .run(q_, 2, cglobal, clocal);
    return;
  }

  // Prefill: a group per query block; the K/V tile (2 * keys * D floats of local memory)
  // shrinks until it fits the device.
  const int tile_d = p.fixed_head_dim ? static_cast<int>(D) : 256;
  const int wg = std::max(1, std::min(p.prefill_wg, static_cast<int>(dev_.traits().max_workgroup)));
  int keys = std::max(1, p.prefill_keys);
  while (keys > 4 && uint64_t{8} * keys * tile_d > dev_.traits().local_mem) keys /= 2;
  const int64_t block = int64_t{wg} * p.prefill_rows;
  const int64_t qblocks = (Sq + block - 1) / block;
  if (qblocks > INT_MAX / wg || B * Hq > INT_MAX)
    throw Error(Errc::unsupported, "opencl: attention prefill grid of " + std::to_string(qblocks) + " x " +
                                       std::to_string(B * Hq) + " groups is too large for this backend");
  std::string opts = base_options(dev_) + dt + " -DRV=" + std::to_string(p.prefill_rows) +
                     " -DWG=" + std::to_string(wg) + " -DBK=" + std::to_string(keys);
  if (p.fixed_head_dim) opts += " -DHEAD_D=" + std::to_string(D);
  const size_t local[2] = {static_cast<size_t>(wg), 1};
  const size_t global[2] = {static_cast<size_t>(qblocks * wg), static_cast<size_t>(B * Hq)};
  Launch(kernel("attention_prefill", opts, "attention_prefill"), "attention (prefill)")
      .arg(cl_int{static_cast<int>(Hq)})
      .arg(cl_int{static_cast<int>(Hkv)})
      .arg(cl_int{static_cast<int>(Sq)})
      .arg(cl_int{static_cast<int>(Skv)})
      .arg(cl_int{static_cast<int>(D)})
      .arg(cl_int{a.causal ? 1 : 0})
      .arg(cl_float{a.scale})
      .arg(cl_int{static_cast<int>(qblocks)})
      .tensor(q)
      .tensor(k)
      .tensor(v)
      .tensor(o)
      .arg(lens.mem)
      .arg(lens.off)
      .arg(lens.st)
      .arg(lens.has)
      .run(q_, 2, global, local);
}

}  // namespace porta::opencl
