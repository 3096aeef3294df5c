// Philox4x32-10 normal noise on the CPU: out[i] = value (offset + i) of the stream of `seed`.
// Every value is a pure function of (seed, offset + i), so any split across threads gives the
// same bits; chunks start on Philox blocks of 4 so that whole blocks are generated at once.
#include <algorithm>

#include "args.h"
#include "job.h"
#include "philox_math.h"
#include "kernels_cpu.h"
#include "registry.h"
#include "thread_pool.h"

namespace dk {

// Fills out[0, n) with values offset .. offset+n-1 of the stream with key (k0, k1).
void PhiloxNormalCpu(uint64_t seed, uint64_t offset, float* out, size_t n) {
  if (n == 0) return;
  const uint32_t k0 = static_cast<uint32_t>(seed), k1 = static_cast<uint32_t>(seed >> 32);
  const uint64_t first_block = offset / 4;
  const uint64_t last_block = (offset + n - 1) / 4;
  const size_t blocks = static_cast<size_t>(last_block - first_block + 1);
  ParallelFor(blocks, kStreamGrain / 4, [&](size_t b0, size_t b1) {
    for (size_t bi = b0; bi < b1; ++bi) {
      const uint64_t b = first_block + bi;
      float v[4];
      PhiloxNormalBlock(b, k0, k1, v);
      // index of this block's lane 0 in `out` (may be negative for the first block)
      const int64_t base = static_cast<int64_t>(b * 4 - offset);
      if (base >= 0 && base + 4 <= static_cast<int64_t>(n)) {
        out[base] = v[0];
        out[base + 1] = v[1];
        out[base + 2] = v[2];
        out[base + 3] = v[3];
      } else {
        for (int l = 0; l < 4; ++l) {
          const int64_t i = base + l;
          if (i >= 0 && i < static_cast<int64_t>(n)) out[i] = v[l];
        }
      }
    }
  });
}

namespace {

struct PhiloxJob {
  uint64_t seed;
  uint64_t offset;
  PinnedF32 out;
  void Run() { PhiloxNormalCpu(seed, offset, out.data, out.length); }
};

// philoxNormal(seed: bigint, offset: number, out: Float32Array) and philoxNormalAsync(...)
Napi::Value Philox(const Napi::CallbackInfo& info, bool async) {
  RequireArgs(info, 3, "philoxNormal");
  PhiloxJob job;
  job.seed = GetSeed(info, 0);
  job.offset = static_cast<uint64_t>(GetInteger(info, 1, "offset", 0, kMaxSafeInteger));
  job.out = PinF32(info, 2, "out");
  if (static_cast<double>(job.offset) + static_cast<double>(job.out.length) > kMaxSafeInteger) {
    ThrowRange(info.Env(), "offset + out.length must not exceed 2^53 - 1");
  }
  return RunJob(info.Env(), std::move(job), async);
}

// philox4x32(counter: Uint32Array(4), key: Uint32Array(2), out: Uint32Array(4)): the raw Philox4x32-10
// block function, for known-answer tests against Random123's vectors.
Napi::Value Philox4x32Raw(const Napi::CallbackInfo& info) {
  RequireArgs(info, 3, "philox4x32");
  uint32_t* p[3];
  const size_t want[3] = {4, 2, 4};
  const char* names[3] = {"counter", "key", "out"};
  for (int i = 0; i < 3; ++i) {
    Napi::Value v = info[i];
    if (!v.IsTypedArray() || v.As<Napi::TypedArray>().TypedArrayType() != napi_uint32_array) ThrowType(info.Env(), std::string(names[i]) + " must be a Uint32Array");
    Napi::Uint32Array a = v.As<Napi::Uint32Array>();
    if (a.ElementLength() != want[i]) ThrowRange(info.Env(), std::string(names[i]) + " must have length " + std::to_string(want[i]));
    p[i] = a.Data();
  }
  const Philox4 r = Philox4x32_10(p[0][0], p[0][1], p[0][2], p[0][3], p[1][0], p[1][1]);
  for (int i = 0; i < 4; ++i) p[2][i] = r.v[i];
  return info.Env().Undefined();
}

}  // namespace

void RegisterPhilox(Napi::Env env, Napi::Object exports) {
  exports.Set("philoxNormal", Napi::Function::New(env, [](const Napi::CallbackInfo& i) { return Philox(i, false); }, "philoxNormal"));
  exports.Set("philox4x32", Napi::Function::New(env, Philox4x32Raw, "philox4x32"));
  exports.Set("philoxNormalAsync", Napi::Function::New(env, [](const Napi::CallbackInfo& i) { return Philox(i, true); }, "philoxNormalAsync"));
}

}  // namespace dk
