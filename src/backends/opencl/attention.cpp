// attention (attention.cl): one work-item per query row; when rows are too few to occupy
// the device (decode), KV is split into chunks processed in parallel and combined.
#include <algorithm>
#include <climits>

#include "backends/opencl/queue.h"

namespace porta::opencl {

void ClQueue::attention(const backend::AttentionArgs& a) {
  const View4 q = view4(a.q), k = view4(a.k), v = view4(a.v), o = view4(a.out);
  const int64_t B = q.dim(0), Hq = q.dim(1), Sq = q.dim(2), D = q.dim(3), Hkv = k.dim(1), Skv = k.dim(2);
  const int64_t rows = B * Hq * Sq;
  if (rows == 0) return;
  if (rows > INT_MAX || Skv > INT_MAX)
    throw Error(Errc::unsupported, "opencl: attention with " + std::to_string(rows) + " query rows and Skv " +
                                       std::to_string(Skv) + ": both must stay below 2^31 on this backend");
  const AttentionParams& p = dev_.tuning().attention;
  int64_t splits = 1;
  if (rows < p.target_items && Skv > p.decode_chunk)
    splits =
        std::min<int64_t>((Skv + p.decode_chunk - 1) / p.decode_chunk, (p.target_items + rows - 1) / rows);
  const int64_t chunk = (Skv + splits - 1) / std::max<int64_t>(splits, 1);
  cl_mem work = o.mem;
  if (splits > 1) work = scratch(1, static_cast<uint64_t>(rows * splits * (D + 2)) * sizeof(float));
  cl_mem lens = o.mem;
  cl_long lens_off = 0, lens_st = 0;
  if (a.kv_lens) {
    lens = mem_of(*a.kv_lens);
    lens_off = a.kv_lens->offset;
    lens_st = a.kv_lens->strides[0];
  }
  const std::string opts = base_options(dev_) + " -DDT=" + std::to_string(static_cast<int>(a.q.dtype));
  const size_t local[2] = {dev_.tuning().cls == DeviceClass::cpu ? size_t{4} : size_t{64}, 1};
  const size_t global[2] = {static_cast<size_t>(rows), static_cast<size_t>(splits)};
  Launch(kernel("attention", opts, "attention_rows"), "attention")
      .arg(cl_int{static_cast<int>(B)})
      .arg(cl_int{static_cast<int>(Hq)})
      .arg(cl_int{static_cast<int>(Hkv)})
      .arg(cl_int{static_cast<int>(Sq)})
      .arg(cl_int{static_cast<int>(Skv)})
      .arg(cl_int{static_cast<int>(D)})
      .arg(cl_int{a.causal ? 1 : 0})
      .arg(cl_float{a.scale})
      .arg(cl_int{static_cast<int>(splits)})
      .arg(cl_int{static_cast<int>(chunk)})
      .tensor(q)
      .tensor(k)
      .tensor(v)
      .tensor(o)
      .arg(lens)
      .arg(lens_off)
      .arg(lens_st)
      .arg(cl_int{a.kv_lens ? 1 : 0})
      .arg(work)
      .run(q_, 2, global, local);
  if (splits == 1) return;
  const size_t cglobal = grid_items(rows * D), clocal = kGroup;
  Launch(kernel("attention", opts, "attention_combine"), "attention (split-KV combine)")
      .arg(cl_int{static_cast<int>(B)})
      .arg(cl_int{static_cast<int>(Hq)})
      .arg(cl_int{static_cast<int>(Sq)})
      .arg(cl_int{static_cast<int>(D)})
      .arg(cl_int{static_cast<int>(splits)})
      .tensor(o)
      .arg(work)
      .run(q_, 1, &cglobal, &clocal);
}

}  // namespace porta::opencl
