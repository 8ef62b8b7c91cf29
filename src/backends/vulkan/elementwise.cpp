// Element-wise ops: the float kinds (elementwise.comp) and cast/copy (cast_copy.comp).
#include <cstring>

#include "backends/vulkan/ops.h"
#include "backends/vulkan/push.h"

namespace porta::vk {
namespace {

// Dense with out's shape (no broadcast, no gaps): element i of the op sits at element i.
bool dense_like(const TensorArg& t, const TensorArg& out) {
  return t.contiguous() && out.contiguous() && t.numel() == out.numel();
}

void cast_copy(VulkanQueue& q, const ElementwiseArgs& e) {
  const char* op = e.kind == Elementwise::copy ? "copy" : "cast";
  const bool dense = dense_like(e.a, e.out);
  const int64_t bytes = e.out.numel() * static_cast<int64_t>(dtype_size(e.out.dtype));
  if (e.kind == Elementwise::copy && dense && e.a.offset % 16 == 0 && e.out.offset % 16 == 0 &&
      bytes % 16 == 0) {
    CopyVec4Push pc{u32(e.out.offset / 16, op, "byte offset"), u32(e.a.offset / 16, op, "byte offset"),
         u32(bytes / 16, op, "element count")};
    const Pipeline& p = q.device().pipelines().get("copy_vec4", 2, {});
    q.dispatch(p, {ref(e.a, false), ref(e.out, true)}, &pc, sizeof pc, groups(q, pc.n, 256));
    return;
  }
  CastCopyPush pc{};
  const Dims4 o = dims4(e.out, op);
  std::memcpy(pc.shape, o.shape, sizeof pc.shape);
  std::memcpy(pc.so, o.strides, sizeof pc.so);
  strides4(e.a, pc.sa, op);
  pc.off_o = u32(e.out.offset, op, "byte offset");
  pc.off_a = u32(e.a.offset, op, "byte offset");
  pc.n = u32(e.out.numel(), op, "element count");
  pc.dt_o = static_cast<uint32_t>(e.out.dtype);
  pc.dt_a = static_cast<uint32_t>(e.a.dtype);
  pc.contiguous = dense ? 1 : 0;
  const Pipeline& p = q.device().pipelines().get("cast_copy", 2, {});
  q.dispatch(p, {ref(e.a, false), ref(e.out, true)}, &pc, sizeof pc, groups(q, pc.n, 256));
}

}  // namespace

void op_elementwise(VulkanQueue& q, const ElementwiseArgs& e) {
  if (e.kind == Elementwise::cast || e.kind == Elementwise::copy) return cast_copy(q, e);
  const bool binary =
      e.kind == Elementwise::silu_mul || e.kind == Elementwise::add || e.kind == Elementwise::mul;
  const char* op = "elementwise";
  ElementwisePush pc{};
  const Dims4 o = dims4(e.out, op);
  std::memcpy(pc.shape, o.shape, sizeof pc.shape);
  std::memcpy(pc.so, o.strides, sizeof pc.so);
  strides4(e.a, pc.sa, op);
  pc.off_o = u32(e.out.offset, op, "byte offset");
  pc.off_a = u32(e.a.offset, op, "byte offset");
  pc.n = u32(e.out.numel(), op, "element count");
  pc.kind = static_cast<uint32_t>(e.kind);
  pc.dt_o = static_cast<uint32_t>(e.out.dtype);
  pc.dt_a = static_cast<uint32_t>(e.a.dtype);
  pc.alpha = e.alpha;
  const TensorArg& b = binary ? e.b : e.a;  // unary kinds bind a twice (never read as b)
  if (binary) {
    strides4(e.b, pc.sb, op);
    pc.off_b = u32(e.b.offset, op, "byte offset");
    pc.dt_b = static_cast<uint32_t>(e.b.dtype);
  } else {
    pc.dt_b = pc.dt_a;
  }
  pc.contiguous = dense_like(e.a, e.out) && (!binary || dense_like(e.b, e.out)) ? 1 : 0;
  const Pipeline& p = q.device().pipelines().get("elementwise", 3, {});
  q.dispatch(p, {ref(e.a, false), ref(b, false), ref(e.out, true)}, &pc, sizeof pc, groups(q, pc.n, 256));
}

}  // namespace porta::vk
