// The oneDNN half of the native compute backend (see ../src/native-backend.ts for the
// interface it serves). Shapes: B batch, T time, I input, H hidden, K head outputs, E
// embedding, V vocabulary; every array is row-major and float32.
//
// - An LSTM layer's forward and backward over all timesteps are one oneDNN LSTM primitive
//   call each. oneDNN's gate order is Keras's (i, f, c~, o) and its plain weight layouts
//   ldigo [1,1,I,4,H] / [1,1,H,4,H] and bias ldgo [1,1,4,H] are Keras's kernel [I,4H],
//   recurrent kernel [H,4H] and bias [4H] byte for byte. The primitives pick their own
//   (padded, or for the backward transposed) weight layouts and one oneDNN reorder per call
//   brings the weights into them. Data goes in and out time-major (tnc [T,B,C]), transposed
//   from and to our batch-major [B,T,C] once per call: oneDNN also takes ntc, a strided
//   view of [B,T,C], but then it cannot run the input projection and the weight gradients
//   of all timesteps as single merged GEMMs.
// - The dense head is oneDNN's sgemm; the embedding is plain loops in a fixed order.
// - Context-aware: every Node environment (main thread, worker thread) gets its own
//   instance: its own engine, stream and primitive cache. Calls are synchronous.
// - No pointer into JS memory outlives a call: a training forward's workspace (which the
//   backward needs) and all scratch memory are ArrayBuffers the JS side owns and passes in
//   on every call. The instance keeps only primitives, in a small LRU cache per shape.
// - The thread count is an argument of every call: omp_set_num_threads sets it for the
//   calling thread only (OpenMP keeps it per thread), so backends with different thread
//   counts can share a process.
#include <napi.h>
#include <omp.h>

#include <chrono>
#include <cstdint>
#include <cstring>
#include <list>
#include <memory>
#include <optional>
#include <stdexcept>
#include <string>
#include <utility>

#include "oneapi/dnnl/dnnl.hpp"

namespace {

using dnnl::memory;
using Tag = memory::format_tag;
constexpr memory::data_type kF32 = memory::data_type::f32;

// Every region handed to oneDNN starts on a 64-byte boundary (a cache line, a full AVX-512
// vector), whatever the alignment of the ArrayBuffer it is carved from: kernels then see the
// same alignment on every run, which keeps results bit-identical.
constexpr size_t kAlignment = 64;
// LSTM shapes whose primitives stay compiled. A model has one shape per distinct layer
// width, times the batch sizes it meets (full shards, a short last shard, validation).
constexpr size_t kLstmCacheCapacity = 8;

size_t AlignUp(size_t bytes) { return (bytes + kAlignment - 1) / kAlignment * kAlignment; }

// Bytes a buffer needs to hold regions of these sizes carved by Carver.
size_t CarvedBytes(std::initializer_list<size_t> sizes) {
  size_t total = kAlignment - 1;
  for (size_t size : sizes) total += AlignUp(size);
  return total;
}

// Cuts aligned regions out of a JS-owned buffer, in the order CarvedBytes counted them.
class Carver {
 public:
  Carver(void* data, size_t length, const char* what) : base_(static_cast<char*>(data)), length_(length), what_(what) {
    offset_ = (kAlignment - reinterpret_cast<uintptr_t>(base_) % kAlignment) % kAlignment;
  }

  float* Take(size_t bytes) {
    if (offset_ + bytes > length_) {
      throw std::length_error(std::string(what_) + ": buffer of " + std::to_string(length_) + " bytes is too small");
    }
    char* region = base_ + offset_;
    offset_ += AlignUp(bytes);
    return reinterpret_cast<float*>(region);
  }

 private:
  char* base_;
  size_t length_;
  const char* what_;
  size_t offset_;
};

// [B,T,C] (ours, batch-major) <-> [T,B,C] (oneDNN's tnc, time-major), by rows of C floats,
// on the call's OpenMP threads (copies: the result does not depend on how they share it).
void BatchToTimeMajor(const float* from, float* to, int64_t B, int64_t T, int64_t C) {
#pragma omp parallel for
  for (int64_t b = 0; b < B; b++) {
    for (int64_t t = 0; t < T; t++) std::memcpy(to + (t * B + b) * C, from + (b * T + t) * C, C * sizeof(float));
  }
}

void TimeToBatchMajor(const float* from, float* to, int64_t B, int64_t T, int64_t C) {
#pragma omp parallel for
  for (int64_t b = 0; b < B; b++) {
    for (int64_t t = 0; t < T; t++) std::memcpy(to + (b * T + t) * C, from + (t * B + b) * C, C * sizeof(float));
  }
}

struct LstmKey {
  int threads;
  int64_t B, T, I, H;
  bool operator==(const LstmKey& other) const {
    return threads == other.threads && B == other.B && T == other.T && I == other.I && H == other.H;
  }
};

// Reorders user weights into a primitive's layout, or says none is needed.
class WeightsReorder {
 public:
  WeightsReorder(const dnnl::engine& engine, const memory::desc& user, const memory::desc& wanted) : wanted_(wanted) {
    if (user != wanted) reorder_.emplace(dnnl::reorder::primitive_desc(engine, user, engine, wanted));
  }
  size_t bytes() const { return reorder_ ? wanted_.get_size() : 0; }
  // The weights as the primitive wants them: the user's array itself, or `room` after a reorder.
  memory Apply(const dnnl::engine& engine, dnnl::stream& stream, const memory& user, float* room) const {
    if (!reorder_) return user;
    memory converted(wanted_, engine, room);
    reorder_->execute(stream, {{DNNL_ARG_FROM, user}, {DNNL_ARG_TO, converted}});
    return converted;
  }

 private:
  memory::desc wanted_;
  std::optional<dnnl::reorder> reorder_;
};

// The primitives of one LSTM layer shape: the training forward and the backward (built
// together: the backward needs the forward's descriptor), and the inference forward.
class LstmPrimitives {
 public:
  explicit LstmPrimitives(const LstmKey& key)
      : key_(key),
        srcLayer_({key.T, key.B, key.I}, kF32, Tag::tnc),
        dstLayer_({key.T, key.B, key.H}, kF32, Tag::tnc),
        state_({1, 1, key.B, key.H}, kF32, Tag::ldnc),
        userWeightsLayer_({1, 1, key.I, 4, key.H}, kF32, Tag::ldigo),
        userWeightsIter_({1, 1, key.H, 4, key.H}, kF32, Tag::ldigo),
        bias_({1, 1, 4, key.H}, kF32, Tag::ldgo) {
    attributes_.set_scratchpad_mode(dnnl::scratchpad_mode::user);
  }

  const LstmKey& key() const { return key_; }

  struct Training {
    dnnl::lstm_forward::primitive_desc forwardPd;
    dnnl::lstm_forward forward;
    WeightsReorder forwardLayer, forwardIter;
    dnnl::lstm_backward::primitive_desc backwardPd;
    dnnl::lstm_backward backward;
    WeightsReorder backwardLayer, backwardIter;
  };

  struct Inference {
    dnnl::lstm_forward::primitive_desc pd;
    dnnl::lstm_forward forward;
    WeightsReorder layer, iter;
  };

  const Training& training(const dnnl::engine& engine) {
    if (!training_) {
      // Weights `any`: the primitives pick their layouts (padded rows forward, ldgoi
      // backward) and the reorders bring ours into them. Initial states are explicit zeroed
      // arrays: with implicit zero states oneDNN 2.6's backward computes the recurrent
      // weight gradient from h_t instead of h_{t-1}.
      memory::desc anyLayer({1, 1, key_.I, 4, key_.H}, kF32, Tag::any);
      memory::desc anyIter({1, 1, key_.H, 4, key_.H}, kF32, Tag::any);
      dnnl::lstm_forward::desc forwardDesc(dnnl::prop_kind::forward_training, dnnl::rnn_direction::unidirectional_left2right, srcLayer_,
                                           state_, state_, anyLayer, anyIter, bias_, dstLayer_, memory::desc(), memory::desc());
      dnnl::lstm_forward::primitive_desc forwardPd(forwardDesc, attributes_, engine);
      // Weight gradients in the plain layout: the primitive adds into them, which is what the
      // interface asks of a backward, so the caller's arrays are passed as they are.
      dnnl::lstm_backward::desc backwardDesc(dnnl::prop_kind::backward, dnnl::rnn_direction::unidirectional_left2right, srcLayer_, state_,
                                             state_, anyLayer, anyIter, bias_, dstLayer_, memory::desc(), memory::desc(), srcLayer_, state_,
                                             state_, userWeightsLayer_, userWeightsIter_, bias_, dstLayer_, memory::desc(), memory::desc());
      dnnl::lstm_backward::primitive_desc backwardPd(backwardDesc, attributes_, engine, forwardPd);
      if (backwardPd.diff_weights_layer_desc() != userWeightsLayer_ || backwardPd.diff_weights_iter_desc() != userWeightsIter_ ||
          backwardPd.diff_bias_desc() != bias_ || backwardPd.workspace_desc() != forwardPd.workspace_desc()) {
        throw std::runtime_error("oneDNN chose layouts this addon does not handle for the LSTM backward");
      }
      training_.emplace(Training{forwardPd, dnnl::lstm_forward(forwardPd),
                                 WeightsReorder(engine, userWeightsLayer_, forwardPd.weights_layer_desc()),
                                 WeightsReorder(engine, userWeightsIter_, forwardPd.weights_iter_desc()), backwardPd,
                                 dnnl::lstm_backward(backwardPd), WeightsReorder(engine, userWeightsLayer_, backwardPd.weights_layer_desc()),
                                 WeightsReorder(engine, userWeightsIter_, backwardPd.weights_iter_desc())});
    }
    return *training_;
  }

  const Inference& inference(const dnnl::engine& engine) {
    if (!inference_) {
      memory::desc anyLayer({1, 1, key_.I, 4, key_.H}, kF32, Tag::any);
      memory::desc anyIter({1, 1, key_.H, 4, key_.H}, kF32, Tag::any);
      dnnl::lstm_forward::desc desc(dnnl::prop_kind::forward_inference, dnnl::rnn_direction::unidirectional_left2right, srcLayer_, state_,
                                    state_, anyLayer, anyIter, bias_, dstLayer_, memory::desc(), memory::desc());
      dnnl::lstm_forward::primitive_desc pd(desc, attributes_, engine);
      inference_.emplace(Inference{pd, dnnl::lstm_forward(pd), WeightsReorder(engine, userWeightsLayer_, pd.weights_layer_desc()),
                                   WeightsReorder(engine, userWeightsIter_, pd.weights_iter_desc())});
    }
    return *inference_;
  }

  size_t inputBytes() const { return srcLayer_.get_size(); }
  size_t hiddenBytes() const { return dstLayer_.get_size(); }
  size_t stateBytes() const { return state_.get_size(); }

  // A training forward's workspace: oneDNN's, then x and the hidden states, time-major (the
  // backward reads both, and the caller may reuse its arrays in between).
  size_t workspaceBytes(const dnnl::engine& engine) {
    return CarvedBytes({training(engine).forwardPd.workspace_desc().get_size(), inputBytes(), hiddenBytes()});
  }
  size_t forwardScratchBytes(const dnnl::engine& engine, bool isTraining) {
    if (isTraining) {
      const Training& t = training(engine);
      return CarvedBytes({t.forwardPd.scratchpad_desc().get_size(), t.forwardLayer.bytes(), t.forwardIter.bytes(), stateBytes()});
    }
    const Inference& i = inference(engine);
    return CarvedBytes({i.pd.scratchpad_desc().get_size(), i.layer.bytes(), i.iter.bytes(), stateBytes(), inputBytes(), hiddenBytes()});
  }
  size_t backwardScratchBytes(const dnnl::engine& engine) {
    const Training& t = training(engine);
    return CarvedBytes({t.backwardPd.scratchpad_desc().get_size(), t.backwardLayer.bytes(), t.backwardIter.bytes(), stateBytes(), stateBytes(),
                        stateBytes(), hiddenBytes(), inputBytes()});
  }

  const memory::desc& srcLayer() const { return srcLayer_; }
  const memory::desc& dstLayer() const { return dstLayer_; }
  const memory::desc& state() const { return state_; }
  const memory::desc& userWeightsLayer() const { return userWeightsLayer_; }
  const memory::desc& userWeightsIter() const { return userWeightsIter_; }
  const memory::desc& bias() const { return bias_; }

 private:
  LstmKey key_;
  memory::desc srcLayer_, dstLayer_, state_, userWeightsLayer_, userWeightsIter_, bias_;
  dnnl::primitive_attr attributes_;
  std::optional<Training> training_;
  std::optional<Inference> inference_;
};

const char* IsaName(dnnl::cpu_isa isa) {
  switch (isa) {
    case dnnl::cpu_isa::sse41: return "sse41";
    case dnnl::cpu_isa::avx: return "avx";
    case dnnl::cpu_isa::avx2: return "avx2";
    case dnnl::cpu_isa::avx2_vnni: return "avx2_vnni";
    case dnnl::cpu_isa::avx512_mic: return "avx512_mic";
    case dnnl::cpu_isa::avx512_mic_4ops: return "avx512_mic_4ops";
    case dnnl::cpu_isa::avx512_core: return "avx512_core";
    case dnnl::cpu_isa::avx512_core_vnni: return "avx512_core_vnni";
    case dnnl::cpu_isa::avx512_core_bf16: return "avx512_core_bf16";
    case dnnl::cpu_isa::avx512_core_amx: return "avx512_core_amx";
    default: return "unknown";
  }
}

// Arguments by position, checked: every array a call writes or reads has its length checked
// here too (the JS side checks first, with the messages users see).
class Args {
 public:
  explicit Args(const Napi::CallbackInfo& info) : info_(info) {}

  int64_t Int(size_t at) const {
    if (!info_[at].IsNumber()) throw Napi::TypeError::New(info_.Env(), "argument " + std::to_string(at) + " must be a number");
    return info_[at].As<Napi::Number>().Int64Value();
  }

  float* Floats(size_t at, size_t length) const {
    if (!info_[at].IsTypedArray() || info_[at].As<Napi::TypedArray>().TypedArrayType() != napi_float32_array) {
      throw Napi::TypeError::New(info_.Env(), "argument " + std::to_string(at) + " must be a Float32Array");
    }
    auto array = info_[at].As<Napi::Float32Array>();
    if (array.ElementLength() != length) {
      throw Napi::RangeError::New(info_.Env(), "argument " + std::to_string(at) + ": expected " + std::to_string(length) + " floats, got " +
                                                   std::to_string(array.ElementLength()));
    }
    return array.Data();
  }

  float* OptionalFloats(size_t at, size_t length) const { return info_[at].IsNull() ? nullptr : Floats(at, length); }

  Napi::Int32Array Ints(size_t at) const {
    if (!info_[at].IsTypedArray() || info_[at].As<Napi::TypedArray>().TypedArrayType() != napi_int32_array) {
      throw Napi::TypeError::New(info_.Env(), "argument " + std::to_string(at) + " must be an Int32Array");
    }
    return info_[at].As<Napi::Int32Array>();
  }

  Carver Buffer(size_t at, const char* what) const {
    if (!info_[at].IsArrayBuffer()) throw Napi::TypeError::New(info_.Env(), "argument " + std::to_string(at) + " must be an ArrayBuffer");
    auto buffer = info_[at].As<Napi::ArrayBuffer>();
    return Carver(buffer.Data(), buffer.ByteLength(), what);
  }

 private:
  const Napi::CallbackInfo& info_;
};

int Threads(const Napi::CallbackInfo& info, const Args& args) {
  int64_t threads = args.Int(0);
  if (threads < 1 || threads > 1024) throw Napi::RangeError::New(info.Env(), "threads must be from 1 to 1024");
  // Per calling thread in OpenMP: this compute thread's oneDNN calls use this many.
  omp_set_num_threads(static_cast<int>(threads));
  return static_cast<int>(threads);
}

class LstmNative : public Napi::Addon<LstmNative> {
 public:
  LstmNative(Napi::Env env, Napi::Object exports) : engine_(dnnl::engine::kind::cpu, 0), stream_(engine_) {
    DefineAddon(exports, {
                             InstanceMethod("buildInfo", &LstmNative::BuildInfo),
                             InstanceMethod("lstmBufferSizes", &LstmNative::LstmBufferSizes),
                             InstanceMethod("lstmForward", &LstmNative::LstmForward),
                             InstanceMethod("lstmBackward", &LstmNative::LstmBackward),
                             InstanceMethod("denseForward", &LstmNative::DenseForward),
                             InstanceMethod("denseBackward", &LstmNative::DenseBackward),
                             InstanceMethod("embeddingForward", &LstmNative::EmbeddingForward),
                             InstanceMethod("embeddingBackward", &LstmNative::EmbeddingBackward),
                             InstanceMethod("clearCache", &LstmNative::ClearCache),
                             InstanceMethod("primitiveMilliseconds", &LstmNative::PrimitiveMilliseconds),
                         });
    (void)env;
  }

 private:
  // () -> { onednnVersion, isa, cachedShapes }
  Napi::Value BuildInfo(const Napi::CallbackInfo& info) {
    const dnnl_version_t* version = dnnl::version();
    Napi::Object result = Napi::Object::New(info.Env());
    result.Set("onednnVersion", std::to_string(version->major) + "." + std::to_string(version->minor) + "." + std::to_string(version->patch));
    result.Set("isa", IsaName(dnnl::get_effective_cpu_isa()));
    result.Set("cachedShapes", static_cast<double>(lstm_.size()));
    return result;
  }

  // (threads, B, T, I, H) -> [workspace, training forward scratch, backward scratch,
  // inference forward scratch] in bytes. Compiles the shape's primitives.
  Napi::Value LstmBufferSizes(const Napi::CallbackInfo& info) {
    Args args(info);
    LstmPrimitives& lstm = Lstm(info, args, 1);
    Napi::Array sizes = Napi::Array::New(info.Env(), 4);
    sizes.Set(0u, static_cast<double>(lstm.workspaceBytes(engine_)));
    sizes.Set(1u, static_cast<double>(lstm.forwardScratchBytes(engine_, true)));
    sizes.Set(2u, static_cast<double>(lstm.backwardScratchBytes(engine_)));
    sizes.Set(3u, static_cast<double>(lstm.forwardScratchBytes(engine_, false)));
    return sizes;
  }

  // (threads, B, T, I, H, x [B,T,I], kernel [I,4H], recurrent [H,4H], bias [4H],
  //  hidden [B,T,H] out, workspace: ArrayBuffer | null (null: inference), scratch: ArrayBuffer)
  Napi::Value LstmForward(const Napi::CallbackInfo& info) {
    Args args(info);
    LstmPrimitives& lstm = Lstm(info, args, 1);
    const LstmKey& k = lstm.key();
    float* x = args.Floats(5, k.B * k.T * k.I);
    memory userLayer(lstm.userWeightsLayer(), engine_, args.Floats(6, k.I * 4 * k.H));
    memory userIter(lstm.userWeightsIter(), engine_, args.Floats(7, k.H * 4 * k.H));
    memory bias(lstm.bias(), engine_, args.Floats(8, 4 * k.H));
    float* hidden = args.Floats(9, k.B * k.T * k.H);
    const bool isTraining = !info[10].IsNull();
    Carver scratch = args.Buffer(11, "lstm forward scratch");
    if (isTraining) {
      const LstmPrimitives::Training& t = lstm.training(engine_);
      Carver workspace = args.Buffer(10, "lstm workspace");
      memory oneDnnWorkspace(t.forwardPd.workspace_desc(), engine_, workspace.Take(t.forwardPd.workspace_desc().get_size()));
      float* input = workspace.Take(lstm.inputBytes());
      float* output = workspace.Take(lstm.hiddenBytes());
      BatchToTimeMajor(x, input, k.B, k.T, k.I);
      memory scratchpad(t.forwardPd.scratchpad_desc(), engine_, scratch.Take(t.forwardPd.scratchpad_desc().get_size()));
      memory layer = t.forwardLayer.Apply(engine_, stream_, userLayer, scratch.Take(t.forwardLayer.bytes()));
      memory iter = t.forwardIter.Apply(engine_, stream_, userIter, scratch.Take(t.forwardIter.bytes()));
      memory zeros = ZeroState(lstm, scratch);
      const auto started = std::chrono::steady_clock::now();
      t.forward.execute(stream_, {{DNNL_ARG_SRC_LAYER, memory(lstm.srcLayer(), engine_, input)},
                                  {DNNL_ARG_SRC_ITER, zeros},
                                  {DNNL_ARG_SRC_ITER_C, zeros},
                                  {DNNL_ARG_WEIGHTS_LAYER, layer},
                                  {DNNL_ARG_WEIGHTS_ITER, iter},
                                  {DNNL_ARG_BIAS, bias},
                                  {DNNL_ARG_DST_LAYER, memory(lstm.dstLayer(), engine_, output)},
                                  {DNNL_ARG_WORKSPACE, oneDnnWorkspace},
                                  {DNNL_ARG_SCRATCHPAD, scratchpad}});
      stream_.wait();
      forwardMs_ += Since(started);
      TimeToBatchMajor(output, hidden, k.B, k.T, k.H);
    } else {
      const LstmPrimitives::Inference& i = lstm.inference(engine_);
      memory scratchpad(i.pd.scratchpad_desc(), engine_, scratch.Take(i.pd.scratchpad_desc().get_size()));
      memory layer = i.layer.Apply(engine_, stream_, userLayer, scratch.Take(i.layer.bytes()));
      memory iter = i.iter.Apply(engine_, stream_, userIter, scratch.Take(i.iter.bytes()));
      memory zeros = ZeroState(lstm, scratch);
      float* input = scratch.Take(lstm.inputBytes());
      float* output = scratch.Take(lstm.hiddenBytes());
      BatchToTimeMajor(x, input, k.B, k.T, k.I);
      const auto started = std::chrono::steady_clock::now();
      i.forward.execute(stream_, {{DNNL_ARG_SRC_LAYER, memory(lstm.srcLayer(), engine_, input)},
                                  {DNNL_ARG_SRC_ITER, zeros},
                                  {DNNL_ARG_SRC_ITER_C, zeros},
                                  {DNNL_ARG_WEIGHTS_LAYER, layer},
                                  {DNNL_ARG_WEIGHTS_ITER, iter},
                                  {DNNL_ARG_BIAS, bias},
                                  {DNNL_ARG_DST_LAYER, memory(lstm.dstLayer(), engine_, output)},
                                  {DNNL_ARG_SCRATCHPAD, scratchpad}});
      stream_.wait();
      forwardMs_ += Since(started);
      TimeToBatchMajor(output, hidden, k.B, k.T, k.H);
    }
    return info.Env().Undefined();
  }

  // (threads, B, T, I, H, workspace: ArrayBuffer (the training forward's), dHidden [B,T,H],
  //  kernel [I,4H], recurrent [H,4H], bias [4H], dKernel [I,4H] +=, dRecurrent [H,4H] +=,
  //  dBias [4H] +=, dX [B,T,I] out | null, scratch: ArrayBuffer)
  Napi::Value LstmBackward(const Napi::CallbackInfo& info) {
    Args args(info);
    LstmPrimitives& lstm = Lstm(info, args, 1);
    const LstmKey& k = lstm.key();
    const LstmPrimitives::Training& t = lstm.training(engine_);
    Carver workspace = args.Buffer(5, "lstm workspace");
    memory oneDnnWorkspace(t.forwardPd.workspace_desc(), engine_, workspace.Take(t.forwardPd.workspace_desc().get_size()));
    float* input = workspace.Take(lstm.inputBytes());
    float* output = workspace.Take(lstm.hiddenBytes());
    float* dHidden = args.Floats(6, k.B * k.T * k.H);
    memory userLayer(lstm.userWeightsLayer(), engine_, args.Floats(7, k.I * 4 * k.H));
    memory userIter(lstm.userWeightsIter(), engine_, args.Floats(8, k.H * 4 * k.H));
    memory bias(lstm.bias(), engine_, args.Floats(9, 4 * k.H));
    memory dKernel(lstm.userWeightsLayer(), engine_, args.Floats(10, k.I * 4 * k.H));
    memory dRecurrent(lstm.userWeightsIter(), engine_, args.Floats(11, k.H * 4 * k.H));
    memory dBias(lstm.bias(), engine_, args.Floats(12, 4 * k.H));
    float* dX = args.OptionalFloats(13, k.B * k.T * k.I);
    Carver scratch = args.Buffer(14, "lstm backward scratch");
    memory scratchpad(t.backwardPd.scratchpad_desc(), engine_, scratch.Take(t.backwardPd.scratchpad_desc().get_size()));
    memory layer = t.backwardLayer.Apply(engine_, stream_, userLayer, scratch.Take(t.backwardLayer.bytes()));
    memory iter = t.backwardIter.Apply(engine_, stream_, userIter, scratch.Take(t.backwardIter.bytes()));
    memory zeros = ZeroState(lstm, scratch);
    memory dState(lstm.state(), engine_, scratch.Take(lstm.stateBytes()));
    memory dCellState(lstm.state(), engine_, scratch.Take(lstm.stateBytes()));
    float* dOutput = scratch.Take(lstm.hiddenBytes());
    float* dInput = scratch.Take(lstm.inputBytes());
    BatchToTimeMajor(dHidden, dOutput, k.B, k.T, k.H);
    const auto started = std::chrono::steady_clock::now();
    t.backward.execute(stream_, {{DNNL_ARG_SRC_LAYER, memory(lstm.srcLayer(), engine_, input)},
                                 {DNNL_ARG_SRC_ITER, zeros},
                                 {DNNL_ARG_SRC_ITER_C, zeros},
                                 {DNNL_ARG_WEIGHTS_LAYER, layer},
                                 {DNNL_ARG_WEIGHTS_ITER, iter},
                                 {DNNL_ARG_BIAS, bias},
                                 {DNNL_ARG_DST_LAYER, memory(lstm.dstLayer(), engine_, output)},
                                 {DNNL_ARG_DIFF_SRC_LAYER, memory(lstm.srcLayer(), engine_, dInput)},
                                 {DNNL_ARG_DIFF_SRC_ITER, dState},
                                 {DNNL_ARG_DIFF_SRC_ITER_C, dCellState},
                                 {DNNL_ARG_DIFF_WEIGHTS_LAYER, dKernel},
                                 {DNNL_ARG_DIFF_WEIGHTS_ITER, dRecurrent},
                                 {DNNL_ARG_DIFF_BIAS, dBias},
                                 {DNNL_ARG_DIFF_DST_LAYER, memory(lstm.dstLayer(), engine_, dOutput)},
                                 {DNNL_ARG_WORKSPACE, oneDnnWorkspace},
                                 {DNNL_ARG_SCRATCHPAD, scratchpad}});
    stream_.wait();
    backwardMs_ += Since(started);
    // dX is an output of the primitive whether or not the caller wants it.
    if (dX != nullptr) TimeToBatchMajor(dInput, dX, k.B, k.T, k.I);
    return info.Env().Undefined();
  }

  // (threads, B, H, K, h [B,H], kernel [H,K], bias [K], y [B,K] out)
  Napi::Value DenseForward(const Napi::CallbackInfo& info) {
    Args args(info);
    Threads(info, args);
    const int64_t B = args.Int(1), H = args.Int(2), K = args.Int(3);
    const float* h = args.Floats(4, B * H);
    const float* kernel = args.Floats(5, H * K);
    const float* bias = args.Floats(6, K);
    float* y = args.Floats(7, B * K);
    for (int64_t b = 0; b < B; b++) std::memcpy(y + b * K, bias, K * sizeof(float));
    Check(dnnl::sgemm('N', 'N', B, K, H, 1.0f, h, H, kernel, K, 1.0f, y, K));
    return info.Env().Undefined();
  }

  // (threads, B, H, K, h [B,H], dY [B,K], kernel [H,K], dKernel [H,K] +=, dBias [K] +=, dH [B,H] out)
  Napi::Value DenseBackward(const Napi::CallbackInfo& info) {
    Args args(info);
    Threads(info, args);
    const int64_t B = args.Int(1), H = args.Int(2), K = args.Int(3);
    const float* h = args.Floats(4, B * H);
    const float* dY = args.Floats(5, B * K);
    const float* kernel = args.Floats(6, H * K);
    float* dKernel = args.Floats(7, H * K);
    float* dBias = args.Floats(8, K);
    float* dH = args.Floats(9, B * H);
    for (int64_t k = 0; k < K; k++) {
      float sum = 0;
      for (int64_t b = 0; b < B; b++) sum += dY[b * K + k];
      dBias[k] += sum;
    }
    Check(dnnl::sgemm('T', 'N', H, K, B, 1.0f, h, H, dY, K, 1.0f, dKernel, K));
    Check(dnnl::sgemm('N', 'T', B, H, K, 1.0f, dY, K, kernel, K, 0.0f, dH, H));
    return info.Env().Undefined();
  }

  // (tokens [N] (< V, checked by the caller), table [V,E], V, E, x [N,E] out)
  Napi::Value EmbeddingForward(const Napi::CallbackInfo& info) {
    Args args(info);
    Napi::Int32Array tokens = args.Ints(0);
    const int64_t N = tokens.ElementLength();
    const int64_t V = args.Int(2), E = args.Int(3);
    const float* table = args.Floats(1, V * E);
    float* x = args.Floats(4, N * E);
    for (int64_t n = 0; n < N; n++) std::memcpy(x + n * E, table + CheckedToken(info, tokens.Data()[n], V) * E, E * sizeof(float));
    return info.Env().Undefined();
  }

  // (tokens [N], dX [N,E], dTable [V,E] +=, V, E): rows added in token order, one thread,
  // so the sums round the same way every run.
  Napi::Value EmbeddingBackward(const Napi::CallbackInfo& info) {
    Args args(info);
    Napi::Int32Array tokens = args.Ints(0);
    const int64_t N = tokens.ElementLength();
    const int64_t V = args.Int(3), E = args.Int(4);
    const float* dX = args.Floats(1, N * E);
    float* dTable = args.Floats(2, V * E);
    for (int64_t n = 0; n < N; n++) {
      float* row = dTable + CheckedToken(info, tokens.Data()[n], V) * E;
      const float* from = dX + n * E;
      for (int64_t e = 0; e < E; e++) row[e] += from[e];
    }
    return info.Env().Undefined();
  }

  // () -> the number of LSTM shapes whose primitives were dropped.
  Napi::Value ClearCache(const Napi::CallbackInfo& info) {
    size_t dropped = lstm_.size();
    lstm_.clear();
    return Napi::Number::New(info.Env(), static_cast<double>(dropped));
  }

  // () -> [forward, backward]: milliseconds this instance spent inside oneDNN's LSTM
  // primitives (the rest of a call is the boundary: transposes, weight reorders, checks).
  Napi::Value PrimitiveMilliseconds(const Napi::CallbackInfo& info) {
    Napi::Array times = Napi::Array::New(info.Env(), 2);
    times.Set(0u, forwardMs_);
    times.Set(1u, backwardMs_);
    return times;
  }

  static double Since(std::chrono::steady_clock::time_point started) {
    return std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - started).count();
  }

  // The primitives of the shape at args[first..first+3], most recently used first.
  LstmPrimitives& Lstm(const Napi::CallbackInfo& info, const Args& args, size_t first) {
    const LstmKey key{Threads(info, args), args.Int(first), args.Int(first + 1), args.Int(first + 2), args.Int(first + 3)};
    if (key.B < 1 || key.T < 1 || key.I < 1 || key.H < 1) throw Napi::RangeError::New(info.Env(), "lstm shape: B, T, I and H must be positive");
    for (auto it = lstm_.begin(); it != lstm_.end(); ++it) {
      if ((*it)->key() == key) {
        lstm_.splice(lstm_.begin(), lstm_, it);
        return *lstm_.front();
      }
    }
    lstm_.push_front(std::make_unique<LstmPrimitives>(key));
    if (lstm_.size() > kLstmCacheCapacity) lstm_.pop_back();
    return *lstm_.front();
  }

  memory ZeroState(const LstmPrimitives& lstm, Carver& scratch) {
    float* zeros = scratch.Take(lstm.stateBytes());
    std::memset(zeros, 0, lstm.stateBytes());
    return memory(lstm.state(), engine_, zeros);
  }

  static int64_t CheckedToken(const Napi::CallbackInfo& info, int32_t token, int64_t V) {
    if (token < 0 || token >= V) throw Napi::RangeError::New(info.Env(), "embedding: token outside the vocabulary");
    return token;
  }

  static void Check(dnnl::status status) {
    if (status != dnnl::status::success) throw std::runtime_error("oneDNN sgemm failed with status " + std::to_string(static_cast<int>(status)));
  }

  dnnl::engine engine_;
  dnnl::stream stream_;
  std::list<std::unique_ptr<LstmPrimitives>> lstm_;
  double forwardMs_ = 0;
  double backwardMs_ = 0;
};

}  // namespace

NODE_API_ADDON(LstmNative)
