// CPU Griffin-Lim: see audio_griffin_lim.h. Spectra are kept frame-major ([frame][bin]) so that each
// thread works on whole frames; two real frames share one complex FFT (z = a + i b).
#include "audio_griffin_lim.h"

#include <algorithm>
#include <cmath>
#include <memory>
#include <stdexcept>

#include "audio_fft.h"
#include "thread_pool.h"

namespace dk {
namespace audio {

void CheckGriffinLimParams(const GriffinLimParams& p, size_t magnitude_len, size_t out_len) {
  if (p.n_fft < 2 || p.n_fft > (size_t(1) << 24)) throw std::invalid_argument("n_fft out of range");
  if (p.win < 1 || p.win > p.n_fft) throw std::invalid_argument("win must be in [1, n_fft]");
  if (p.hop < 1 || p.hop > p.win) throw std::invalid_argument("hop must be in [1, win]");
  if (p.frames < 1 || p.frames > (size_t(1) << 24)) throw std::invalid_argument("frames out of range");
  if (p.bins() * p.frames != magnitude_len) throw std::invalid_argument("magnitude length must be bins * frames");
  if (p.length < 1 || p.length != out_len) throw std::invalid_argument("output length mismatch");
  const size_t padded = p.length + 2 * (p.n_fft / 2);
  if (padded < p.n_fft || 1 + (padded - p.n_fft) / p.hop != p.frames) throw std::invalid_argument("length does not give back the frame count");
  if (p.n_fft / 2 >= p.length) throw std::invalid_argument("signal too short for reflect padding");
  if (!(p.momentum >= 0 && p.momentum < 1)) throw std::invalid_argument("momentum must be in [0, 1)");
  if (!(p.power > 0) || !std::isfinite(p.power)) throw std::invalid_argument("power must be > 0");
  if (p.iterations > 100000) throw std::invalid_argument("too many iterations");
  // Memory guard: the frame buffer is frames * n_fft doubles.
  if (static_cast<double>(p.frames) * static_cast<double>(p.n_fft) > 4e8) throw std::invalid_argument("spectrogram too large");
}

std::vector<double> PaddedHann(size_t n_fft, size_t win) {
  std::vector<double> w(n_fft, 0.0);
  const size_t left = (n_fft - win) / 2;
  for (size_t i = 0; i < win; i++) {
    w[left + i] = win == 1 ? 1.0 : 0.5 - 0.5 * std::cos(2.0 * M_PI * static_cast<double>(i) / static_cast<double>(win));
  }
  return w;
}

void InitialPhases(const GriffinLimParams& p, double* re, double* im) {
  const size_t bins = p.bins(), frames = p.frames;
  if (!p.rand_init) {
    for (size_t i = 0; i < bins * frames; i++) {
      re[i] = 1.0;
      im[i] = 0.0;
    }
    return;
  }
  uint32_t s = p.seed;
  auto next = [&s]() {
    s += 0x6d2b79f5u;
    uint32_t t = s;
    t = (t ^ (t >> 15)) * (t | 1u);
    t ^= t + (t ^ (t >> 7)) * (t | 61u);
    return static_cast<double>(t ^ (t >> 14)) / 4294967296.0;
  };
  for (size_t k = 0; k < bins; k++) {
    for (size_t t = 0; t < frames; t++) {
      re[t * bins + k] = next();
      im[t * bins + k] = next();
    }
  }
}

namespace {

struct Geometry {
  size_t n, hop, bins, frames, length, pad, lo, hi, full;
  std::vector<double> w, env;
};

Geometry MakeGeometry(const GriffinLimParams& p) {
  Geometry g;
  g.n = p.n_fft;
  g.hop = p.hop;
  g.bins = p.bins();
  g.frames = p.frames;
  g.length = p.length;
  g.pad = p.n_fft / 2;
  g.w = PaddedHann(p.n_fft, p.win);
  g.lo = 0;
  while (g.lo < g.n && g.w[g.lo] == 0) g.lo++;
  g.hi = g.n;
  while (g.hi > g.lo && g.w[g.hi - 1] == 0) g.hi--;
  g.full = g.n + g.hop * (g.frames - 1);
  g.env.assign(g.full, 0.0);
  for (size_t t = 0; t < g.frames; t++)
    for (size_t i = g.lo; i < g.hi; i++) g.env[t * g.hop + i] += g.w[i] * g.w[i];
  for (size_t i = g.pad; i < std::min(g.full, g.pad + g.length); i++) {
    if (!(g.env[i] > 1e-11)) throw std::invalid_argument("window overlap-add is zero (NOLA fails)");
  }
  return g;
}

// Frame pairs per ParallelFor chunk: about four chunks per thread, so scratch is allocated rarely
// and the load still balances.
size_t PairGrain(size_t pairs) {
  const size_t chunks = static_cast<size_t>(GetThreads()) * 4;
  return std::max<size_t>(1, pairs / chunks);
}

// Windowed inverse FFTs of S·angles into frames_buf [frame][n].
void Synthesize(const Geometry& g, const FftPlan& plan, const double* s, const double* ar, const double* ai, double* frames_buf) {
  const size_t pairs = (g.frames + 1) / 2;
  ParallelFor(pairs, PairGrain(pairs), [&](size_t begin, size_t end) {
    FftScratch scratch(plan);
    std::vector<double> zr(g.n), zi(g.n);
    const size_t nyq = g.n % 2 == 0 ? g.n / 2 : SIZE_MAX;
    for (size_t pidx = begin; pidx < end; pidx++) {
      const size_t t = 2 * pidx;
      const bool two = t + 1 < g.frames;
      const double* sa = s + t * g.bins;
      const double* sb = s + (t + 1) * g.bins;
      for (size_t k = 0; k < g.bins; k++) {
        const size_t ia = t * g.bins + k, ib = (t + 1) * g.bins + k;
        const double xr = sa[k] * ar[ia];
        const double xi = (k == 0 || k == nyq) ? 0.0 : sa[k] * ai[ia];
        const double yr = two ? sb[k] * ar[ib] : 0.0;
        const double yi = two && k != 0 && k != nyq ? sb[k] * ai[ib] : 0.0;
        zr[k] = xr - yi;
        zi[k] = xi + yr;
        if (k != 0 && k != nyq) {
          zr[g.n - k] = xr + yi;
          zi[g.n - k] = -xi + yr;
        }
      }
      plan.Inverse(zr.data(), zi.data(), scratch);
      // Only the window's support [lo, hi) is kept: a quarter of the frame at Riffusion's setting.
      const size_t span = g.hi - g.lo;
      double* fa = frames_buf + t * span;
      for (size_t i = g.lo; i < g.hi; i++) fa[i - g.lo] = zr[i] * g.w[i];
      if (two) {
        double* fb = frames_buf + (t + 1) * span;
        for (size_t i = g.lo; i < g.hi; i++) fb[i - g.lo] = zi[i] * g.w[i];
      }
    }
  });
}

// Overlap-add gather: y[i] = Σ_t frame_t[p − t·hop] / env[p], p = i + pad; frames summed in order.
void OverlapAdd(const Geometry& g, const double* frames_buf, double* y) {
  ParallelFor(g.length, 4096, [&](size_t begin, size_t end) {
    for (size_t i = begin; i < end; i++) {
      const size_t p = i + g.pad;
      if (p >= g.full) {
        y[i] = 0.0;
        continue;
      }
      const size_t t_hi = std::min(g.frames - 1, p / g.hop);
      const size_t t_lo = p + 1 > g.n ? (p + 1 - g.n + g.hop - 1) / g.hop : 0;
      double acc = 0.0;
      for (size_t t = t_lo; t <= t_hi; t++) {
        const size_t j = p - t * g.hop;
        if (j >= g.lo && j < g.hi) acc += frames_buf[t * (g.hi - g.lo) + (j - g.lo)];
      }
      y[i] = acc / g.env[p];
    }
  });
}

}  // namespace

void GriffinLimCpu(const float* magnitude, const GriffinLimParams& p, float* out, const int32_t* cancel) {
  CheckGriffinLimParams(p, p.bins() * p.frames, p.length);
  const Geometry g = MakeGeometry(p);
  std::shared_ptr<const FftPlan> plan = GetFftPlan(g.n);
  const size_t total = g.bins * g.frames;
  std::vector<double> s(total), ar(total), ai(total), prev_re(total, 0.0), prev_im(total, 0.0);
  const double inv_power = 1.0 / p.power;
  for (size_t k = 0; k < g.bins; k++)
    for (size_t t = 0; t < g.frames; t++) {
      const double m = magnitude[k * g.frames + t];
      s[t * g.bins + k] = p.power == 1.0 ? m : std::pow(m, inv_power);
    }
  InitialPhases(p, ar.data(), ai.data());
  const double alpha = p.momentum / (1.0 + p.momentum);
  // The signal lives inside its reflect-padded copy, so analysis reads frames without index checks.
  std::vector<double> frames_buf(g.frames * (g.hi - g.lo), 0.0), ypad(g.length + 2 * g.pad, 0.0);
  double* y = ypad.data() + g.pad;

  for (size_t it = 0; it < p.iterations; it++) {
    // Written by the JavaScript thread while this worker runs: read it atomically.
    if (cancel && __atomic_load_n(cancel, __ATOMIC_RELAXED) != 0) throw std::runtime_error("aborted");
    Synthesize(g, *plan, s.data(), ar.data(), ai.data(), frames_buf.data());
    OverlapAdd(g, frames_buf.data(), y);
    for (size_t i = 1; i <= g.pad; i++) {
      ypad[g.pad - i] = y[i];
      ypad[g.pad + g.length - 1 + i] = y[g.length - 1 - i];
    }
    // Analysis of the reflect-padded signal + momentum update, frame pairs in parallel.
    const size_t pairs = (g.frames + 1) / 2;
    ParallelFor(pairs, PairGrain(pairs), [&](size_t begin, size_t end) {
      FftScratch scratch(*plan);
      std::vector<double> zr(g.n), zi(g.n);
      for (size_t pidx = begin; pidx < end; pidx++) {
        const size_t t = 2 * pidx;
        const bool two = t + 1 < g.frames;
        std::fill(zr.begin(), zr.end(), 0.0);
        std::fill(zi.begin(), zi.end(), 0.0);
        const double* fa = ypad.data() + t * g.hop;
        const double* fb = fa + g.hop;
        for (size_t i = g.lo; i < g.hi; i++) {
          zr[i] = fa[i] * g.w[i];
          if (two) zi[i] = fb[i] * g.w[i];
        }
        plan->Forward(zr.data(), zi.data(), scratch);
        for (size_t k = 0; k < g.bins; k++) {
          const size_t j = k == 0 ? 0 : g.n - k;
          const double pr = zr[k], pi = zi[k], qr = zr[j], qi = -zi[j];
          for (int which = 0; which < (two ? 2 : 1); which++) {
            const double rr = which == 0 ? 0.5 * (pr + qr) : 0.5 * (pi - qi);
            const double ri = which == 0 ? 0.5 * (pi + qi) : -0.5 * (pr - qr);
            const size_t idx = (t + which) * g.bins + k;
            const double xr = rr - alpha * prev_re[idx];
            const double xi = ri - alpha * prev_im[idx];
            const double d = std::sqrt(xr * xr + xi * xi) + 1e-16;
            ar[idx] = xr / d;
            ai[idx] = xi / d;
            prev_re[idx] = rr;
            prev_im[idx] = ri;
          }
        }
      }
    });
  }
  Synthesize(g, *plan, s.data(), ar.data(), ai.data(), frames_buf.data());
  OverlapAdd(g, frames_buf.data(), y);
  for (size_t i = 0; i < g.length; i++) out[i] = static_cast<float>(y[i]);
}

}  // namespace audio
}  // namespace dk
