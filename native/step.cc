// The fused DDIM/DDPM step on the CPU (see FusedStepParams in src/native/kernels.ts): one pass over
// x, the model output (or its uncond/cond halves), the noise and the output. The branches on the
// prediction type and the optional inputs are template parameters, so each instantiation is one
// straight loop that GCC vectorises at -O3.
#include <algorithm>

#include "args.h"
#include "job.h"
#include "kernels_cpu.h"
#include "registry.h"
#include "step_params.h"
#include "thread_pool.h"

namespace dk {

namespace {

// Compiled twice (AVX2 and baseline SSE2), picked at load time by the CPU: same IEEE float operations
// (no FMA: AVX2 alone does not enable it, and -ffp-contract=off), so the same bits either way.
template <int kPred, bool kGuided, bool kRecompute, bool kNoise, bool kX0>
__attribute__((target_clones("avx2", "default"))) void StepLoop(const float* x, const float* m, const float* mc, const float* z, const StepParams& p, float* out, float* x0o, size_t b, size_t e) {
  const float a = p.a, bb = p.b, clip = p.clip, w = p.w;
  const float cx0 = p.coef_x0, ceps = p.coef_eps, cs = p.coef_sample, cn = p.coef_noise;
  for (size_t i = b; i < e; ++i) {
    const float xi = x[i];
    float mi = m[i];
    if (kGuided) mi = mi + w * (mc[i] - mi);
    float x0, eps;
    if (kPred == 0) {
      x0 = (xi - bb * mi) / a;
      eps = mi;
    } else if (kPred == 1) {
      x0 = a * xi - bb * mi;
      eps = a * mi + bb * xi;
    } else {
      x0 = mi;
      eps = (xi - a * x0) / bb;
    }
    // NaN passes through unchanged, as in the TypeScript reference; clip = +inf is a no-op
    x0 = std::min(std::max(x0, -clip), clip);
    if (kRecompute) eps = (xi - a * x0) / bb;
    float v = cx0 * x0 + ceps * eps + cs * xi;
    if (kNoise) v = v + cn * z[i];
    if (kX0) x0o[i] = x0;
    out[i] = v;
  }
}

using LoopFn = void (*)(const float*, const float*, const float*, const float*, const StepParams&, float*, float*, size_t, size_t);

template <int kPred, bool kGuided, bool kRecompute, bool kNoise>
LoopFn Pick4(bool x0) {
  return x0 ? &StepLoop<kPred, kGuided, kRecompute, kNoise, true> : &StepLoop<kPred, kGuided, kRecompute, kNoise, false>;
}
template <int kPred, bool kGuided, bool kRecompute>
LoopFn Pick3(bool noise, bool x0) {
  return noise ? Pick4<kPred, kGuided, kRecompute, true>(x0) : Pick4<kPred, kGuided, kRecompute, false>(x0);
}
template <int kPred, bool kGuided>
LoopFn Pick2(bool recompute, bool noise, bool x0) {
  return recompute ? Pick3<kPred, kGuided, true>(noise, x0) : Pick3<kPred, kGuided, false>(noise, x0);
}
template <int kPred>
LoopFn Pick1(bool guided, bool recompute, bool noise, bool x0) {
  return guided ? Pick2<kPred, true>(recompute, noise, x0) : Pick2<kPred, false>(recompute, noise, x0);
}

}  // namespace

void FusedStepCpu(const float* x, const float* model, const float* noise, const StepParams& p, float* out, float* x0_out, size_t n) {
  if (n == 0) return;
  const bool has_noise = noise != nullptr, has_x0 = x0_out != nullptr;
  LoopFn fn;
  switch (p.prediction) {
    case Prediction::kEpsilon: fn = Pick1<0>(p.guided, p.recompute_eps, has_noise, has_x0); break;
    case Prediction::kVPrediction: fn = Pick1<1>(p.guided, p.recompute_eps, has_noise, has_x0); break;
    default: fn = Pick1<2>(p.guided, p.recompute_eps, has_noise, has_x0); break;
  }
  const float* mc = p.guided ? model + n : nullptr;
  ParallelFor(n, kStreamGrain, [&](size_t b, size_t e) { fn(x, model, mc, noise, p, out, x0_out, b, e); });
}

namespace {

struct StepJob {
  PinnedF32 x, m, z, out, x0;
  StepParams p;
  void Run() { FusedStepCpu(x.data, m.data, z.present() ? z.data : nullptr, p, out.data, x0.present() ? x0.data : nullptr, x.length); }
};

double PropNumber(Napi::Env env, Napi::Object o, const char* key) {
  Napi::Value v = o.Get(key);
  if (!v.IsNumber()) ThrowType(env, std::string("params.") + key + " must be a number");
  const double d = v.As<Napi::Number>().DoubleValue();
  if (!std::isfinite(d)) ThrowRange(env, std::string("params.") + key + " must be finite");
  return d;
}

}  // namespace

// Reads {prediction: 0|1|2, a, b, clip (number or null), recomputeEps, coefX0, coefEps, coefSample,
// coefNoise, guidanceScale (number or null)} (the loader builds it from FusedStepParams).
StepParams ReadStepParams(Napi::Env env, Napi::Value v) {
  if (!v.IsObject()) ThrowType(env, "params must be an object");
  Napi::Object o = v.As<Napi::Object>();
  StepParams p;
  const double pred = PropNumber(env, o, "prediction");
  if (pred != 0 && pred != 1 && pred != 2) ThrowRange(env, "params.prediction must be 0, 1 or 2");
  p.prediction = static_cast<Prediction>(static_cast<int>(pred));
  p.a = static_cast<float>(PropNumber(env, o, "a"));
  p.b = static_cast<float>(PropNumber(env, o, "b"));
  Napi::Value clip = o.Get("clip");
  if (IsNullish(clip)) {
    p.clip = INFINITY;
  } else {
    if (!clip.IsNumber()) ThrowType(env, "params.clip must be a number or null");
    const double c = clip.As<Napi::Number>().DoubleValue();
    if (!(c > 0)) ThrowRange(env, "params.clip must be > 0");
    p.clip = static_cast<float>(c);
  }
  Napi::Value rec = o.Get("recomputeEps");
  p.recompute_eps = rec.IsBoolean() && rec.As<Napi::Boolean>().Value();
  p.coef_x0 = static_cast<float>(PropNumber(env, o, "coefX0"));
  p.coef_eps = static_cast<float>(PropNumber(env, o, "coefEps"));
  p.coef_sample = static_cast<float>(PropNumber(env, o, "coefSample"));
  p.coef_noise = static_cast<float>(PropNumber(env, o, "coefNoise"));
  Napi::Value g = o.Get("guidanceScale");
  if (IsNullish(g)) {
    p.guided = false;
  } else {
    if (!g.IsNumber()) ThrowType(env, "params.guidanceScale must be a number or null");
    const double w = g.As<Napi::Number>().DoubleValue();
    if (!std::isfinite(w)) ThrowRange(env, "params.guidanceScale must be finite");
    p.guided = true;
    p.w = static_cast<float>(w);
  }
  return p;
}

// Checks the lengths of a fused-step call: x (n), model (n or 2n when guided), noise (n, or absent
// with coefNoise 0), out (n), x0Out (n or absent).
void CheckStepLengths(Napi::Env env, const StepParams& p, size_t n, size_t m, const PinnedF32& z, size_t out, const PinnedF32& x0) {
  const size_t want_m = p.guided ? 2 * n : n;
  if (m != want_m) ThrowRange(env, p.guided ? "modelOutput must hold 2·x.length values (uncond then cond)" : "modelOutput must have x.length values");
  if (z.present() && z.length != n) ThrowRange(env, "noise must have x.length values");
  if (!z.present() && p.coef_noise != 0.0f) ThrowRange(env, "noise is required when params.coefNoise is not 0");
  if (out != n) ThrowRange(env, "out must have x.length values");
  if (x0.present() && x0.length != n) ThrowRange(env, "x0Out must have x.length values");
}

namespace {

// fusedStep(x, modelOutput, noise|null, params, out, x0Out|null) and fusedStepAsync(...)
Napi::Value Step(const Napi::CallbackInfo& info, bool async) {
  RequireArgs(info, 5, "fusedStep");
  StepJob job;
  job.x = PinF32(info, 0, "x", Access::kRead, async);
  job.m = PinF32(info, 1, "modelOutput", Access::kRead, async);
  job.z = PinOptionalF32(info, 2, "noise", Access::kRead, async);
  job.p = ReadStepParams(info.Env(), info[3]);
  job.out = PinF32(info, 4, "out", Access::kWrite, async);
  job.x0 = PinOptionalF32(info, 5, "x0Out", Access::kWrite, async);
  CheckStepLengths(info.Env(), job.p, job.x.length, job.m.length, job.z, job.out.length, job.x0);
  return RunJob(info.Env(), std::move(job), async);
}

}  // namespace

void RegisterStep(Napi::Env env, Napi::Object exports) {
  exports.Set("fusedStep", Napi::Function::New(env, [](const Napi::CallbackInfo& i) { return Step(i, false); }, "fusedStep"));
  exports.Set("fusedStepAsync", Napi::Function::New(env, [](const Napi::CallbackInfo& i) { return Step(i, true); }, "fusedStepAsync"));
}

}  // namespace dk
