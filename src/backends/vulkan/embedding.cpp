// embedding: a row gather (embedding.comp); ids outside [0, V) give zero rows.
#include "backends/vulkan/ops.h"
#include "backends/vulkan/push.h"

namespace porta::vk {

void op_embedding(VulkanQueue& q, const EmbeddingArgs& a) {
  const char* op = "embedding";
  EmbeddingPush pc{};
  pc.V = u32(a.table.shape[0], op, "vocabulary");
  pc.D = u32(a.table.shape[1], op, "row length");
  pc.N = u32(a.ids.shape[0], op, "ids");
  pc.dt = static_cast<uint32_t>(a.table.dtype);
  pc.st_v = u32(a.table.strides[0], op, "stride");
  pc.st_d = u32(a.table.strides[1], op, "stride");
  pc.s_ids = u32(a.ids.strides[0], op, "stride");
  pc.so_n = u32(a.out.strides[0], op, "stride");
  pc.so_d = u32(a.out.strides[1], op, "stride");
  pc.off_t = u32(a.table.offset, op, "byte offset");
  pc.off_ids = u32(a.ids.offset, op, "byte offset");
  pc.off_o = u32(a.out.offset, op, "byte offset");
  const uint64_t total = uint64_t{pc.N} * pc.D;
  u32(static_cast<int64_t>(total), op, "output elements");
  const Pipeline& p = q.device().pipelines().get("embedding", 3, {});
  q.dispatch(p, {ref(a.table, false), ref(a.ids, false), ref(a.out, true)}, &pc, sizeof pc,
             groups(q, total, 256));
}

}  // namespace porta::vk
