// N-API bindings of the audio kernels: audioGriffinLim(magnitude, out, params, device, async, cancel?) and
// audioCudaStatus(). TypeScript (src/native/audio.ts) validates first; every size is checked again
// here (CheckGriffinLimParams) so that a bad call throws instead of touching memory out of bounds.
#include <napi.h>

#include <cmath>
#include <string>

#include "args.h"
#include "audio_griffin_lim.h"
#include "job.h"
#include "registry.h"

namespace dk {

namespace {

size_t GetSize(Napi::Env env, const Napi::Object& o, const char* key, double lo, double hi) {
  Napi::Value v = o.Get(key);
  if (!v.IsNumber()) ThrowType(env, std::string("params.") + key + " must be a number");
  const double d = v.As<Napi::Number>().DoubleValue();
  if (!(d >= lo && d <= hi) || std::floor(d) != d) ThrowRange(env, std::string("params.") + key + " out of range");
  return static_cast<size_t>(d);
}

double GetDouble(Napi::Env env, const Napi::Object& o, const char* key) {
  Napi::Value v = o.Get(key);
  if (!v.IsNumber()) ThrowType(env, std::string("params.") + key + " must be a number");
  const double d = v.As<Napi::Number>().DoubleValue();
  if (!std::isfinite(d)) ThrowRange(env, std::string("params.") + key + " must be finite");
  return d;
}

struct GriffinLimJob {
  PinnedF32 magnitude;
  PinnedF32 out;
  // Optional Int32Array(1) the caller sets to 1 to stop the CPU loop (AbortSignal); kept referenced.
  Napi::Reference<Napi::Int32Array> cancel_ref;
  const int32_t* cancel = nullptr;
  audio::GriffinLimParams params;
  bool cuda = false;
  void Run() {
    if (cuda) {
      audio::GriffinLimCuda(magnitude.data, params, out.data);
    } else {
      audio::GriffinLimCpu(magnitude.data, params, out.data, cancel);
    }
  }
};

Napi::Value GriffinLim(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  RequireArgs(info, 5, "audioGriffinLim");
  GriffinLimJob job;
  job.magnitude = PinF32(info, 0, "magnitude");
  job.out = PinF32(info, 1, "out");
  if (!info[2].IsObject()) ThrowType(env, "params must be an object");
  Napi::Object o = info[2].As<Napi::Object>();
  audio::GriffinLimParams& p = job.params;
  p.n_fft = GetSize(env, o, "nFft", 2, 1 << 24);
  p.hop = GetSize(env, o, "hop", 1, 1 << 24);
  p.win = GetSize(env, o, "win", 1, 1 << 24);
  p.iterations = GetSize(env, o, "iterations", 0, 100000);
  p.momentum = GetDouble(env, o, "momentum");
  p.power = GetDouble(env, o, "power");
  Napi::Value ri = o.Get("randInit");
  if (!ri.IsBoolean()) ThrowType(env, "params.randInit must be a boolean");
  p.rand_init = ri.As<Napi::Boolean>().Value();
  p.seed = static_cast<uint32_t>(GetSize(env, o, "seed", 0, 4294967295.0));
  p.length = GetSize(env, o, "length", 1, 2147483647.0);
  p.frames = GetSize(env, o, "frames", 1, 1 << 24);
  if (!info[3].IsString()) ThrowType(env, "device must be 'cpu' or 'cuda'");
  const std::string device = info[3].As<Napi::String>().Utf8Value();
  if (device != "cpu" && device != "cuda") ThrowType(env, "device must be 'cpu' or 'cuda'");
  job.cuda = device == "cuda";
  const bool async = GetBool(info, 4, "async");
  if (info.Length() > 5 && !IsNullish(info[5])) {
    Napi::Value c = info[5];
    if (!c.IsTypedArray() || c.As<Napi::TypedArray>().TypedArrayType() != napi_int32_array || c.As<Napi::Int32Array>().ElementLength() < 1) {
      ThrowType(env, "cancel must be an Int32Array of length >= 1");
    }
    job.cancel_ref = Napi::Persistent(c.As<Napi::Int32Array>());
    job.cancel = c.As<Napi::Int32Array>().Data();
  }
  try {
    audio::CheckGriffinLimParams(p, job.magnitude.length, job.out.length);
  } catch (const std::exception& e) {
    ThrowRange(env, e.what());
  }
  return RunJob(env, std::move(job), async);
}

Napi::Value CudaStatus(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  std::string why;
  const bool ok = audio::GriffinLimCudaAvailable(&why);
  Napi::Object r = Napi::Object::New(env);
  r.Set("available", Napi::Boolean::New(env, ok));
  if (!ok) r.Set("error", Napi::String::New(env, why));
  return r;
}

}  // namespace

void RegisterAudio(Napi::Env env, Napi::Object exports) {
  exports.Set("audioGriffinLim", Napi::Function::New(env, GriffinLim, "audioGriffinLim"));
  exports.Set("audioCudaStatus", Napi::Function::New(env, CudaStatus, "audioCudaStatus"));
}

}  // namespace dk
