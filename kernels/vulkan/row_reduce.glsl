// Workgroup-wide sum and max for the row kernels (one workgroup per row, ROW_THREADS
// invocations). Every invocation gets the result.
#ifndef PORTA_ROW_REDUCE_GLSL
#define PORTA_ROW_REDUCE_GLSL
#define ROW_THREADS 128u
shared float red_buf[ROW_THREADS];

float row_sum(float v) {
  const uint t = gl_LocalInvocationID.x;
  red_buf[t] = v;
  barrier();
  for (uint s = ROW_THREADS / 2u; s > 0u; s >>= 1) {
    if (t < s) red_buf[t] += red_buf[t + s];
    barrier();
  }
  const float r = red_buf[0];
  barrier();
  return r;
}

float row_max(float v) {
  const uint t = gl_LocalInvocationID.x;
  red_buf[t] = v;
  barrier();
  for (uint s = ROW_THREADS / 2u; s > 0u; s >>= 1) {
    if (t < s) red_buf[t] = max(red_buf[t], red_buf[t + s]);
    barrier();
  }
  const float r = red_buf[0];
  barrier();
  return r;
}

// Row r of a [s0, s1, s2, D] tensor (rank right-aligned into 4) -> element offset of its start.
uint row_start(uint r, uvec4 shape, uvec4 strides) {
  const uint i2 = r % shape.z;
  const uint q = r / shape.z;
  return (q / shape.y) * strides.x + (q % shape.y) * strides.y + i2 * strides.z;
}
#endif
