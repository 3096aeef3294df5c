// Argument readers for the bindings. The TypeScript layer validates first and gives the friendly
// message; these checks are the last line: every length, offset and type is checked here again so
// that no call from JavaScript can make the addon read or write out of bounds. Each failure throws a
// JS TypeError/RangeError (node-addon-api C++ exceptions), never aborts.
#pragma once
#include <napi.h>

#include <cmath>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <memory>
#include <string>

namespace dk {

// A Float32Array's memory as seen at the time of the call.
struct F32 {
  float* data = nullptr;
  size_t length = 0;
};

// How a kernel uses an array: asynchronous calls copy what they read and write back what they write.
enum class Access { kRead, kWrite, kReadWrite };

// A Float32Array kept alive (referenced) for the lifetime of an AsyncWorker; destroyed on the main
// thread together with the worker. A reference keeps the typed array alive but not its memory: JS
// may transfer (detach) the ArrayBuffer while the kernel runs and the new owner may be collected.
// So an asynchronous call on an ordinary ArrayBuffer works on a private copy (`copy`): inputs are
// copied at call time, outputs written back at completion on the main thread, only if the array
// still has the same memory and length. SharedArrayBuffer memory cannot be detached: used in place.
struct PinnedF32 {
  Napi::Reference<Napi::Float32Array> ref;
  float* data = nullptr;  // what the kernel reads/writes
  size_t length = 0;
  std::unique_ptr<float[]> copy;  // the private copy, when there is one
  float* js_data = nullptr;       // the array's memory at call time
  bool write_back = false;

  PinnedF32() = default;
  PinnedF32(PinnedF32&&) = default;
  PinnedF32& operator=(PinnedF32&&) = default;
  ~PinnedF32() { WriteBack(); }

  bool present() const { return data != nullptr || length != 0 || !ref.IsEmpty(); }

  // Copies the result into the JS array if it is still the same memory. Never throws.
  void WriteBack() noexcept {
    if (!copy || !write_back || ref.IsEmpty()) return;
    write_back = false;
    napi_env env = ref.Env();
    napi_value v = nullptr, ab = nullptr;
    napi_typedarray_type type;
    size_t len = 0, off = 0;
    void* mem = nullptr;
    if (napi_get_reference_value(env, static_cast<napi_ref>(ref), &v) != napi_ok || v == nullptr) return;
    if (napi_get_typedarray_info(env, v, &type, &len, &mem, &ab, &off) != napi_ok) return;
    if (type != napi_float32_array || len != length || mem != js_data) return;  // detached or replaced
    std::memcpy(js_data, copy.get(), length * sizeof(float));
  }
};

[[noreturn]] inline void ThrowType(Napi::Env env, const std::string& msg) {
  throw Napi::TypeError::New(env, "diffusekit native: " + msg);
}
[[noreturn]] inline void ThrowRange(Napi::Env env, const std::string& msg) {
  throw Napi::RangeError::New(env, "diffusekit native: " + msg);
}

inline void RequireArgs(const Napi::CallbackInfo& info, size_t n, const char* fn) {
  if (info.Length() < n) ThrowType(info.Env(), std::string(fn) + " expects " + std::to_string(n) + " arguments");
}

inline bool IsNullish(const Napi::Value& v) { return v.IsNull() || v.IsUndefined(); }

// A Float32Array argument (any other value, including other typed arrays, is a TypeError).
inline F32 GetF32(const Napi::CallbackInfo& info, size_t i, const char* name) {
  Napi::Value v = info[i];
  if (!v.IsTypedArray() || v.As<Napi::TypedArray>().TypedArrayType() != napi_float32_array) {
    ThrowType(info.Env(), std::string(name) + " must be a Float32Array");
  }
  Napi::Float32Array a = v.As<Napi::Float32Array>();
  F32 r;
  r.length = a.ElementLength();
  r.data = r.length ? a.Data() : nullptr;  // a detached buffer reports length 0
  if (r.length && r.data == nullptr) ThrowType(info.Env(), std::string(name) + " has no backing memory");
  return r;
}

// Pins a Float32Array argument. With async = true and an ordinary (detachable) ArrayBuffer the kernel
// gets a private copy (see PinnedF32); synchronous calls use the memory in place (JS cannot run).
inline PinnedF32 PinF32(const Napi::CallbackInfo& info, size_t i, const char* name, Access access = Access::kReadWrite, bool async = false) {
  F32 f = GetF32(info, i, name);
  PinnedF32 p;
  Napi::Float32Array arr = info[i].As<Napi::Float32Array>();
  p.ref = Napi::Persistent(arr);
  p.data = f.data;
  p.length = f.length;
  if (async && f.length > 0) {
    napi_value ab = nullptr;
    napi_typedarray_type type;
    size_t len = 0, off = 0;
    void* mem = nullptr;
    bool detachable = true;
    if (napi_get_typedarray_info(info.Env(), arr, &type, &len, &mem, &ab, &off) == napi_ok && ab != nullptr) {
      napi_is_arraybuffer(info.Env(), ab, &detachable);  // false for a SharedArrayBuffer
    }
    if (detachable) {
      p.copy.reset(new float[f.length]);  // std::bad_alloc becomes a JS error
      if (access != Access::kWrite) std::memcpy(p.copy.get(), f.data, f.length * sizeof(float));
      p.js_data = f.data;
      p.data = p.copy.get();
      p.write_back = access != Access::kRead;
    }
  }
  return p;
}

// Optional Float32Array (null/undefined → empty, not present).
inline PinnedF32 PinOptionalF32(const Napi::CallbackInfo& info, size_t i, const char* name, Access access = Access::kReadWrite, bool async = false) {
  if (i >= info.Length() || IsNullish(info[i])) return PinnedF32{};
  return PinF32(info, i, name, access, async);
}

inline double GetNumber(const Napi::CallbackInfo& info, size_t i, const char* name) {
  if (!info[i].IsNumber()) ThrowType(info.Env(), std::string(name) + " must be a number");
  return info[i].As<Napi::Number>().DoubleValue();
}

inline double GetFinite(const Napi::CallbackInfo& info, size_t i, const char* name) {
  const double d = GetNumber(info, i, name);
  if (!std::isfinite(d)) ThrowRange(info.Env(), std::string(name) + " must be finite");
  return d;
}

// An integer in [lo, hi] given as a JS number (no silent truncation of 1.5 or NaN).
inline int64_t GetInteger(const Napi::CallbackInfo& info, size_t i, const char* name, double lo, double hi) {
  const double d = GetNumber(info, i, name);
  if (!(d >= lo && d <= hi) || std::floor(d) != d) {
    ThrowRange(info.Env(), std::string(name) + " must be an integer in [" + std::to_string(static_cast<int64_t>(lo)) + ", " +
                               std::to_string(static_cast<int64_t>(hi)) + "]");
  }
  return static_cast<int64_t>(d);
}

inline bool GetBool(const Napi::CallbackInfo& info, size_t i, const char* name) {
  if (!info[i].IsBoolean()) ThrowType(info.Env(), std::string(name) + " must be a boolean");
  return info[i].As<Napi::Boolean>().Value();
}

// A Philox seed: BigInt in [0, 2^64).
inline uint64_t GetSeed(const Napi::CallbackInfo& info, size_t i) {
  if (!info[i].IsBigInt()) ThrowType(info.Env(), "seed must be a bigint");
  int sign = 0;
  size_t words = 2;
  uint64_t w[2] = {0, 0};
  info[i].As<Napi::BigInt>().ToWords(&sign, &words, w);
  // words is set to the count the value needs, which may exceed the 2 we offered
  if (sign != 0) ThrowRange(info.Env(), "seed must be >= 0");
  if (words > 1) ThrowRange(info.Env(), "seed must be < 2^64");
  return words == 0 ? 0 : w[0];
}

constexpr double kMaxSafeInteger = 9007199254740991.0;  // 2^53 − 1

}  // namespace dk
