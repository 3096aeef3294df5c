// Complex FFT of any length in double precision, the C++ twin of modalities/audio/fft.ts:
// a self-sorting (Stockham) mixed-radix FFT with butterflies for 2, 3, 4, 5 and a direct DFT for
// 7, 11, 13; Bluestein's chirp-z on a power-of-two FFT for lengths with a larger prime factor.
// A plan is immutable after construction (twiddles only), so one plan serves many threads; each
// thread brings its own scratch (FftScratch).
#pragma once
#include <cstddef>
#include <memory>
#include <vector>

namespace dk {
namespace audio {

struct FftStage {
  int radix;
  size_t ns;  // product of the earlier radices
  std::vector<double> tw_re, tw_im;  // [r-1][s], s < ns, r in 1..radix-1 (contiguous in s: vectorisable)
};

class FftPlan;

// Per-thread working memory for one plan.
struct FftScratch {
  std::vector<double> buf_re, buf_im;  // Stockham ping-pong
  std::vector<double> a_re, a_im;      // Bluestein
  std::vector<double> inner_re, inner_im;  // Bluestein's inner ping-pong
  explicit FftScratch(const FftPlan& plan);
};

class FftPlan {
 public:
  explicit FftPlan(size_t n);
  size_t size() const { return n_; }
  // Forward transform in place (X[k] = sum x[t] e^{-2 pi i kt/n}).
  void Forward(double* re, double* im, FftScratch& s) const;
  // Inverse in place, including the 1/n scale.
  void Inverse(double* re, double* im, FftScratch& s) const;
  size_t scratch_size() const { return bluestein_ ? m_ : n_; }
  bool bluestein() const { return bluestein_; }

 private:
  friend struct FftScratch;
  void Stockham(const std::vector<FftStage>& stages, size_t n, double* re, double* im, double* buf_re, double* buf_im) const;
  size_t n_;
  bool bluestein_ = false;
  std::vector<FftStage> stages_;  // direct path, or the inner power-of-two path of Bluestein
  size_t m_ = 0;                  // Bluestein inner size
  std::vector<double> chirp_re_, chirp_im_, filt_re_, filt_im_;
};

// Shared, cached plan for length n (thread-safe).
std::shared_ptr<const FftPlan> GetFftPlan(size_t n);

}  // namespace audio
}  // namespace dk
