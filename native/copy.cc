// A plain multi-threaded copy: the memory-bandwidth yardstick the benchmarks compare kernels with.
#include <cstring>

#include "args.h"
#include "registry.h"
#include "thread_pool.h"

namespace dk {
namespace {

// copyF32(src, dst): dst[i] = src[i]; lengths must match.
Napi::Value CopyF32(const Napi::CallbackInfo& info) {
  RequireArgs(info, 2, "copyF32");
  const F32 src = GetF32(info, 0, "src");
  const F32 dst = GetF32(info, 1, "dst");
  if (src.length != dst.length) ThrowRange(info.Env(), "src and dst must have the same length");
  if (src.length == 0 || src.data == dst.data) return info.Env().Undefined();
  ParallelFor(src.length, kStreamGrain, [&](size_t b, size_t e) { std::memmove(dst.data + b, src.data + b, (e - b) * sizeof(float)); });
  return info.Env().Undefined();
}

}  // namespace

void RegisterCopy(Napi::Env env, Napi::Object exports) { exports.Set("copyF32", Napi::Function::New(env, CopyF32, "copyF32")); }

}  // namespace dk
