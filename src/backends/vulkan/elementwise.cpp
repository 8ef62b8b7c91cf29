// Element-wise ops: the float kinds (elementwise.comp) and cast/copy (cast_copy.comp).
#include <cstring>

#include "backends/vulkan/ops.h"

namespace porta::vk {
namespace {

void cast_copy(VulkanQueue& q, const ElementwiseArgs& e) {
  const char* op = e.kind == Elementwise::copy ? "copy" : "cast";
  struct {
    uint32_t shape[4], so[4], sa[4];
    uint32_t off_o, off_a, n, dt_o, dt_a;
  } pc{};
  const Dims4 o = dims4(e.out, op);
  std::memcpy(pc.shape, o.shape, sizeof pc.shape);
  std::memcpy(pc.so, o.strides, sizeof pc.so);
  strides4(e.a, pc.sa, op);
  pc.off_o = u32(e.out.offset, op, "byte offset");
  pc.off_a = u32(e.a.offset, op, "byte offset");
  pc.n = u32(e.out.numel(), op, "element count");
  pc.dt_o = static_cast<uint32_t>(e.out.dtype);
  pc.dt_a = static_cast<uint32_t>(e.a.dtype);
  const Pipeline& p = q.device().pipelines().get("cast_copy", 2, {});
  q.dispatch(p, {ref(e.a, false), ref(e.out, true)}, &pc, sizeof pc, groups(q, pc.n, 256));
}

}  // namespace

void op_elementwise(VulkanQueue& q, const ElementwiseArgs& e) {
  if (e.kind == Elementwise::cast || e.kind == Elementwise::copy) return cast_copy(q, e);
  const bool binary =
      e.kind == Elementwise::silu_mul || e.kind == Elementwise::add || e.kind == Elementwise::mul;
  const char* op = "elementwise";
  struct {
    uint32_t shape[4], so[4], sa[4], sb[4];
    uint32_t off_o, off_a, off_b, n;
    uint32_t kind, dt_o, dt_a, dt_b;
    float alpha;
  } pc{};
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
  const Pipeline& p = q.device().pipelines().get("elementwise", 3, {});
  q.dispatch(p, {ref(e.a, false), ref(b, false), ref(e.out, true)}, &pc, sizeof pc, groups(q, pc.n, 256));
}

}  // namespace porta::vk
