// JavaScript bindings of the CUDA kernels: same arguments as the CPU functions, prefixed `cuda`.
// Host arrays are copied to device buffers, processed, copied back. Always registered: in a build
// without CUDA (cuda_stub.cc) they throw, and info().cudaCompiled says why.
#include "args.h"
#include "cuda_api.h"
#include "job.h"
#include "kernels_cpu.h"
#include "registry.h"

namespace dk {
namespace {

struct CudaPhiloxJob {
  uint64_t seed, offset;
  PinnedF32 out;
  void Run() { cuda::PhiloxNormal(seed, offset, out.data, out.length); }
};

struct CudaGuidanceJob {
  PinnedF32 u, c, out;
  float scale, rescale;
  size_t batch;
  void Run() { cuda::GuidanceCombine(u.data, c.data, scale, rescale, batch, out.data, out.length); }
};

struct CudaStepJob {
  PinnedF32 x, m, z, out, x0;
  StepParams p;
  void Run() { cuda::FusedStep(x.data, m.data, z.present() ? z.data : nullptr, p, out.data, x0.present() ? x0.data : nullptr, x.length); }
};

Napi::Value Philox(const Napi::CallbackInfo& info, bool async) {
  RequireArgs(info, 3, "cudaPhiloxNormal");
  CudaPhiloxJob job;
  job.seed = GetSeed(info, 0);
  job.offset = static_cast<uint64_t>(GetInteger(info, 1, "offset", 0, kMaxSafeInteger));
  job.out = PinF32(info, 2, "out", Access::kWrite, async);
  if (static_cast<double>(job.offset) + static_cast<double>(job.out.length) > kMaxSafeInteger) {
    ThrowRange(info.Env(), "offset + out.length must not exceed 2^53 - 1");
  }
  return RunJob(info.Env(), std::move(job), async);
}

Napi::Value Guidance(const Napi::CallbackInfo& info, bool async) {
  RequireArgs(info, 6, "cudaGuidanceCombine");
  CudaGuidanceJob job;
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

Napi::Value Step(const Napi::CallbackInfo& info, bool async) {
  RequireArgs(info, 5, "cudaFusedStep");
  CudaStepJob job;
  job.x = PinF32(info, 0, "x", Access::kRead, async);
  job.m = PinF32(info, 1, "modelOutput", Access::kRead, async);
  job.z = PinOptionalF32(info, 2, "noise", Access::kRead, async);
  job.p = ReadStepParams(info.Env(), info[3]);
  job.out = PinF32(info, 4, "out", Access::kWrite, async);
  job.x0 = PinOptionalF32(info, 5, "x0Out", Access::kWrite, async);
  CheckStepLengths(info.Env(), job.p, job.x.length, job.m.length, job.z, job.out.length, job.x0);
  return RunJob(info.Env(), std::move(job), async);
}

// cudaBench(kind: string, n: number, iters: number) -> { ms, bytes, gbps } on device-resident buffers.
Napi::Value Bench(const Napi::CallbackInfo& info) {
  RequireArgs(info, 3, "cudaBench");
  if (!info[0].IsString()) ThrowType(info.Env(), "kind must be a string");
  const std::string kind = info[0].As<Napi::String>().Utf8Value();
  const size_t n = static_cast<size_t>(GetInteger(info, 1, "n", 4, 1ull << 34));
  const int iters = static_cast<int>(GetInteger(info, 2, "iters", 1, 100000));
  double bytes = 0, ms = 0;
  try {
    ms = cuda::Bench(kind, n, iters, &bytes);
  } catch (const std::exception& e) {
    throw Napi::Error::New(info.Env(), std::string("diffusekit native: ") + e.what());
  }
  Napi::Object o = Napi::Object::New(info.Env());
  o.Set("ms", ms);
  o.Set("bytes", bytes);
  o.Set("gbps", bytes / (ms * 1e-3) / 1e9);
  return o;
}

}  // namespace

void RegisterCuda(Napi::Env env, Napi::Object exports) {
  exports.Set("cudaPhiloxNormal", Napi::Function::New(env, [](const Napi::CallbackInfo& i) { return Philox(i, false); }, "cudaPhiloxNormal"));
  exports.Set("cudaPhiloxNormalAsync", Napi::Function::New(env, [](const Napi::CallbackInfo& i) { return Philox(i, true); }, "cudaPhiloxNormalAsync"));
  exports.Set("cudaGuidanceCombine", Napi::Function::New(env, [](const Napi::CallbackInfo& i) { return Guidance(i, false); }, "cudaGuidanceCombine"));
  exports.Set("cudaGuidanceCombineAsync",
              Napi::Function::New(env, [](const Napi::CallbackInfo& i) { return Guidance(i, true); }, "cudaGuidanceCombineAsync"));
  exports.Set("cudaFusedStep", Napi::Function::New(env, [](const Napi::CallbackInfo& i) { return Step(i, false); }, "cudaFusedStep"));
  exports.Set("cudaFusedStepAsync", Napi::Function::New(env, [](const Napi::CallbackInfo& i) { return Step(i, true); }, "cudaFusedStepAsync"));
  exports.Set("cudaBench", Napi::Function::New(env, Bench, "cudaBench"));
}

}  // namespace dk
