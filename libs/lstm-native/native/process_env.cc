// The part of the native backend that must run before oneDNN (and the OpenMP runtime under
// it) is loaded, so it links neither:
// - setenv: OpenMP reads OMP_NUM_THREADS and OMP_WAIT_POLICY once, when its library is
//   initialised, and oneDNN reads ONEDNN_MAX_CPU_ISA before its first kernel. They must be
//   in the process's environment. In a worker thread, Node's process.env is a private copy
//   (unless the thread was started with SHARE_ENV), so assigning to it never reaches
//   getenv(); this does.
// - the highest oneDNN instruction set this CPU supports, from cpuid, named as oneDNN
//   names it (ONEDNN_MAX_CPU_ISA takes these names);
// - whether the OpenMP runtime is already loaded (then its environment was read already).
#include <dlfcn.h>
#include <napi.h>

#include <cstdlib>
#include <string>

namespace {

// oneDNN 2.6's ladder (cpu_isa_traits): each level includes the ones below it.
const char* HighestOneDnnIsa() {
  __builtin_cpu_init();
  const bool avx512Core = __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw") && __builtin_cpu_supports("avx512vl") &&
                          __builtin_cpu_supports("avx512dq");
  const bool vnni = avx512Core && __builtin_cpu_supports("avx512vnni");
  const bool bf16 = vnni && __builtin_cpu_supports("avx512bf16");
  const bool amx = bf16 && __builtin_cpu_supports("amx-tile") && __builtin_cpu_supports("amx-int8") && __builtin_cpu_supports("amx-bf16");
  if (amx) return "avx512_core_amx";
  if (bf16) return "avx512_core_bf16";
  if (vnni) return "avx512_core_vnni";
  if (avx512Core) return "avx512_core";
  if (__builtin_cpu_supports("avx2")) return "avx2";
  if (__builtin_cpu_supports("avx")) return "avx";
  if (__builtin_cpu_supports("sse4.1")) return "sse41";
  return "all";
}

// (name, value) -> undefined; sets the variable in the process's own environment.
Napi::Value SetEnv(const Napi::CallbackInfo& info) {
  if (!info[0].IsString() || !info[1].IsString()) throw Napi::TypeError::New(info.Env(), "setenv(name: string, value: string)");
  std::string name = info[0].As<Napi::String>();
  std::string value = info[1].As<Napi::String>();
  if (setenv(name.c_str(), value.c_str(), 1) != 0) throw Napi::Error::New(info.Env(), "setenv(" + name + ") failed");
  return info.Env().Undefined();
}

// (name) -> string | null, from the process's own environment.
Napi::Value GetEnv(const Napi::CallbackInfo& info) {
  if (!info[0].IsString()) throw Napi::TypeError::New(info.Env(), "getenv(name: string)");
  std::string name = info[0].As<Napi::String>();
  const char* value = getenv(name.c_str());
  return value == nullptr ? info.Env().Null() : Napi::String::New(info.Env(), value);
}

Napi::Value CpuIsa(const Napi::CallbackInfo& info) { return Napi::String::New(info.Env(), HighestOneDnnIsa()); }

// () -> whether libgomp is loaded in this process (by an earlier load of the addon, or anything else).
Napi::Value OpenMpLoaded(const Napi::CallbackInfo& info) {
  void* handle = dlopen("libgomp.so.1", RTLD_LAZY | RTLD_NOLOAD);
  if (handle != nullptr) dlclose(handle);
  return Napi::Boolean::New(info.Env(), handle != nullptr);
}

Napi::Object Init(Napi::Env env, Napi::Object exports) {
  exports.Set("setenv", Napi::Function::New(env, SetEnv));
  exports.Set("getenv", Napi::Function::New(env, GetEnv));
  exports.Set("cpuIsa", Napi::Function::New(env, CpuIsa));
  exports.Set("openMpLoaded", Napi::Function::New(env, OpenMpLoaded));
  return exports;
}

}  // namespace

NODE_API_MODULE(process_env, Init)
