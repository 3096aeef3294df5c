// Classifier-free guidance combine on the CPU: out = uncond + scale·(cond − uncond), then with
// rescale φ > 0 each batch item is multiplied by φ·std(cond)/std(out) + (1 − φ) (arXiv 2305.08891,
// as diffusers' rescale_noise_cfg; the N vs N−1 normalisation cancels in the ratio; an item whose
// guided values are constant is left unchanged). Statistics are float64 per-chunk partial sums
// combined in chunk order, so the result does not depend on the thread count.
#include <algorithm>
#include <cmath>
#include <vector>

#include "args.h"
#include "job.h"
#include "kernels_cpu.h"
#include "registry.h"
#include "thread_pool.h"

namespace dk {

namespace {

void Combine(const float* u, const float* c, float s, float* o, size_t n) {
  for (size_t i = 0; i < n; ++i) o[i] = u[i] + s * (c[i] - u[i]);
}

// Sum of a and of g over [0, n).
void Sums(const float* a, const float* g, size_t n, double* sa, double* sg) {
  double x = 0, y = 0;
  for (size_t i = 0; i < n; ++i) {
    x += a[i];
    y += g[i];
  }
  *sa = x;
  *sg = y;
}

void SqDev(const float* a, const float* g, size_t n, double ma, double mg, double* va, double* vg) {
  double x = 0, y = 0;
  for (size_t i = 0; i < n; ++i) {
    const double da = a[i] - ma, dg = g[i] - mg;
    x += da * da;
    y += dg * dg;
  }
  *va = x;
  *vg = y;
}

}  // namespace

void GuidanceCombineCpu(const float* u, const float* c, float scale, float rescale, size_t batch, float* out, size_t n) {
  if (n == 0) return;
  if (!(rescale > 0)) {
    // out may alias u or c: each element reads its own inputs before writing
    ParallelFor(n, kStreamGrain, [&](size_t b, size_t e) {
      for (size_t i = b; i < e; ++i) out[i] = u[i] + scale * (c[i] - u[i]);
    });
    return;
  }
  const size_t len = n / batch;
  const size_t chunks_per_item = (len + kStreamGrain - 1) / kStreamGrain;
  std::vector<double> pa(batch * chunks_per_item), pg(batch * chunks_per_item);
  // If out aliases cond we would lose cond before its statistics: keep a copy in that case only.
  std::vector<float> cond_copy;
  const float* cs = c;
  if (out == c) {
    cond_copy.assign(c, c + n);
    cs = cond_copy.data();
  }
  const size_t total_chunks = batch * chunks_per_item;
  auto chunk_range = [&](size_t k, size_t* b, size_t* e) {
    const size_t item = k / chunks_per_item, j = k % chunks_per_item;
    *b = item * len + j * kStreamGrain;
    *e = std::min(item * len + len, *b + kStreamGrain);
  };
  ParallelFor(total_chunks, 1, [&](size_t k0, size_t k1) {
    for (size_t k = k0; k < k1; ++k) {
      size_t b, e;
      chunk_range(k, &b, &e);
      Combine(u + b, cs + b, scale, out + b, e - b);
      Sums(cs + b, out + b, e - b, &pa[k], &pg[k]);
    }
  });
  std::vector<double> mean_c(batch), mean_g(batch);
  for (size_t item = 0; item < batch; ++item) {
    double a = 0, g = 0;
    for (size_t j = 0; j < chunks_per_item; ++j) {
      a += pa[item * chunks_per_item + j];
      g += pg[item * chunks_per_item + j];
    }
    mean_c[item] = a / static_cast<double>(len);
    mean_g[item] = g / static_cast<double>(len);
  }
  ParallelFor(total_chunks, 1, [&](size_t k0, size_t k1) {
    for (size_t k = k0; k < k1; ++k) {
      size_t b, e;
      chunk_range(k, &b, &e);
      const size_t item = k / chunks_per_item;
      SqDev(cs + b, out + b, e - b, mean_c[item], mean_g[item], &pa[k], &pg[k]);
    }
  });
  std::vector<float> factor(batch);
  for (size_t item = 0; item < batch; ++item) {
    double vc = 0, vg = 0;
    for (size_t j = 0; j < chunks_per_item; ++j) {
      vc += pa[item * chunks_per_item + j];
      vg += pg[item * chunks_per_item + j];
    }
    const double ratio = vg > 0 ? std::sqrt(vc / vg) : 1.0;
    factor[item] = static_cast<float>(rescale * ratio + (1.0 - rescale));
  }
  ParallelFor(total_chunks, 1, [&](size_t k0, size_t k1) {
    for (size_t k = k0; k < k1; ++k) {
      size_t b, e;
      chunk_range(k, &b, &e);
      const float f = factor[k / chunks_per_item];
      for (size_t i = b; i < e; ++i) out[i] *= f;
    }
  });
}

namespace {

struct GuidanceJob {
  PinnedF32 u, c, out;
  float scale, rescale;
  size_t batch;
  void Run() { GuidanceCombineCpu(u.data, c.data, scale, rescale, batch, out.data, out.length); }
};

// guidanceCombine(uncond, cond, scale, rescale, batch, out) and guidanceCombineAsync(...)
Napi::Value Guidance(const Napi::CallbackInfo& info, bool async) {
  RequireArgs(info, 6, "guidanceCombine");
  GuidanceJob job;
  job.u = PinF32(info, 0, "uncond", Access::kRead, async);
  job.c = PinF32(info, 1, "cond", Access::kRead, async);
  job.scale = static_cast<float>(GetFinite(info, 2, "scale"));
  const double rescale = GetFinite(info, 3, "rescale");
  if (rescale < 0) ThrowRange(info.Env(), "rescale must be >= 0");
  job.rescale = static_cast<float>(rescale);
  job.batch = static_cast<size_t>(GetInteger(info, 4, "batch", 1, kMaxSafeInteger));
  job.out = PinF32(info, 5, "out", Access::kWrite, async);
  if (job.c.length != job.u.length || job.out.length != job.u.length) ThrowRange(info.Env(), "uncond, cond and out must have the same length");
  if (job.u.length % job.batch != 0) ThrowRange(info.Env(), "batch must divide the tensor length");
  return RunJob(info.Env(), std::move(job), async);
}

}  // namespace

void RegisterGuidance(Napi::Env env, Napi::Object exports) {
  exports.Set("guidanceCombine", Napi::Function::New(env, [](const Napi::CallbackInfo& i) { return Guidance(i, false); }, "guidanceCombine"));
  exports.Set("guidanceCombineAsync", Napi::Function::New(env, [](const Napi::CallbackInfo& i) { return Guidance(i, true); }, "guidanceCombineAsync"));
}

}  // namespace dk
