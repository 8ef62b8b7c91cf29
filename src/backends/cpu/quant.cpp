// cpu quantized-weight ops: quantize (round to nearest, the rules of porta/quant.h),
// dequantize, embedding from a quantized table, and gemm with a quantized weight:
// M <= kQuantGemvMaxM streams the codes through the ISA's GEMV; larger M runs the dense
// GEMM's packed path with its B panels dequantized straight from the codes.
#include <algorithm>
#include <cmath>
#include <cstring>
#include <memory>
#include <vector>

#include "backends/cpu/convert.h"
#include "backends/cpu/cpu_kernels.h"
#include "backends/cpu/dtype_io.h"
#include "backends/cpu/gemm_microkernel.h"
#include "backends/cpu/gemm_pack.h"
#include "backends/cpu/quant_kernels.h"

namespace porta::cpu {
namespace {

QuantRows rows_of(const QuantWeightArg& w) {
  QuantRows r{};
  r.format = w.format;
  r.k = w.k;
  r.group = w.group > 0 ? w.group : w.k;
  r.codes = w.codes.host<uint8_t>();
  r.code_rs = w.codes.strides[0];
  r.scales = w.scales.host<char>();
  r.scale_dtype = w.scales.dtype;
  r.scale_rs = w.scales.strides[0];
  r.scale_cs = w.scales.strides[1];
  if (w.zeros) {
    r.zeros = w.zeros->host<uint16_t>();
    r.zero_rs = w.zeros->strides[0];
    r.zero_cs = w.zeros->strides[1];
  }
  return r;
}

/// perm[j] clamped to [0, K): device-resident values are never trusted.
int64_t perm_at(const QuantWeightArg& w, int64_t j) {
  const int64_t p = w.perm->host<int32_t>()[j * w.perm->strides[0]];
  return p < 0 ? 0 : p >= w.k ? w.k - 1 : p;
}

float round_to(DType t, float v) {
  switch (t) {
    case DType::f16: return f16_to_float(float_to_f16(v));
    case DType::bf16: return bf16_to_float(float_to_bf16(v));
    default: return v;
  }
}

// ---------------------------------------------------------------------------
// quantize

/// f (already rounded) as an int in [lo, hi]; NaN gives lo (no undefined float -> int cast).
int to_code(float f, int lo, int hi) {
  if (!(f >= static_cast<float>(lo))) return lo;
  if (!(f <= static_cast<float>(hi))) return hi;
  return static_cast<int>(f);
}

/// Codes of w[j0, j1) (f32, natural order) into row bytes, with the (rounded) scale s and zero z.
void encode(QuantFormat f, const float* w, int64_t j0, int64_t j1, float s, float z, uint8_t* row) {
  for (int64_t j = j0; j < j1; ++j) {
    const float v = w[j];
    int q = 0;
    uint8_t byte = 0;
    switch (f) {
      case QuantFormat::int8:
        q = s != 0.0f ? to_code(std::nearbyint(v / s), -127, 127) : 0;
        row[j] = static_cast<uint8_t>(static_cast<int8_t>(q));
        continue;
      case QuantFormat::int4:  // llama.cpp Q4_0: trunc(w/d + 8.5), capped at 15
        q = s != 0.0f ? to_code(std::trunc(v / s + 8.5f), 0, 15) : 8;
        break;
      case QuantFormat::int4_zp:
        q = s != 0.0f ? to_code(std::nearbyint(v / s) + z, 0, 15) : to_code(z, 0, 15);
        break;
      case QuantFormat::fp8_e4m3fn: row[j] = s != 0.0f ? float_to_fp8_e4m3fn(v / s) : 0; continue;
    }
    byte = static_cast<uint8_t>(q);
    uint8_t& dst = row[j >> 1];
    dst =
        j & 1 ? static_cast<uint8_t>((dst & 0x0f) | (byte << 4)) : static_cast<uint8_t>((dst & 0xf0) | byte);
  }
}

/// The scale (before rounding) and zero of values w[j0, j1) by the format's rule.
void scale_rule(QuantFormat f, const float* w, int64_t j0, int64_t j1, float& d, float& lo) {
  float amax = 0.0f, smax = 0.0f, mn = 0.0f, mx = 0.0f;
  for (int64_t j = j0; j < j1; ++j) {
    const float v = w[j];
    if (std::fabs(v) > amax) {
      amax = std::fabs(v);
      smax = v;
    }
    mn = std::min(mn, v);
    mx = std::max(mx, v);
  }
  lo = mn;
  switch (f) {
    case QuantFormat::int8: d = amax / 127.0f; break;
    case QuantFormat::int4: d = smax / -8.0f; break;
    case QuantFormat::int4_zp: d = (mx - mn) / 15.0f; break;
    case QuantFormat::fp8_e4m3fn: d = amax / 448.0f; break;
  }
}

void quantize(ThreadPool& pool, const QuantizeArgs& a) {
  const QuantWeightArg& o = a.out;
  const int64_t N = o.n, K = o.k, group = o.group > 0 ? o.group : K, G = (K + group - 1) / group;
  const DType sd = o.scales.dtype;
  const auto row_in = [&](int64_t n, float* buf) {
    const char* base = a.w.host<char>() + n * a.w.strides[0] * static_cast<int64_t>(dtype_size(a.w.dtype));
    if (a.w.strides[1] == 1)
      convert_row_to_f32(a.w.dtype, base, buf, K);
    else
      for (int64_t j = 0; j < K; ++j) buf[j] = load_f32(a.w.dtype, base, j * a.w.strides[1]);
  };
  // Per tensor: one absmax over everything first.
  float tensor_scale = 0.0f;
  const bool per_tensor = o.group == QuantScheme::kPerTensor;
  if (per_tensor) {
    std::vector<float> amax(static_cast<size_t>(N));
    pool.parallel_for(N, 16, [&](int64_t n0, int64_t n1) {
      std::vector<float> buf(static_cast<size_t>(K));
      for (int64_t n = n0; n < n1; ++n) {
        row_in(n, buf.data());
        float d, lo;
        scale_rule(o.format, buf.data(), 0, K, d, lo);
        amax[static_cast<size_t>(n)] = d;
      }
    });
    for (float d : amax) tensor_scale = std::max(tensor_scale, d);
    tensor_scale = round_to(sd, tensor_scale);
    store_f32(sd, o.scales.host<char>(), 0, tensor_scale);
  }
  pool.parallel_for(N, 16, [&](int64_t n0, int64_t n1) {
    std::vector<float> buf(static_cast<size_t>(K));
    for (int64_t n = n0; n < n1; ++n) {
      row_in(n, buf.data());
      uint8_t* row = o.codes.host<uint8_t>() + n * o.codes.strides[0];
      for (int64_t g = 0; g < G; ++g) {
        const int64_t j0 = g * group, j1 = std::min(K, j0 + group);
        float d = tensor_scale, lo = 0.0f, z = 0.0f;
        if (!per_tensor) {
          scale_rule(o.format, buf.data(), j0, j1, d, lo);
          d = round_to(sd, d);
          store_f32(sd, o.scales.host<char>(), n * o.scales.strides[0] + g * o.scales.strides[1], d);
        }
        if (o.format == QuantFormat::int4_zp) {
          z = d != 0.0f ? std::clamp(std::nearbyint(-lo / d), 0.0f, 15.0f) : 0.0f;
          o.zeros->host<uint16_t>()[n * o.zeros->strides[0] + g * o.zeros->strides[1]] = float_to_f16(z);
        }
        encode(o.format, buf.data(), j0, j1, d, z, row);
      }
    }
  });
}

// ---------------------------------------------------------------------------
// dequantize, embedding

void store_row(const TensorArg& out, char* dst, const float* src, int64_t n) {
  if (out.strides[1] == 1)
    convert_row_from_f32(out.dtype, src, dst, n);
  else
    for (int64_t j = 0; j < n; ++j) store_f32(out.dtype, dst, j * out.strides[1], src[j]);
}

char* row_addr(const TensorArg& t, int64_t r) {
  return t.host<char>() + r * t.strides[0] * static_cast<int64_t>(dtype_size(t.dtype));
}

void dequantize(ThreadPool& pool, const DequantizeArgs& a) {
  const QuantRows w = rows_of(a.w);
  const QuantKernels& kern = quant_kernels();
  pool.parallel_for(a.w.n, 8, [&](int64_t n0, int64_t n1) {
    std::vector<float> buf(static_cast<size_t>(w.k));
    for (int64_t n = n0; n < n1; ++n) {
      kern.dequant_row(w, n, buf.data());
      store_row(a.out, row_addr(a.out, n), buf.data(), w.k);
    }
  });
}

void embedding_quant(ThreadPool& pool, const QuantEmbeddingArgs& e) {
  const QuantRows w = rows_of(e.table);
  const QuantKernels& kern = quant_kernels();
  const int64_t R = e.ids.shape[0], V = e.table.n;
  pool.parallel_for(R, 8, [&](int64_t r0, int64_t r1) {
    std::vector<float> buf(static_cast<size_t>(w.k));
    for (int64_t r = r0; r < r1; ++r) {
      const int64_t id = e.ids.host<int32_t>()[r * e.ids.strides[0]];
      if (id < 0 || id >= V)  // as the dense embedding: an id outside the table gives zeros
        std::fill(buf.begin(), buf.end(), 0.0f);
      else
        kern.dequant_row(w, id, buf.data());
      store_row(e.out, row_addr(e.out, r), buf.data(), w.k);
    }
  });
}

// ---------------------------------------------------------------------------
// gemm

/// A buffer over existing host memory, so the dense GEMM can read a scratch operand.
class HostSpan final : public Buffer {
 public:
  HostSpan(void* p, uint64_t bytes) : Buffer(bytes), p_(p) {}
  void* host_ptr() override { return p_; }

 private:
  void* p_;
};

/// What the GEMM's B packer needs: the weight and the kernel sets.
struct QuantBSource {
  const QuantRows* w;
  const QuantKernels* kern;
  const GemmMicrokernel* mk;
};

/// B(k, n) = value(n, k) for k in [k0, k0+kc), n in [n0, n0+nc) into the micro-kernel's
/// panels: nr weight rows at a time dequantized into an L1/L2-sized row-major scratch, then
/// transposed into the panel by the kernel set's column packer.
void pack_quant_b(const void* ctx, int64_t k0, int64_t kc, int64_t n0, int64_t nc, float* dst) {
  const auto& q = *static_cast<const QuantBSource*>(ctx);
  const int nr = q.mk->tiles.nr;
  const int64_t ld = (kc + 15) / 16 * 16;
  thread_local std::vector<float> scratch;
  if (static_cast<int64_t>(scratch.size()) < nr * ld) scratch.resize(static_cast<size_t>(nr * ld));
  float* tmp = scratch.data();
  for (int64_t p = 0; p < nc; p += nr) {
    const int64_t rows = std::min<int64_t>(nr, nc - p);
    for (int64_t r = 0; r < rows; ++r) q.kern->dequant_range(*q.w, n0 + p + r, k0, k0 + kc, tmp + r * ld);
    q.mk->pack_b_cols(nr, DType::f32, tmp, ld, kc, rows, dst + p * kc);
  }
}

/// M > kQuantGemvMaxM: the dense GEMM's packed path with B panels dequantized straight from
/// the codes (each kc x nc panel once, shared by the team and reused over all rows of A).
/// Act-order weights take A's columns gathered by perm instead (Σ_j x[perm[j]] · q[n, j]).
void gemm_dequant(ThreadPool& pool, const QuantGemmArgs& g) {
  const QuantRows w = rows_of(g.w);
  const int64_t N = g.w.n, K = g.w.k, M = g.a.shape[0];
  GemmArgs d;
  d.a = g.a;
  std::vector<float> gathered;
  std::unique_ptr<HostSpan> span;
  if (g.w.perm) {
    gathered.resize(static_cast<size_t>(M * K));
    pool.parallel_for(M, 4, [&](int64_t m0, int64_t m1) {
      for (int64_t m = m0; m < m1; ++m) {
        const char* src = row_addr(g.a, m);
        float* dst = gathered.data() + m * K;
        for (int64_t j = 0; j < K; ++j) dst[j] = load_f32(g.a.dtype, src, perm_at(g.w, j) * g.a.strides[1]);
      }
    });
    span = std::make_unique<HostSpan>(gathered.data(), gathered.size() * 4);
    d.a = TensorArg{};
    d.a.buffer = span.get();
    d.a.dtype = DType::f32;
    d.a.strides[0] = K, d.a.strides[1] = 1;
  }
  d.a.rank = 3;
  d.a.shape[0] = 1, d.a.shape[1] = M, d.a.shape[2] = K;
  d.a.strides[2] = d.a.strides[1], d.a.strides[1] = d.a.strides[0], d.a.strides[0] = 0;
  d.b.dtype = DType::f32;  // not read: gemm_source_b packs B from the codes
  d.b.rank = 3;
  d.b.shape[0] = 1, d.b.shape[1] = K, d.b.shape[2] = N;
  d.c = g.c;
  d.c.rank = 3;
  d.c.shape[0] = 1, d.c.shape[1] = M, d.c.shape[2] = N;
  d.c.strides[2] = g.c.strides[1], d.c.strides[1] = g.c.strides[0], d.c.strides[0] = 0;
  d.bias = g.bias;
  d.alpha = g.alpha;
  d.beta = g.beta;
  d.activation = g.activation;
  const QuantBSource src{&w, &quant_kernels(), &gemm_microkernel()};
  gemm_source_b(pool, d, GemmBSource{&pack_quant_b, &src});
}

/// M <= kQuantGemvMaxM: activations prepared once (f32, permuted, int4 blocks reordered,
/// per-group sums), weight rows split across the pool, epilogue per column chunk.
void gemm_gemv(ThreadPool& pool, const QuantGemmArgs& g) {
  const QuantRows w = rows_of(g.w);
  const QuantKernels& kern = quant_kernels();
  const GemmMicrokernel& mk = gemm_microkernel();
  const int64_t N = g.w.n, K = g.w.k, M = g.a.shape[0], G = w.groups();
  const bool nibbles = w.format == QuantFormat::int4 || w.format == QuantFormat::int4_zp;
  const int64_t ldx = (K + 15) / 16 * 16;
  // Buffers every element of which is written are left uninitialised (new T[]): zeroing them
  // took a tenth of a 2 x 4096 int4 GEMV's 4 us.
  std::unique_ptr<float[]> nat(new float[static_cast<size_t>(M * K)]);
  std::vector<float> x, xsum;
  if (nibbles) xsum.resize(static_cast<size_t>(M * G));
  for (int64_t m = 0; m < M; ++m) {  // natural order, permuted
    const char* src = row_addr(g.a, m);
    float* xn = nat.get() + m * K;
    if (!g.w.perm && g.a.strides[1] == 1) {
      convert_row_to_f32(g.a.dtype, src, xn, K);
    } else {
      for (int64_t j = 0; j < K; ++j)
        xn[j] = load_f32(g.a.dtype, src, (g.w.perm ? perm_at(g.w, j) : j) * g.a.strides[1]);
    }
  }
  // AVX512-BF16 int4 kernel: activations split once into bf16 hi + lo (quant_kernels.h).
  std::vector<uint16_t> xb;
  const int64_t ldxb = (K + 127) / 128 * 256;
  bool use_bf16 =
      kern.gemv_bf16 && nibbles && (G == 1 || w.group % 128 == 0 || (128 % w.group == 0 && w.group >= 8));
  if (use_bf16) {
    xb.resize(static_cast<size_t>(M * ldxb));
    for (int64_t m = 0; m < M && use_bf16; ++m)
      use_bf16 = kern.split_bf16(nat.get() + m * K, K, xb.data() + m * ldxb);
  }
  // int4 digits kernels at M = 1: the activation row split once into int8 digits (quant_kernels.h).
  std::unique_ptr<int8_t[]> xd;
  std::unique_ptr<float[]> xr;
  std::vector<float> unit, uslot;
  const int digits = g.a.dtype == DType::f32 ? 3 : 2;
  bool use_digits = !use_bf16 && kern.gemv_digits && nibbles && M == 1 &&
                    (G == 1 || w.group % kDigitSpan == 0 || w.group == 32 || w.group == 64);
  if (use_digits) {
    const int64_t spans = (K + kDigitSpan - 1) / kDigitSpan;
    xd.reset(new int8_t[static_cast<size_t>(spans * digits * kDigitSpan)]);
    xr.reset(new float[static_cast<size_t>(K)]);
    unit.resize(static_cast<size_t>(spans));
    use_digits = kern.split_digits(nat.get(), K, digits, kern.digit_block, xr.get(), xd.get(), unit.data());
  }
  if (use_digits) {
    // One unit per slot of min(group, span) elements, zero-padded to whole 16-slot refills.
    const int64_t P = G > 1 && w.group < kDigitSpan ? w.group : kDigitSpan, slots = (K + P - 1) / P;
    uslot.assign(static_cast<size_t>((slots + 15) / 16 * 16), 0.0f);
    for (int64_t i = 0; i < slots; ++i)
      uslot[static_cast<size_t>(i)] = unit[static_cast<size_t>(i * P / kDigitSpan)];
  }
  // Per-group activation sums for the zero points, over the values the kernel multiplies: the
  // digits' x̃ on the digits path, else the natural-order rows.
  if (nibbles)
    for (int64_t m = 0; m < M; ++m) {
      const float* xs = use_digits ? xr.get() : nat.get() + m * K;
      for (int64_t gi = 0; gi < G; ++gi) {
        // Eight running sums: one chain of K dependent adds cost 1.5-1.9 us of the 7.5 us
        // a 16 x 4096 int4 GEMV took (AVX2 path, Zen 4).
        float part[8] = {};
        int64_t j = gi * w.group;
        const int64_t j1 = std::min(K, j + w.group);
        for (; j + 8 <= j1; j += 8)
          for (int l = 0; l < 8; ++l) part[l] += xs[j + l];
        for (; j < j1; ++j) part[0] += xs[j];
        xsum[static_cast<size_t>(m * G + gi)] =
            ((part[0] + part[1]) + (part[2] + part[3])) + ((part[4] + part[5]) + (part[6] + part[7]));
      }
    }
  // f32 kernels: int4 blocks reordered (even elements, then odd) or premixed where every value
  // is 0 or within [2^-100, 2^120] in magnitude (x_o / 16 stays normal and x_e − x_o / 16 finite);
  // the rest as is.
  bool premixed = false;
  if (!use_digits) x.assign(static_cast<size_t>(M * ldx), 0.0f);  // zero past K to ldx
  if (!use_bf16 && !use_digits) {
    const int64_t B = nibbles ? kern.int4_block : 1, full = nibbles ? K / B * B : 0;
    premixed = nibbles && kern.int4_premix && std::all_of(nat.get(), nat.get() + M * K, [](float v) {
                 return v == 0.0f || (std::fabs(v) >= 0x1p-100f && std::fabs(v) <= 0x1p120f);
               });
    for (int64_t m = 0; m < M; ++m) {
      const float* xn = nat.get() + m * K;
      float* xm = x.data() + m * ldx;
      for (int64_t b = 0; b < full; b += B)
        for (int64_t i = 0; i < B / 2; ++i) {
          const float e = xn[b + 2 * i], o = xn[b + 2 * i + 1];
          xm[b + i] = premixed ? e - o * 0.0625f : e;
          xm[b + B / 2 + i] = premixed ? o * 0.0625f : o;
        }
      std::copy(xn + full, xn + K, xm + full);
    }
  }
  std::vector<float> bias;
  if (g.bias) {
    bias.resize(static_cast<size_t>(N));
    for (int64_t n = 0; n < N; ++n)
      bias[static_cast<size_t>(n)] = load_f32(g.bias->dtype, g.bias->host<char>(), n * g.bias->strides[0]);
  }
  const bool epilogue = g.bias || g.activation != ops::Activation::none;
  constexpr int64_t kChunk = 64;  // weight rows per task: 64 x K codes, the outputs in L1
  // Tasks handed out as threads finish them: decode GEMVs are compute-bound near the memory
  // rate on small hosts, and with a static split a core slowed by another process held the
  // whole call back (a row's result does not depend on the thread that computes it).
  pool.parallel_for_each((N + kChunk - 1) / kChunk, [&](int64_t t0, int64_t t1) {
    float y[kQuantGemvMaxM * kChunk];
    float old[kChunk];
    for (int64_t t = t0; t < t1; ++t) {
      const int64_t n0 = t * kChunk, n1 = std::min(N, n0 + kChunk), cols = n1 - n0;
      const QuantGemvArgs ga{&w,
                             static_cast<int>(M),
                             use_digits ? xr.get() : x.data(),
                             ldx,
                             nibbles ? xsum.data() : nullptr,
                             y,
                             kChunk,
                             use_bf16 ? xb.data() : nullptr,
                             ldxb,
                             premixed,
                             use_digits ? xd.get() : nullptr,
                             use_digits ? uslot.data() : nullptr,
                             digits};
      (use_bf16 ? kern.gemv_bf16 : use_digits ? kern.gemv_digits : kern.gemv)(ga, n0, n1);
      for (int64_t m = 0; m < M; ++m) {
        float* ym = y + m * kChunk;
        char* dst = row_addr(g.c, m) + n0 * g.c.strides[1] * static_cast<int64_t>(dtype_size(g.c.dtype));
        for (int64_t j = 0; j < cols; ++j) ym[j] *= g.alpha;
        if (g.beta != 0.0f) {
          for (int64_t j = 0; j < cols; ++j) old[j] = load_f32(g.c.dtype, dst, j * g.c.strides[1]);
          for (int64_t j = 0; j < cols; ++j) ym[j] += g.beta * old[j];
        }
        if (epilogue) mk.bias_act(ym, cols, g.bias ? bias.data() + n0 : nullptr, g.activation);
        if (g.c.strides[1] == 1)
          convert_row_from_f32(g.c.dtype, ym, dst, cols);
        else
          for (int64_t j = 0; j < cols; ++j) store_f32(g.c.dtype, dst, j * g.c.strides[1], ym[j]);
      }
    }
  });
}

}  // namespace

void quant_quantize(ThreadPool& pool, const QuantizeArgs& a) { quantize(pool, a); }
void quant_dequantize(ThreadPool& pool, const DequantizeArgs& a) { dequantize(pool, a); }
void quant_embedding(ThreadPool& pool, const QuantEmbeddingArgs& a) { embedding_quant(pool, a); }
void quant_gemm(ThreadPool& pool, const QuantGemmArgs& g) {
  if (g.a.shape[0] <= kQuantGemvMaxM)
    gemm_gemv(pool, g);
  else
    gemm_dequant(pool, g);
}

}  // namespace porta::cpu
