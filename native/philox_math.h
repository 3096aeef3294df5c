// The Philox4x32-10 normal-noise math shared by the CPU (.cc) and CUDA (.cu) kernels. It transcribes
// src/native/philox-math.ts operation for operation: every float operation is a single IEEE float32
// operation rounded to nearest (host: float with -ffp-contract=off, no fast-math; device: the _rn
// intrinsics, which nvcc never fuses into FMA), so TypeScript, C++ and CUDA give identical bits.
#pragma once
#include <cstdint>
#include <cmath>

#if defined(__CUDACC__)
#define DK_HD __host__ __device__ __forceinline__
#else
#define DK_HD inline
#endif

#if defined(__CUDA_ARCH__)
#define DK_ADD(a, b) __fadd_rn((a), (b))
#define DK_SUB(a, b) __fsub_rn((a), (b))
#define DK_MUL(a, b) __fmul_rn((a), (b))
#define DK_DIV(a, b) __fdiv_rn((a), (b))
#define DK_SQRT(a) __fsqrt_rn(a)
#else
#define DK_ADD(a, b) ((a) + (b))
#define DK_SUB(a, b) ((a) - (b))
#define DK_MUL(a, b) ((a) * (b))
#define DK_DIV(a, b) ((a) / (b))
#define DK_SQRT(a) std::sqrt(a)
#endif

namespace dk {

constexpr uint32_t kPhiloxM0 = 0xD2511F53u;
constexpr uint32_t kPhiloxM1 = 0xCD9E8D57u;
constexpr uint32_t kPhiloxW0 = 0x9E3779B9u;
constexpr uint32_t kPhiloxW1 = 0xBB67AE85u;

DK_HD uint32_t MulHi32(uint32_t a, uint32_t b) {
#if defined(__CUDA_ARCH__)
  return __umulhi(a, b);
#else
  return static_cast<uint32_t>((static_cast<uint64_t>(a) * b) >> 32);
#endif
}

struct Philox4 {
  uint32_t v[4];
};

// Random123's Philox4x32 with 10 rounds; the key is bumped by the Weyl constants between rounds.
DK_HD Philox4 Philox4x32_10(uint32_t c0, uint32_t c1, uint32_t c2, uint32_t c3, uint32_t k0, uint32_t k1) {
#if defined(__CUDA_ARCH__)
#pragma unroll
#endif
  for (int round = 0; round < 10; ++round) {
    if (round > 0) {
      k0 += kPhiloxW0;
      k1 += kPhiloxW1;
    }
    const uint32_t hi0 = MulHi32(kPhiloxM0, c0);
    const uint32_t lo0 = kPhiloxM0 * c0;
    const uint32_t hi1 = MulHi32(kPhiloxM1, c2);
    const uint32_t lo1 = kPhiloxM1 * c2;
    const uint32_t n0 = hi1 ^ c1 ^ k0;
    const uint32_t n2 = hi0 ^ c3 ^ k1;
    c0 = n0;
    c1 = lo1;
    c2 = n2;
    c3 = lo0;
  }
  return Philox4{{c0, c1, c2, c3}};
}

DK_HD int Clz32(uint32_t x) {
#if defined(__CUDA_ARCH__)
  return __clz(static_cast<int>(x));
#else
  return __builtin_clz(x);
#endif
}

// ln(k · 2^-24) for an integer k in [1, 2^24] (see lnUnitF32 in philox-math.ts).
DK_HD float LnUnitF32(uint32_t k) {
  const float kLn2Hi = 0x1.62e3p-1f;        // 0x3f317180
  const float kLn2Lo = 0x1.2fefa2p-17f;     // 0x3717f7d1
  const float kLg1 = 0x1.555554p-1f;        // 0x3f2aaaaa
  const float kLg2 = 0x1.9999c2p-2f;        // 0x3ecccce1
  const float kLg3 = 0x1.23d3dcp-2f;        // 0x3e91e9ee
  const float kLg4 = 0x1.f13c4cp-3f;        // 0x3e789e26
  const uint32_t kSqrt2Mant = 0xB504F3u;
  const int e = 31 - Clz32(k);
  const uint32_t mi = e <= 23 ? (k << (23 - e)) : (k >> (e - 23));  // e == 24 only for k == 2^24 (exact)
  int ex = e - 24;
  float m = DK_MUL(static_cast<float>(mi), 0x1p-23f);  // exact
  if (mi >= kSqrt2Mant) {
    ex += 1;
    m = DK_MUL(m, 0.5f);  // exact
  }
  const float fm = DK_SUB(m, 1.0f);
  const float s = DK_DIV(fm, DK_ADD(2.0f, fm));
  const float z = DK_MUL(s, s);
  const float w = DK_MUL(z, z);
  const float t1 = DK_MUL(w, DK_ADD(kLg2, DK_MUL(w, kLg4)));
  const float t2 = DK_MUL(z, DK_ADD(kLg1, DK_MUL(w, kLg3)));
  const float r = DK_ADD(t2, t1);
  const float hfsq = DK_MUL(DK_MUL(0.5f, fm), fm);
  const float dk = static_cast<float>(ex);
  float acc = DK_MUL(s, DK_ADD(hfsq, r));
  acc = DK_ADD(acc, DK_MUL(dk, kLn2Lo));
  acc = DK_SUB(acc, hfsq);
  acc = DK_ADD(acc, fm);
  acc = DK_ADD(acc, DK_MUL(dk, kLn2Hi));
  return acc;
}

// sin and cos of 2π·n/2^24 for n in [0, 2^24) (see sinCosTurnF32 in philox-math.ts).
DK_HD void SinCosTurnF32(uint32_t n, float* sin_out, float* cos_out) {
  const float kS1 = -0x1.555556p-3f, kS2 = 0x1.111112p-7f, kS3 = -0x1.a01a02p-13f, kS4 = 0x1.71de3ap-19f;
  const float kC1 = -0x1p-1f, kC2 = 0x1.555556p-5f, kC3 = -0x1.6c16c2p-10f, kC4 = 0x1.a01a02p-16f, kC5 = -0x1.27e4fcp-22f;
  const float kAngleStep = 0x1.921fb6p-22f;  // π / 2^23
  uint32_t q = n >> 22;
  int32_t r = static_cast<int32_t>(n & 0x3FFFFFu);
  if (r >= 0x200000) {
    r -= 0x400000;
    q += 1;
  }
  q &= 3u;
  const float x = DK_MUL(static_cast<float>(r), kAngleStep);
  const float z = DK_MUL(x, x);
  const float sp = DK_ADD(kS1, DK_MUL(z, DK_ADD(kS2, DK_MUL(z, DK_ADD(kS3, DK_MUL(z, kS4))))));
  const float sn = DK_ADD(x, DK_MUL(DK_MUL(x, z), sp));
  const float cp = DK_ADD(kC1, DK_MUL(z, DK_ADD(kC2, DK_MUL(z, DK_ADD(kC3, DK_MUL(z, DK_ADD(kC4, DK_MUL(z, kC5))))))));
  const float cs = DK_ADD(1.0f, DK_MUL(z, cp));
  float sv, cv;
  switch (q) {
    case 0: sv = sn; cv = cs; break;
    case 1: sv = cs; cv = -sn; break;
    case 2: sv = -sn; cv = -cs; break;
    default: sv = -cs; cv = sn; break;
  }
  *sin_out = sv;
  *cos_out = cv;
}

// Box-Muller of one (even, odd) pair: even lane = radius·cos, odd lane = radius·sin.
DK_HD void BoxMullerF32(uint32_t r_even, uint32_t r_odd, float* lane_even, float* lane_odd) {
  const float ln = LnUnitF32((r_even >> 8) + 1u);
  const float radius = DK_SQRT(DK_MUL(-2.0f, ln));
  float s, c;
  SinCosTurnF32(r_odd >> 8, &s, &c);
  *lane_even = DK_MUL(radius, c);
  *lane_odd = DK_MUL(radius, s);
}

// The four normal values of Philox block b of the stream with key (k0, k1).
DK_HD void PhiloxNormalBlock(uint64_t b, uint32_t k0, uint32_t k1, float out[4]) {
  const Philox4 r = Philox4x32_10(static_cast<uint32_t>(b), static_cast<uint32_t>(b >> 32), 0u, 0u, k0, k1);
  BoxMullerF32(r.v[0], r.v[1], &out[0], &out[1]);
  BoxMullerF32(r.v[2], r.v[3], &out[2], &out[3]);
}

}  // namespace dk
