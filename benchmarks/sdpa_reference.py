#!/usr/bin/env python3
"""PyTorch scaled_dot_product_attention (flash backend) on the shapes of porta-bench's
cuda_targets suite, timed with CUDA events; prints JSON (and writes it with --out).

    python3 benchmarks/sdpa_reference.py --out benchmarks/results/<date>-sdpa-h100.json

Prefill: B=1, H=32, S=4096, D=128, causal, bf16 (FLOPs counted as porta-bench does:
4*B*H*S*S*D/2 for causal). Decode: B=16, Hq=32, Hkv=8, KV=8192, D=128, bf16 (bytes = K+V).
Layout [B, H, S, D], the same as porta's benchmark tensors.
"""
import argparse
import json
import platform
import statistics
import sys


def time_ms(fn, warmup, iters, torch):
    for _ in range(warmup):
        fn()
    torch.cuda.synchronize()
    times = []
    for _ in range(iters):
        start = torch.cuda.Event(enable_timing=True)
        end = torch.cuda.Event(enable_timing=True)
        start.record()
        fn()
        end.record()
        end.synchronize()
        times.append(start.elapsed_time(end))
    return statistics.median(times), min(times)


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--out", help="also write the JSON here")
    ap.add_argument("--iters", type=int, default=50)
    ap.add_argument("--warmup", type=int, default=10)
    args = ap.parse_args()

    import torch
    import torch.nn.functional as F
    from torch.nn.attention import SDPBackend, sdpa_kernel

    if not torch.cuda.is_available():
        print(json.dumps({"error": "torch.cuda.is_available() is False: no GPU"}))
        return 1
    dev = torch.device("cuda")
    dtype = torch.bfloat16
    results = []

    # Prefill: causal, one batch of 32 heads.
    B, H, S, D = 1, 32, 4096, 128
    q, k, v = (torch.randn(B, H, S, D, device=dev, dtype=dtype) for _ in range(3))
    with sdpa_kernel(SDPBackend.FLASH_ATTENTION):
        med, best = time_ms(lambda: F.scaled_dot_product_attention(q, k, v, is_causal=True), args.warmup,
                            args.iters, torch)
    flops = 4.0 * B * H * S * S * D / 2
    results.append({"name": "attention/prefill/bf16/B=1/H=32/S=4096/D=128/causal", "median_ms": med,
                    "min_ms": best, "TFLOPS": flops / (med * 1e-3) / 1e12})

    # Decode: one query per sequence against an 8192-long cache, GQA 32/8.
    B, Hq, Hkv, KV = 16, 32, 8, 8192
    q = torch.randn(B, Hq, 1, D, device=dev, dtype=dtype)
    k = torch.randn(B, Hkv, KV, D, device=dev, dtype=dtype)
    v = torch.randn(B, Hkv, KV, D, device=dev, dtype=dtype)
    kw = {"enable_gqa": True} if "enable_gqa" in F.scaled_dot_product_attention.__doc__ else None
    if kw is None:  # older torch: expand the KV heads (not counted in the bytes)
        k = k.repeat_interleave(Hq // Hkv, dim=1)
        v = v.repeat_interleave(Hq // Hkv, dim=1)
        kw = {}
    with sdpa_kernel([SDPBackend.FLASH_ATTENTION, SDPBackend.EFFICIENT_ATTENTION]):
        med, best = time_ms(lambda: F.scaled_dot_product_attention(q, k, v, **kw), args.warmup, args.iters,
                            torch)
    kv_bytes = 2.0 * 2 * B * Hkv * KV * D
    results.append({"name": "attention/decode/bf16/B=16/Hq=32/Hkv=8/KV=8192/D=128", "median_ms": med,
                    "min_ms": best, "GBps": kv_bytes / (med * 1e-3) / 1e9})

    # Device-to-device copy bandwidth (read + write), the decode targets' reference.
    x = torch.empty(64 << 20, device=dev, dtype=torch.float32)
    y = torch.empty_like(x)
    med, best = time_ms(lambda: y.copy_(x), args.warmup, args.iters, torch)
    results.append({"name": "copy/f32/256MiB", "median_ms": med, "min_ms": best,
                    "GBps": 2.0 * 4 * (64 << 20) / (med * 1e-3) / 1e9})

    doc = {"context": {"torch": torch.__version__, "cuda": torch.version.cuda,
                       "device": torch.cuda.get_device_name(0), "host": platform.node(),
                       "command": " ".join(sys.argv)},
           "results": results}
    text = json.dumps(doc, indent=2)
    print(text)
    if args.out:
        with open(args.out, "w") as f:
            f.write(text + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
