#version 450
// Element-wise float ops in f32: silu_mul, gelu (tanh and erf), add, mul, scale. a and b
// are broadcast to out's shape through 0 strides; any float dtype in and out. When every
// operand is dense with out's shape (`contiguous`), element i sits at i; otherwise the 4-d
// index advances by the grid stride with carries (no division per element).
#include "common.glsl"
layout(local_size_x = 256) in;
layout(std430, binding = 0) buffer A { uint w[]; } ta;
layout(std430, binding = 1) buffer B { uint w[]; } tb;
layout(std430, binding = 2) buffer O { uint w[]; } to;
PORTA_TENSOR_IO(ta)
PORTA_TENSOR_IO(tb)
PORTA_TENSOR_IO(to)
#include "ops_push.h"
layout(push_constant) uniform PC { PORTA_ELEMENTWISE_PUSH(PORTA_OPS_U, PORTA_OPS_F, PORTA_OPS_V) } pc;

// Same codes as backend::Elementwise.
#define K_SILU_MUL 0u
#define K_GELU_TANH 1u
#define K_GELU_ERF 2u
#define K_ADD 3u
#define K_MUL 4u
#define K_SCALE 5u

// erfc with |error| < 1.2e-7 everywhere (Numerical Recipes' Chebyshev fit), and no
// cancellation for large positive z where gelu_erf needs the small tail.
float erfc_approx(float z) {
  const float a = abs(z);
  const float t = 1.0 / (1.0 + 0.5 * a);
  float p = 0.17087277;
  p = -0.82215223 + t * p;
  p = 1.48851587 + t * p;
  p = -1.13520398 + t * p;
  p = 0.27886807 + t * p;
  p = -0.18628806 + t * p;
  p = 0.09678418 + t * p;
  p = 0.37409196 + t * p;
  p = 1.00002368 + t * p;
  p = -a * a - 1.26551223 + t * p;
  const float r = t * exp(p);
  return z >= 0.0 ? r : 2.0 - r;
}

// Element offset of index idx through strides s.
uint elem(uvec4 idx, uvec4 s) { return idx.x * s.x + idx.y * s.y + idx.z * s.z + idx.w * s.w; }

// x * sigmoid(k) written as x / (1 + e^-k): no inf/inf for large |x|.
float x_sigmoid(float x, float k) { return x / (1.0 + exp(-k)); }

float apply(float x, float y) {
  if (pc.kind == K_SILU_MUL) return x_sigmoid(x, x) * y;
  if (pc.kind == K_GELU_TANH) return x_sigmoid(x, 1.5957691216057308 * (x + 0.044715 * x * x * x));
  if (pc.kind == K_GELU_ERF) return 0.5 * x * erfc_approx(-x * 0.7071067811865476);
  if (pc.kind == K_ADD) return x + y;
  if (pc.kind == K_MUL) return x * y;
  return pc.alpha * x;
}

void main() {
  const uint ea = dt_size(pc.dt_a), eb = dt_size(pc.dt_b), eo = dt_size(pc.dt_o);
  const bool binary = pc.kind == K_SILU_MUL || pc.kind == K_ADD || pc.kind == K_MUL;
  const uint stride = gl_NumWorkGroups.x * 256u;
  if (pc.contiguous != 0u) {
    for (uint i = gl_GlobalInvocationID.x; i < pc.n; i += stride) {
      const float x = ta_load(pc.dt_a, pc.off_a + i * ea);
      const float y = binary ? tb_load(pc.dt_b, pc.off_b + i * eb) : 0.0;
      to_store(pc.dt_o, pc.off_o + i * eo, apply(x, y));
    }
    return;
  }
  uvec4 idx = index4(gl_GlobalInvocationID.x, pc.shape);
  const uvec4 step = index4(stride, pc.shape);
  for (uint i = gl_GlobalInvocationID.x; i < pc.n; i += stride) {
    const float x = ta_load(pc.dt_a, pc.off_a + elem(idx, pc.sa) * ea);
    const float y = binary ? tb_load(pc.dt_b, pc.off_b + elem(idx, pc.sb) * eb) : 0.0;
    to_store(pc.dt_o, pc.off_o + elem(idx, pc.so) * eo, apply(x, y));
    advance4(idx, step, pc.shape);
  }
}
