// Philox4x32-10 normal noise on the CPU: out[i] = value (offset + i) of the stream of `seed`.
// Every value is a pure function of (seed, offset + i), so any split across threads gives the
// same bits; chunks start on Philox blocks of 4 so that whole blocks are generated at once.
#include <algorithm>
#include <cstring>

#include "args.h"
#include "job.h"
#include "philox_math.h"
#include "kernels_cpu.h"
#include "registry.h"
#include "thread_pool.h"

namespace dk {

namespace {

// Philox blocks are generated kBatch at a time with branch-free loops over small arrays, so that GCC
// vectorises them (SSE2: 4 lanes). The arithmetic is the same float32 sequence as philox_math.h —
// only the exact steps are written differently: float(k) is exact for k <= 2^24, so its exponent and
// mantissa bits replace clz and the shift; the quadrant switch becomes selects and sign flips.
constexpr int kBatch = 16;

inline float BitsToFloat(uint32_t b) {
  float f;
  std::memcpy(&f, &b, 4);
  return f;
}
inline uint32_t FloatToBits(float f) {
  uint32_t b;
  std::memcpy(&b, &f, 4);
  return b;
}

// out[4·i + lane] = normal value of lane `lane` of block b0 + i, for i < kBatch. Compiled for AVX2
// and for the baseline (chosen at load time); no FMA either way, so the bits do not change.
__attribute__((target_clones("avx2", "default"))) void PhiloxBatch(uint64_t b0, uint32_t k0, uint32_t k1, float* __restrict out) {
  uint32_t c0[kBatch], c1[kBatch], c2[kBatch], c3[kBatch];
  for (int i = 0; i < kBatch; ++i) {
    const uint64_t b = b0 + static_cast<uint64_t>(i);
    c0[i] = static_cast<uint32_t>(b);
    c1[i] = static_cast<uint32_t>(b >> 32);
    c2[i] = 0;
    c3[i] = 0;
  }
  for (int round = 0; round < 10; ++round) {
    if (round > 0) {
      k0 += kPhiloxW0;
      k1 += kPhiloxW1;
    }
    for (int i = 0; i < kBatch; ++i) {
      const uint64_t p0 = static_cast<uint64_t>(kPhiloxM0) * c0[i];
      const uint64_t p1 = static_cast<uint64_t>(kPhiloxM1) * c2[i];
      const uint32_t n0 = static_cast<uint32_t>(p1 >> 32) ^ c1[i] ^ k0;
      const uint32_t n2 = static_cast<uint32_t>(p0 >> 32) ^ c3[i] ^ k1;
      c0[i] = n0;
      c1[i] = static_cast<uint32_t>(p1);
      c2[i] = n2;
      c3[i] = static_cast<uint32_t>(p0);
    }
  }
  // pair j = 2·i + p: (c0, c1) for p = 0, (c2, c3) for p = 1; it fills out[2j], out[2j + 1]
  constexpr int kPairs = 2 * kBatch;
  uint32_t ev[kPairs], od[kPairs];
  for (int i = 0; i < kBatch; ++i) {
    ev[2 * i] = c0[i];
    od[2 * i] = c1[i];
    ev[2 * i + 1] = c2[i];
    od[2 * i + 1] = c3[i];
  }
  const float kLn2Hi = 0x1.62e3p-1f, kLn2Lo = 0x1.2fefa2p-17f;
  const float kLg1 = 0x1.555554p-1f, kLg2 = 0x1.9999c2p-2f, kLg3 = 0x1.23d3dcp-2f, kLg4 = 0x1.f13c4cp-3f;
  const float kS1 = -0x1.555556p-3f, kS2 = 0x1.111112p-7f, kS3 = -0x1.a01a02p-13f, kS4 = 0x1.71de3ap-19f;
  const float kC1 = -0x1p-1f, kC2 = 0x1.555556p-5f, kC3 = -0x1.6c16c2p-10f, kC4 = 0x1.a01a02p-16f, kC5 = -0x1.27e4fcp-22f;
  const float kAngleStep = 0x1.921fb6p-22f;
  for (int j = 0; j < kPairs; ++j) {
    // ln(k · 2^-24), k = (ev >> 8) + 1 in [1, 2^24]
    const int32_t k = static_cast<int32_t>((ev[j] >> 8) + 1u);
    const uint32_t bits = FloatToBits(static_cast<float>(k));  // exact
    const uint32_t mant = bits & 0x7FFFFFu;
    const int32_t big = (mant | 0x800000u) >= 0xB504F3u ? 1 : 0;
    const int32_t ex = static_cast<int32_t>(bits >> 23) - 127 - 24 + big;
    const float m1 = BitsToFloat(mant | 0x3F800000u);  // mantissa in [1, 2), exact
    const float m = big ? m1 * 0.5f : m1;
    const float fm = m - 1.0f;
    const float s = fm / (2.0f + fm);
    const float z = s * s;
    const float w = z * z;
    const float t1 = w * (kLg2 + w * kLg4);
    const float t2 = z * (kLg1 + w * kLg3);
    const float r = t2 + t1;
    const float hfsq = (0.5f * fm) * fm;
    const float dk = static_cast<float>(ex);
    float acc = s * (hfsq + r);
    acc = acc + dk * kLn2Lo;
    acc = acc - hfsq;
    acc = acc + fm;
    acc = acc + dk * kLn2Hi;
    const float radius = std::sqrt(-2.0f * acc);
    // sin/cos of 2π·n/2^24, n = od >> 8
    const uint32_t n = od[j] >> 8;
    const uint32_t rr = n & 0x3FFFFFu;
    const uint32_t adj = rr >= 0x200000u ? 1u : 0u;
    const int32_t ri = static_cast<int32_t>(rr) - static_cast<int32_t>(adj << 22);
    const uint32_t q = ((n >> 22) + adj) & 3u;
    const float x = static_cast<float>(ri) * kAngleStep;
    const float zz = x * x;
    const float sp = kS1 + zz * (kS2 + zz * (kS3 + zz * kS4));
    const float sn = x + (x * zz) * sp;
    const float cp = kC1 + zz * (kC2 + zz * (kC3 + zz * (kC4 + zz * kC5)));
    const float cs = 1.0f + zz * cp;
    const bool swap = (q & 1u) != 0;
    float sv = swap ? cs : sn;
    float cv = swap ? sn : cs;
    sv = (q >> 1) != 0 ? -sv : sv;                 // q = 2, 3
    cv = (((q + 1u) >> 1) & 1u) != 0 ? -cv : cv;  // q = 1, 2
    out[2 * j] = radius * cv;
    out[2 * j + 1] = radius * sv;
  }
}

}  // namespace

// Fills out[0, n) with values offset .. offset+n-1 of the stream with key (k0, k1).
void PhiloxNormalCpu(uint64_t seed, uint64_t offset, float* out, size_t n) {
  if (n == 0) return;
  const uint32_t k0 = static_cast<uint32_t>(seed), k1 = static_cast<uint32_t>(seed >> 32);
  const uint64_t first_block = offset / 4;
  const uint64_t last_block = (offset + n - 1) / 4;
  const size_t blocks = static_cast<size_t>(last_block - first_block + 1);
  ParallelFor(blocks, kStreamGrain / 4, [&](size_t b0, size_t b1) {
    float v[4 * kBatch];
    for (size_t bi = b0; bi < b1; bi += kBatch) {
      const uint64_t b = first_block + bi;
      PhiloxBatch(b, k0, k1, v);
      const size_t nb = std::min<size_t>(kBatch, b1 - bi);
      // index of lane 0 of block b in `out` (negative for a first block that starts before offset)
      const int64_t base = static_cast<int64_t>(b * 4 - offset);
      if (base >= 0 && base + static_cast<int64_t>(4 * nb) <= static_cast<int64_t>(n)) {
        std::memcpy(out + base, v, 4 * nb * sizeof(float));
      } else {
        for (size_t l = 0; l < 4 * nb; ++l) {
          const int64_t i = base + static_cast<int64_t>(l);
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
  job.out = PinF32(info, 2, "out", Access::kWrite, async);
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
