// See audio_fft.h. The algorithm mirrors modalities/audio/fft.ts stage for stage, so the TypeScript
// reference and this code agree to double rounding.
#include "audio_fft.h"

#include <cmath>
#include <map>
#include <mutex>
#include <stdexcept>

namespace dk {
namespace audio {

namespace {

constexpr int kMaxDirectPrime = 13;

std::vector<int> Factorize(size_t n) {
  std::vector<int> out;
  size_t m = n;
  while (m % 4 == 0) {
    out.push_back(4);
    m /= 4;
  }
  for (int p : {2, 3, 5, 7, 11, 13}) {
    while (m % p == 0) {
      out.push_back(p);
      m /= p;
    }
  }
  if (m != 1) out.push_back(static_cast<int>(m));
  return out;
}

size_t LargestPrimeFactor(size_t n) {
  size_t m = n, largest = 1;
  for (size_t p = 2; p * p <= m; p++) {
    while (m % p == 0) {
      largest = p;
      m /= p;
    }
  }
  return m > 1 ? std::max(largest, m) : largest;
}

std::vector<FftStage> MakeStages(size_t n) {
  std::vector<FftStage> stages;
  if (n == 1) return stages;
  size_t ns = 1;
  for (int radix : Factorize(n)) {
    FftStage st;
    st.radix = radix;
    st.ns = ns;
    st.tw_re.resize(ns * (radix - 1));
    st.tw_im.resize(ns * (radix - 1));
    for (size_t s = 0; s < ns; s++) {
      for (int r = 1; r < radix; r++) {
        const double a = -2.0 * M_PI * static_cast<double>(s) * r / static_cast<double>(ns * radix);
        st.tw_re[(r - 1) * ns + s] = std::cos(a);
        st.tw_im[(r - 1) * ns + s] = std::sin(a);
      }
    }
    stages.push_back(std::move(st));
    ns *= radix;
  }
  return stages;
}

// One Stockham stage: see fft.ts for the index algebra.
// Compiled twice (AVX2 and baseline) and picked at load time: the inner loops run over contiguous
// s with contiguous twiddles, so they vectorise; no FMA, so both clones give identical results.
#if defined(__GNUC__) && defined(__x86_64__) && !defined(__clang__) && !defined(DIFFUSEKIT_SANITIZE)
__attribute__((target_clones("avx2", "default")))
#endif
void Stage(const FftStage& st, size_t n, const double* __restrict__ xr, const double* __restrict__ xi, double* __restrict__ yr,
           double* __restrict__ yi) {
  const int R = st.radix;
  const size_t ns = st.ns;
  const size_t stride = n / R;
  const size_t blocks = stride / ns;
  const double* twr = st.tw_re.data();
  const double* twi = st.tw_im.data();
  if (R == 2) {
    for (size_t b = 0; b < blocks; b++) {
      for (size_t s = 0; s < ns; s++) {
        const size_t j = b * ns + s, o = b * ns * 2 + s;
        const double wr = twr[s], wi = twi[s];
        const double ar = xr[j], ai = xi[j];
        const double br = xr[j + stride] * wr - xi[j + stride] * wi;
        const double bi = xr[j + stride] * wi + xi[j + stride] * wr;
        yr[o] = ar + br;
        yi[o] = ai + bi;
        yr[o + ns] = ar - br;
        yi[o + ns] = ai - bi;
      }
    }
    return;
  }
  if (R == 4) {
    for (size_t b = 0; b < blocks; b++) {
      for (size_t s = 0; s < ns; s++) {
        const size_t j = b * ns + s, o = b * ns * 4 + s, t1 = s, t2 = ns + s, t3 = 2 * ns + s;
        const double a0r = xr[j], a0i = xi[j];
        double pr = xr[j + stride], pi = xi[j + stride];
        const double a1r = pr * twr[t1] - pi * twi[t1], a1i = pr * twi[t1] + pi * twr[t1];
        pr = xr[j + 2 * stride];
        pi = xi[j + 2 * stride];
        const double a2r = pr * twr[t2] - pi * twi[t2], a2i = pr * twi[t2] + pi * twr[t2];
        pr = xr[j + 3 * stride];
        pi = xi[j + 3 * stride];
        const double a3r = pr * twr[t3] - pi * twi[t3], a3i = pr * twi[t3] + pi * twr[t3];
        const double s02r = a0r + a2r, s02i = a0i + a2i, d02r = a0r - a2r, d02i = a0i - a2i;
        const double s13r = a1r + a3r, s13i = a1i + a3i, d13r = a1r - a3r, d13i = a1i - a3i;
        yr[o] = s02r + s13r;
        yi[o] = s02i + s13i;
        yr[o + ns] = d02r + d13i;
        yi[o + ns] = d02i - d13r;
        yr[o + 2 * ns] = s02r - s13r;
        yi[o + 2 * ns] = s02i - s13i;
        yr[o + 3 * ns] = d02r - d13i;
        yi[o + 3 * ns] = d02i + d13r;
      }
    }
    return;
  }
  if (R == 3) {
    const double c = -0.5, sn = -std::sqrt(3.0) / 2;
    for (size_t b = 0; b < blocks; b++) {
      for (size_t s = 0; s < ns; s++) {
        const size_t j = b * ns + s, o = b * ns * 3 + s, t1 = s, t2 = ns + s;
        const double a0r = xr[j], a0i = xi[j];
        double pr = xr[j + stride], pi = xi[j + stride];
        const double a1r = pr * twr[t1] - pi * twi[t1], a1i = pr * twi[t1] + pi * twr[t1];
        pr = xr[j + 2 * stride];
        pi = xi[j + 2 * stride];
        const double a2r = pr * twr[t2] - pi * twi[t2], a2i = pr * twi[t2] + pi * twr[t2];
        const double sr = a1r + a2r, si = a1i + a2i, dr = a1r - a2r, di = a1i - a2i;
        const double mr = a0r + c * sr, mi = a0i + c * si;
        yr[o] = a0r + sr;
        yi[o] = a0i + si;
        yr[o + ns] = mr - sn * di;
        yi[o + ns] = mi + sn * dr;
        yr[o + 2 * ns] = mr + sn * di;
        yi[o + 2 * ns] = mi - sn * dr;
      }
    }
    return;
  }
  if (R == 5) {
    const double c1 = std::cos(2 * M_PI / 5), c2 = std::cos(4 * M_PI / 5);
    const double s1 = -std::sin(2 * M_PI / 5), s2 = -std::sin(4 * M_PI / 5);
    for (size_t b = 0; b < blocks; b++) {
      for (size_t s = 0; s < ns; s++) {
        const size_t j = b * ns + s, o = b * ns * 5 + s;
        double ar[5], ai[5];
        ar[0] = xr[j];
        ai[0] = xi[j];
        for (int r = 1; r < 5; r++) {
          const size_t t = (r - 1) * ns + s;
          const double pr = xr[j + r * stride], pi = xi[j + r * stride];
          ar[r] = pr * twr[t] - pi * twi[t];
          ai[r] = pr * twi[t] + pi * twr[t];
        }
        const double s14r = ar[1] + ar[4], s14i = ai[1] + ai[4], d14r = ar[1] - ar[4], d14i = ai[1] - ai[4];
        const double s23r = ar[2] + ar[3], s23i = ai[2] + ai[3], d23r = ar[2] - ar[3], d23i = ai[2] - ai[3];
        const double m1r = ar[0] + c1 * s14r + c2 * s23r, m1i = ai[0] + c1 * s14i + c2 * s23i;
        const double m2r = ar[0] + c2 * s14r + c1 * s23r, m2i = ai[0] + c2 * s14i + c1 * s23i;
        const double n1r = -(s1 * d14i + s2 * d23i), n1i = s1 * d14r + s2 * d23r;
        const double n2r = -(s2 * d14i - s1 * d23i), n2i = s2 * d14r - s1 * d23r;
        yr[o] = ar[0] + s14r + s23r;
        yi[o] = ai[0] + s14i + s23i;
        yr[o + ns] = m1r + n1r;
        yi[o + ns] = m1i + n1i;
        yr[o + 4 * ns] = m1r - n1r;
        yi[o + 4 * ns] = m1i - n1i;
        yr[o + 2 * ns] = m2r + n2r;
        yi[o + 2 * ns] = m2i + n2i;
        yr[o + 3 * ns] = m2r - n2r;
        yi[o + 3 * ns] = m2i - n2i;
      }
    }
    return;
  }
  // Odd prime radix (7, 11, 13): inputs j and R-j paired so that outputs k and R-k share the
  // cosine and sine sums (same operation order as fft.ts).
  double rr[kMaxDirectPrime], ri[kMaxDirectPrime], vr[kMaxDirectPrime], vi[kMaxDirectPrime];
  for (int k = 0; k < R; k++) {
    rr[k] = std::cos(-2 * M_PI * k / R);
    ri[k] = std::sin(-2 * M_PI * k / R);
  }
  const int h = (R - 1) / 2;
  for (size_t b = 0; b < blocks; b++) {
    for (size_t s = 0; s < ns; s++) {
      const size_t j = b * ns + s, o = b * ns * R + s;
      const double a0r = xr[j], a0i = xi[j];
      vr[0] = a0r;
      vi[0] = a0i;
      for (int r = 1; r < R; r++) {
        const size_t t = (r - 1) * ns + s;
        const double pr = xr[j + r * stride], pi = xi[j + r * stride];
        vr[r] = pr * twr[t] - pi * twi[t];
        vi[r] = pr * twi[t] + pi * twr[t];
      }
      double sum_r = a0r, sum_i = a0i;
      for (int q = 1; q <= h; q++) {
        sum_r += vr[q] + vr[R - q];
        sum_i += vi[q] + vi[R - q];
      }
      yr[o] = sum_r;
      yi[o] = sum_i;
      for (int k = 1; k <= h; k++) {
        double mr = a0r, mi = a0i, nr = 0, ni = 0;
        int idx = 0;
        for (int q = 1; q <= h; q++) {
          idx += k;
          if (idx >= R) idx -= R;
          const double c = rr[idx], sn = ri[idx];
          mr += c * (vr[q] + vr[R - q]);
          mi += c * (vi[q] + vi[R - q]);
          nr += sn * (vi[q] - vi[R - q]);
          ni += sn * (vr[q] - vr[R - q]);
        }
        yr[o + k * ns] = mr - nr;
        yi[o + k * ns] = mi + ni;
        yr[o + (R - k) * ns] = mr + nr;
        yi[o + (R - k) * ns] = mi - ni;
      }
    }
  }
}

}  // namespace

FftScratch::FftScratch(const FftPlan& plan) {
  if (plan.bluestein_) {
    a_re.resize(plan.m_);
    a_im.resize(plan.m_);
    inner_re.resize(plan.m_);
    inner_im.resize(plan.m_);
  } else {
    buf_re.resize(plan.n_);
    buf_im.resize(plan.n_);
  }
}

void FftPlan::Stockham(const std::vector<FftStage>& stages, size_t n, double* re, double* im, double* buf_re, double* buf_im) const {
  double *sr = re, *si = im, *dr = buf_re, *di = buf_im;
  for (const FftStage& st : stages) {
    Stage(st, n, sr, si, dr, di);
    std::swap(sr, dr);
    std::swap(si, di);
  }
  if (sr != re) {
    std::copy(sr, sr + n, re);
    std::copy(si, si + n, im);
  }
}

FftPlan::FftPlan(size_t n) : n_(n) {
  if (n == 0 || n > (size_t(1) << 26)) throw std::invalid_argument("FFT size out of range");
  if (LargestPrimeFactor(n) <= static_cast<size_t>(kMaxDirectPrime)) {
    stages_ = MakeStages(n);
    return;
  }
  bluestein_ = true;
  m_ = 1;
  while (m_ < 2 * n - 1) m_ *= 2;
  stages_ = MakeStages(m_);
  chirp_re_.resize(n);
  chirp_im_.resize(n);
  const unsigned long long two_n = 2ULL * n;
  for (size_t k = 0; k < n; k++) {
    // k² mod 2n keeps the phase argument small (exact in 128-bit for n < 2^32).
    const unsigned long long k2 = static_cast<unsigned long long>((static_cast<unsigned __int128>(k) * k) % two_n);
    const double a = -M_PI * static_cast<double>(k2) / static_cast<double>(n);
    chirp_re_[k] = std::cos(a);
    chirp_im_[k] = std::sin(a);
  }
  filt_re_.assign(m_, 0.0);
  filt_im_.assign(m_, 0.0);
  for (size_t k = 0; k < n; k++) {
    filt_re_[k] = chirp_re_[k];
    filt_im_[k] = -chirp_im_[k];
    if (k > 0) {
      filt_re_[m_ - k] = chirp_re_[k];
      filt_im_[m_ - k] = -chirp_im_[k];
    }
  }
  std::vector<double> br(m_), bi(m_);
  Stockham(stages_, m_, filt_re_.data(), filt_im_.data(), br.data(), bi.data());
}

void FftPlan::Forward(double* re, double* im, FftScratch& s) const {
  if (n_ == 1) return;
  if (!bluestein_) {
    Stockham(stages_, n_, re, im, s.buf_re.data(), s.buf_im.data());
    return;
  }
  double* ar = s.a_re.data();
  double* ai = s.a_im.data();
  for (size_t k = 0; k < n_; k++) {
    ar[k] = re[k] * chirp_re_[k] - im[k] * chirp_im_[k];
    ai[k] = re[k] * chirp_im_[k] + im[k] * chirp_re_[k];
  }
  std::fill(ar + n_, ar + m_, 0.0);
  std::fill(ai + n_, ai + m_, 0.0);
  Stockham(stages_, m_, ar, ai, s.inner_re.data(), s.inner_im.data());
  for (size_t k = 0; k < m_; k++) {
    const double xr = ar[k], xi = ai[k];
    ar[k] = xr * filt_re_[k] - xi * filt_im_[k];
    ai[k] = -(xr * filt_im_[k] + xi * filt_re_[k]);
  }
  Stockham(stages_, m_, ar, ai, s.inner_re.data(), s.inner_im.data());
  const double scale = 1.0 / static_cast<double>(m_);
  for (size_t k = 0; k < n_; k++) {
    const double cr = ar[k] * scale, ci = -ai[k] * scale;
    re[k] = cr * chirp_re_[k] - ci * chirp_im_[k];
    im[k] = cr * chirp_im_[k] + ci * chirp_re_[k];
  }
}

void FftPlan::Inverse(double* re, double* im, FftScratch& s) const {
  // ifft(x) = swap(fft(swap(x))) / n
  Forward(im, re, s);
  const double sc = 1.0 / static_cast<double>(n_);
  for (size_t k = 0; k < n_; k++) {
    re[k] *= sc;
    im[k] *= sc;
  }
}

std::shared_ptr<const FftPlan> GetFftPlan(size_t n) {
  static std::mutex mu;
  static std::map<size_t, std::shared_ptr<const FftPlan>> cache;
  std::lock_guard<std::mutex> lock(mu);
  auto it = cache.find(n);
  if (it != cache.end()) return it->second;
  auto plan = std::make_shared<const FftPlan>(n);
  if (cache.size() >= 16) cache.erase(cache.begin());
  cache[n] = plan;
  return plan;
}

}  // namespace audio
}  // namespace dk
