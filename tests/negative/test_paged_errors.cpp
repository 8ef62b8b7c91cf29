// Bad input to the serving ops: each case throws porta::Error with the right Errc and a message
// naming the op, the shapes and what is valid; the device stays usable afterwards.
#include <gtest/gtest.h>

#include <cmath>

#include "porta/porta.h"
#include "support/failure_checks.h"

namespace porta::test {
namespace {

class PagedErrors : public ::testing::Test {
 protected:
  void SetUp() override {
    dev_ = Device::select("cpu:0");
    stream_ = std::make_unique<Stream>(dev_);
    cache_ = make_cache(KvCacheFormat::plain, DType::f16, 16);
  }
  void TearDown() override { expect_device_usable(dev_); }

  Tensor t(DType d, Shape s) { return Tensor::empty(dev_, d, s); }
  KvCache make_cache(KvCacheFormat f, DType d, int64_t bs, int64_t H = 2, int64_t D = 64) {
    KvCache c;
    c.format = f;
    c.k = t(d, {8, bs, H, D});
    c.v = t(d, {8, bs, H, D});
    if (f == KvCacheFormat::int8) {
      c.k_scales = t(DType::f32, {8, bs, H});
      c.v_scales = t(DType::f32, {8, bs, H});
    }
    return c;
  }
  // A valid decode call for 2 sequences; cases change one argument.
  void attend(const Tensor& q, const KvCache& c, const Tensor& tables, const Tensor& cu, const Tensor& lens,
              Tensor& out, int64_t mq = 1, int64_t mk = 32, const ops::PagedAttentionOptions& o = {}) {
    ops::paged_attention(*stream_, q, c, tables, cu, lens, mq, mk, out, o);
  }
  Stream& s() { return *stream_; }

  Device dev_;
  std::unique_ptr<Stream> stream_;
  KvCache cache_;
};

TEST_F(PagedErrors, PagedAttentionShapesAndDtypes) {
  Tensor q = t(DType::f16, {2, 4, 64}), out = t(DType::f16, {2, 4, 64});
  Tensor tables = t(DType::i32, {2, 3}), cu = t(DType::i32, {3}), lens = t(DType::i32, {2});
  expect_error(Errc::dtype_mismatch, {"paged_attention", "block_tables", "i64[2, 3]", "i32"}, [&] {
    attend(q, cache_, t(DType::i64, {2, 3}), cu, lens, out);
  });
  expect_error(Errc::shape_mismatch, {"paged_attention", "cu_seqlens_q i32[2]", "B + 1 = 3"},
               [&] { attend(q, cache_, tables, t(DType::i32, {2}), lens, out); });
  expect_error(Errc::shape_mismatch, {"paged_attention", "block_tables i32[3, 3]", "B = 2"}, [&] {
    attend(q, cache_, t(DType::i32, {3, 3}), cu, lens, out);
  });
  expect_error(Errc::dtype_mismatch, {"paged_attention", "seq_lens f32[2]"},
               [&] { attend(q, cache_, tables, cu, t(DType::f32, {2}), out); });
  expect_error(Errc::shape_mismatch, {"paged_attention", "seq_lens i32[2, 1]", "i32[B]"}, [&] {
    attend(q, cache_, tables, cu, t(DType::i32, {2, 1}), out);
  });
  Tensor q3 = t(DType::f16, {2, 3, 64}), o3 = t(DType::f16, {2, 3, 64});
  expect_error(Errc::shape_mismatch, {"paged_attention", "query heads (3)", "key/value heads (2)"},
               [&] { attend(q3, cache_, tables, cu, lens, o3); });
  Tensor q128 = t(DType::f16, {2, 4, 128}), o128 = t(DType::f16, {2, 4, 128});
  expect_error(Errc::shape_mismatch, {"paged_attention", "head dim (64)", "q's (128)"},
               [&] { attend(q128, cache_, tables, cu, lens, o128); });
  const KvCache odd = make_cache(KvCacheFormat::plain, DType::f16, 16, 2, 72);
  Tensor q72 = t(DType::f16, {2, 4, 72}), o72 = t(DType::f16, {2, 4, 72});
  expect_error(Errc::unsupported, {"paged_attention", "head dim 72", "64, 80, 96, 128, 256"},
               [&] { attend(q72, odd, tables, cu, lens, o72); });
  Tensor qf = t(DType::f32, {2, 4, 64}), of = t(DType::f32, {2, 4, 64});
  expect_error(Errc::dtype_mismatch, {"paged_attention", "same dtype"},
               [&] { attend(qf, cache_, tables, cu, lens, of); });
  Tensor obad = t(DType::f16, {2, 4, 32});
  expect_error(Errc::shape_mismatch, {"paged_attention", "out"},
               [&] { attend(q, cache_, tables, cu, lens, obad); });
  expect_error(Errc::invalid_argument, {"paged_attention", "max_seqlen_q (-1)"},
               [&] { attend(q, cache_, tables, cu, lens, out, -1, 32); });
  ops::PagedAttentionOptions neg;
  neg.window = -3;
  expect_error(Errc::invalid_argument, {"paged_attention", "window -3"},
               [&] { attend(q, cache_, tables, cu, lens, out, 1, 32, neg); });
  ops::PagedAttentionOptions bad_lse;
  Tensor lse = t(DType::f32, {2, 5});
  bad_lse.lse = &lse;
  expect_error(Errc::shape_mismatch, {"paged_attention", "lse f32[2, 5]", "Hq = 4"},
               [&] { attend(q, cache_, tables, cu, lens, out, 1, 32, bad_lse); });
  ops::PagedAttentionOptions inf_scale;
  inf_scale.scale = INFINITY;
  expect_error(Errc::invalid_argument, {"paged_attention", "scale"},
               [&] { attend(q, cache_, tables, cu, lens, out, 1, 32, inf_scale); });
  expect_error(Errc::invalid_argument, {"paged_attention", "overlaps"},
               [&] { attend(q, cache_, tables, cu, lens, q); });
}

TEST_F(PagedErrors, CacheRules) {
  Tensor q = t(DType::f16, {2, 4, 64}), out = t(DType::f16, {2, 4, 64});
  Tensor tables = t(DType::i32, {2, 3}), cu = t(DType::i32, {3}), lens = t(DType::i32, {2});
  const KvCache b8 = make_cache(KvCacheFormat::plain, DType::f16, 8);
  expect_error(Errc::unsupported, {"paged_attention", "block size 8", "16, 32 or 64"},
               [&] { attend(q, b8, tables, cu, lens, out); });
  KvCache mixed = cache_;
  mixed.v = t(DType::bf16, {8, 16, 2, 64});
  expect_error(Errc::dtype_mismatch, {"paged_attention", "cache.k", "cache.v"},
               [&] { attend(q, mixed, tables, cu, lens, out); });
  KvCache strided = cache_;
  strided.k = t(DType::f16, {8, 16, 64, 2}).transpose(2, 3);
  strided.v = t(DType::f16, {8, 16, 64, 2}).transpose(2, 3);
  expect_error(Errc::invalid_argument, {"paged_attention", "unit stride"},
               [&] { attend(q, strided, tables, cu, lens, out); });
  KvCache no_scales = make_cache(KvCacheFormat::int8, DType::i8, 16);
  no_scales.v_scales = Tensor();
  expect_error(Errc::invalid_argument, {"paged_attention", "cache.v_scales", "f32[8, 16, 2]"},
               [&] { attend(q, no_scales, tables, cu, lens, out); });
  KvCache wrong_scales = make_cache(KvCacheFormat::int8, DType::i8, 16);
  wrong_scales.k_scales = t(DType::f32, {8, 16});
  expect_error(Errc::shape_mismatch, {"paged_attention", "cache.k_scales f32[8, 16]", "f32[8, 16, 2]"},
               [&] { attend(q, wrong_scales, tables, cu, lens, out); });
  const KvCache int8_f16 = make_cache(KvCacheFormat::int8, DType::f16, 16);
  expect_error(Errc::dtype_mismatch, {"paged_attention", "int8 cache", "i8"},
               [&] { attend(q, int8_f16, tables, cu, lens, out); });
  KvCache fp8 = make_cache(KvCacheFormat::fp8_e4m3fn, DType::i8, 16);
  fp8.k_scale = 0.0f;
  expect_error(Errc::invalid_argument, {"paged_attention", "fp8 scales must be > 0"},
               [&] { attend(q, fp8, tables, cu, lens, out); });
  const KvCache plain_i8 = make_cache(KvCacheFormat::plain, DType::i8, 16);
  expect_error(Errc::dtype_mismatch, {"paged_attention", "cache.k", "f32, f16 or bf16"},
               [&] { attend(q, plain_i8, tables, cu, lens, out); });
}

TEST_F(PagedErrors, KvCacheWriteAndCopyBlocks) {
  Tensor k = t(DType::f16, {5, 2, 64}), v = t(DType::f16, {5, 2, 64}), slots = t(DType::i32, {5});
  expect_error(Errc::dtype_mismatch, {"kv_cache_write", "slots f32[5]", "i32 or i64"},
               [&] { ops::kv_cache_write(s(), k, v, t(DType::f32, {5}), cache_); });
  expect_error(Errc::shape_mismatch, {"kv_cache_write", "slots", "[T=5]"},
               [&] { ops::kv_cache_write(s(), k, v, t(DType::i64, {4}), cache_); });
  expect_error(Errc::shape_mismatch, {"kv_cache_write", "k f16[5, 3, 64]", "Hkv=2"}, [&] {
    ops::kv_cache_write(s(), t(DType::f16, {5, 3, 64}), t(DType::f16, {5, 3, 64}), slots, cache_);
  });
  expect_error(Errc::dtype_mismatch, {"kv_cache_write", "k f16[5, 2, 64]", "v f32[5, 2, 64]"}, [&] {
    ops::kv_cache_write(s(), k, t(DType::f32, {5, 2, 64}), slots, cache_);
  });
  expect_error(Errc::invalid_argument, {"kv_cache_write", "overlaps"}, [&] {
    ops::kv_cache_write(s(), cache_.k.reshape({8 * 16, 2, 64}).slice(0, 0, 5), v, slots, cache_);
  });
  expect_error(Errc::dtype_mismatch, {"copy_blocks", "mapping f16[3, 2]", "i32 or i64"}, [&] {
    ops::copy_blocks(s(), cache_, t(DType::f16, {3, 2}));
  });
  expect_error(Errc::shape_mismatch, {"copy_blocks", "mapping i32[3, 3]", "[N, 2]"}, [&] {
    ops::copy_blocks(s(), cache_, t(DType::i32, {3, 3}));
  });
}

TEST_F(PagedErrors, PackedRopeNeedsOnePositionPerToken) {
  Tensor x = t(DType::f32, {6, 2, 64});
  expect_error(Errc::shape_mismatch, {"rope", "positions i32[2, 6]", "i32[6]", "[T, H, D]"}, [&] {
    ops::rope(s(), x, t(DType::i32, {2, 6}), x);
  });
}

}  // namespace
}  // namespace porta::test
