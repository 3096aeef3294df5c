// Fast Griffin-Lim (torchaudio.functional.griffinlim semantics), plain C++ seen by the bindings
// (audio_bindings.cc), the CUDA file (audio_griffin_lim.cu) and the tests. The TypeScript reference
// is modalities/audio/griffin-lim.ts; both use the same window, padding, initial phases and
// momentum rule, so the CPU result equals it to double rounding.
#pragma once
#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

namespace dk {
namespace audio {

struct GriffinLimParams {
  size_t n_fft = 0;
  size_t hop = 0;
  size_t win = 0;
  size_t iterations = 32;
  double momentum = 0.99;  // torchaudio's; the update uses momentum / (1 + momentum)
  double power = 1.0;      // the magnitude is raised to 1/power first
  bool rand_init = true;
  uint32_t seed = 0;
  size_t length = 0;  // output samples
  size_t frames = 0;  // magnitude is [bins][frames], bins = n_fft/2 + 1
  size_t bins() const { return n_fft / 2 + 1; }
};

// Checks the geometry (sizes, NOLA, frame count of the output length); throws std::invalid_argument.
void CheckGriffinLimParams(const GriffinLimParams& p, size_t magnitude_len, size_t out_len);

// Periodic Hann window of `win` samples, zero-padded (centred) to n_fft samples.
std::vector<double> PaddedHann(size_t n_fft, size_t win);

// Initial phases as the TypeScript reference draws them (mulberry32, real then imaginary part of
// each [bin][frame] element), stored frame-major: re[t * bins + k].
void InitialPhases(const GriffinLimParams& p, double* re, double* im);

// CPU implementation (double precision, frames spread over the thread pool). When `cancel` points
// at a non-zero value (set from JavaScript through a shared Int32Array), it stops between
// iterations and throws std::runtime_error("aborted").
void GriffinLimCpu(const float* magnitude, const GriffinLimParams& p, float* out, const int32_t* cancel = nullptr);

// CUDA implementation (cuFFT loaded at run time, float32). Throws std::runtime_error when CUDA or
// cuFFT is unavailable. Defined in audio_griffin_lim.cu, or in audio_cuda_stub.cc without CUDA.
void GriffinLimCuda(const float* magnitude, const GriffinLimParams& p, float* out);
// Whether GriffinLimCuda can run here; `why` says what is missing otherwise.
bool GriffinLimCudaAvailable(std::string* why);
// Milliseconds the last GriffinLimCuda call spent on the GPU between upload and download (CUDA
// events), for benchmarks; 0 before the first call or without CUDA.
double GriffinLimCudaLastMs();

}  // namespace audio
}  // namespace dk
