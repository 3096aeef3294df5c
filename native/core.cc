// Addon identity and settings: version, thread count, what the build contains.
#include "args.h"
#include "cuda_api.h"
#include "registry.h"
#include "thread_pool.h"

#ifndef DIFFUSEKIT_VERSION
#define DIFFUSEKIT_VERSION "0.0.0"
#endif

namespace dk {
namespace {

Napi::Value Info(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  Napi::Object o = Napi::Object::New(env);
  o.Set("version", DIFFUSEKIT_VERSION);
  o.Set("threads", GetThreads());
  o.Set("napiVersion", NAPI_VERSION);
  // the hot loops are compiled for AVX2 and the baseline; the loader picks by this CPU
#if defined(__x86_64__) || defined(__i386__)
  o.Set("simd", __builtin_cpu_supports("avx2") ? "avx2" : "sse2");
#else
  o.Set("simd", "baseline");
#endif
#if defined(DIFFUSEKIT_SANITIZE)
  o.Set("sanitize", true);
#else
  o.Set("sanitize", false);
#endif
  const cuda::Status s = cuda::Query();
  o.Set("cudaCompiled", s.compiled);
  o.Set("hasCuda", s.available);
  o.Set("cudaAvailable", s.available);
  o.Set("cudaDeviceCount", s.device_count);
  if (!s.device_name.empty()) o.Set("cudaDeviceName", s.device_name);
  if (s.available) {
    o.Set("cudaComputeCapability", std::to_string(s.cc_major) + "." + std::to_string(s.cc_minor));
    o.Set("cudaTotalMemory", static_cast<double>(s.total_memory));
    o.Set("cudaRuntimeVersion", s.runtime_version);
    o.Set("cudaDriverVersion", s.driver_version);
  }
  if (!s.error.empty()) o.Set("cudaError", s.error);
  return o;
}

Napi::Value GetThreadsJs(const Napi::CallbackInfo& info) { return Napi::Number::New(info.Env(), GetThreads()); }

Napi::Value SetThreadsJs(const Napi::CallbackInfo& info) {
  RequireArgs(info, 1, "setThreads");
  const int64_t n = GetInteger(info, 0, "threads", 1, 256);
  SetThreads(static_cast<int>(n));
  return Napi::Number::New(info.Env(), GetThreads());
}

}  // namespace

void RegisterCore(Napi::Env env, Napi::Object exports) {
  exports.Set("version", Napi::String::New(env, DIFFUSEKIT_VERSION));
  exports.Set("info", Napi::Function::New(env, Info, "info"));
  exports.Set("getThreads", Napi::Function::New(env, GetThreadsJs, "getThreads"));
  exports.Set("setThreads", Napi::Function::New(env, SetThreadsJs, "setThreads"));
}

}  // namespace dk
