// The oneDNN half of the native compute backend (see ../src/native-backend.ts for the
// interface it serves). Shapes: B batch, T time, I input, H hidden, K head outputs, E
// embedding, V vocabulary; every array is row-major and float32.
//
// - An LSTM layer's forward and backward over all timesteps are oneDNN LSTM primitive
//   calls. oneDNN's gate order is Keras's (i, f, c~, o) and its plain weight layouts
//   ldigo [1,1,I,4,H] / [1,1,H,4,H] and bias ldgo [1,1,4,H] are Keras's kernel [I,4H],
//   recurrent kernel [H,4H] and bias [4H] byte for byte. The primitives pick their own
//   (padded, or for the backward transposed) weight layouts and one oneDNN reorder per call
//   brings the weights into them. Data goes in and out time-major (tnc [T,B,C]), transposed
//   from and to our batch-major [B,T,C] once per call: oneDNN also takes ntc, a strided
//   view of [B,T,C], but then it cannot run the input projection and the weight gradients
//   of all timesteps as single merged GEMMs.
// - Threads share a call by windows, not inside oneDNN: the batch is cut into one run of
//   rows per thread and each run is a single-threaded oneDNN call, side by side. Windows
//   are independent, so the threads meet once per call instead of at every timestep (oneDNN's
//   own threading synchronises several times per timestep; measured here it was slower than
//   one thread on the time-series layers and 1.6-2x slower than this split on shards of 32).
//   The runs' weight gradients are added up in run order, so a thread count always gives the
//   same bits.
// - The dense head is oneDNN's sgemm; the embedding is plain loops in a fixed order.
// - Context-aware: every Node environment (main thread, worker thread) gets its own
//   instance: its own engine, streams and primitive cache. Calls are synchronous.
// - No pointer into JS memory outlives a call: a training forward's workspace (which the
//   backward needs) and all scratch memory are ArrayBuffers the JS side owns and passes in
//   on every call. The instance keeps only primitives, in a small LRU cache per shape.
// - The thread count is an argument of every call, so backends with different thread
//   counts can share a process (OpenMP keeps its settings per calling thread).
#include <napi.h>
#include <omp.h>

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <cstring>
#include <list>
#include <memory>
#include <optional>
#include <stdexcept>
#include <string>
#include <unordered_map>
#include <utility>
#include <vector>

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
size_t CarvedBytes(const std::vector<size_t>& sizes) {
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

// [B,T,C] (ours, batch-major) <-> [T,B,C] (oneDNN's tnc, time-major), by rows of C floats.
void BatchToTimeMajor(const float* from, float* to, int64_t B, int64_t T, int64_t C) {
  for (int64_t b = 0; b < B; b++) {
    for (int64_t t = 0; t < T; t++) std::memcpy(to + (t * B + b) * C, from + (b * T + t) * C, C * sizeof(float));
  }
}

void TimeToBatchMajor(const float* from, float* to, int64_t B, int64_t T, int64_t C) {
  for (int64_t b = 0; b < B; b++) {
    for (int64_t t = 0; t < T; t++) std::memcpy(to + (b * T + t) * C, from + (t * B + b) * C, C * sizeof(float));
  }
}

struct LstmKey {
  int64_t B, T, I, H;
  bool operator==(const LstmKey& other) const { return B == other.B && T == other.T && I == other.I && H == other.H; }
};

// A run of a call's windows: rows first .. first + rows - 1 of the batch.
struct BatchPart {
  int64_t first, rows;
};

// B windows among `threads`: min(threads, B) runs, the first B % runs of them one row longer.
std::vector<BatchPart> SplitBatch(int threads, int64_t B) {
  const int64_t parts = std::min<int64_t>(threads, B);
  std::vector<BatchPart> split;
  int64_t first = 0;
  for (int64_t part = 0; part < parts; part++) {
    const int64_t rows = B / parts + (part < B % parts ? 1 : 0);
    split.push_back({first, rows});
    first += rows;
  }
  return split;
}

// Runs run(part) for parts 0 .. parts - 1 side by side on the calling thread's OpenMP team,
// each single-threaded inside, and rethrows the first error.
template <typename Run>
void RunParts(size_t parts, const Run& run) {
  if (parts == 1) {
    run(0);
    return;
  }
  std::string error;
#pragma omp parallel num_threads(static_cast<int>(parts))
  {
    omp_set_num_threads(1);
    // A team may have fewer threads than asked for (OMP_DYNAMIC, thread limits): every part still runs.
    for (size_t part = omp_get_thread_num(); part < parts; part += omp_get_num_threads()) {
      try {
        run(part);
      } catch (const std::exception& e) {
#pragma omp critical(lstm_native_error)
        if (error.empty()) error = e.what();
      }
    }
  }
  if (!error.empty()) throw std::runtime_error(error);
}

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

  // The regions of one run, in the order the calls carve them. A training forward's
  // workspace: oneDNN's, then x and the hidden states, time-major (the backward reads both,
  // and the caller may reuse its arrays in between).
  std::vector<size_t> workspaceRegions(const dnnl::engine& engine) {
    return {training(engine).forwardPd.workspace_desc().get_size(), inputBytes(), hiddenBytes()};
  }
  // Scratchpad, reordered weights, zero state; inference adds the time-major x and hidden states.
  std::vector<size_t> forwardScratchRegions(const dnnl::engine& engine, bool isTraining) {
    if (isTraining) {
      const Training& t = training(engine);
      return {t.forwardPd.scratchpad_desc().get_size(), t.forwardLayer.bytes(), t.forwardIter.bytes(), stateBytes()};
    }
    const Inference& i = inference(engine);
    return {i.pd.scratchpad_desc().get_size(), i.layer.bytes(), i.iter.bytes(), stateBytes(), inputBytes(), hiddenBytes()};
  }
  // Scratchpad, reordered weights, zero state, the initial states' gradients, dHidden and dX
  // time-major; runs after the first add their own weight gradients, summed afterwards.
  std::vector<size_t> backwardScratchRegions(const dnnl::engine& engine, bool ownGradients) {
    const Training& t = training(engine);
    std::vector<size_t> regions{t.backwardPd.scratchpad_desc().get_size(),
                                t.backwardLayer.bytes(),
                                t.backwardIter.bytes(),
                                stateBytes(),
                                stateBytes(),
                                stateBytes(),
                                hiddenBytes(),
                                inputBytes()};
    if (ownGradients) regions.insert(regions.end(), {userWeightsLayer_.get_size(), userWeightsIter_.get_size(), bias_.get_size()});
    return regions;
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
  LstmNative(Napi::Env env, Napi::Object exports) : engine_(dnnl::engine::kind::cpu, 0) {
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
  // inference forward scratch] in bytes. Compiles the primitives of the call's runs.
  Napi::Value LstmBufferSizes(const Napi::CallbackInfo& info) {
    Args args(info);
    LstmCall call = Plan(info, args);
    std::vector<size_t> workspace, forward, backward, inference;
    for (size_t part = 0; part < call.parts.size(); part++) {
      LstmPrimitives& lstm = *call.parts[part];
      Append(workspace, lstm.workspaceRegions(engine_));
      Append(forward, lstm.forwardScratchRegions(engine_, true));
      Append(backward, lstm.backwardScratchRegions(engine_, part > 0));
      Append(inference, lstm.forwardScratchRegions(engine_, false));
    }
    Napi::Array sizes = Napi::Array::New(info.Env(), 4);
    sizes.Set(0u, static_cast<double>(CarvedBytes(workspace)));
    sizes.Set(1u, static_cast<double>(CarvedBytes(forward)));
    sizes.Set(2u, static_cast<double>(CarvedBytes(backward)));
    sizes.Set(3u, static_cast<double>(CarvedBytes(inference)));
    return sizes;
  }

  // (threads, B, T, I, H, x [B,T,I], kernel [I,4H], recurrent [H,4H], bias [4H],
  //  hidden [B,T,H] out, workspace: ArrayBuffer | null (null: inference), scratch: ArrayBuffer)
  Napi::Value LstmForward(const Napi::CallbackInfo& info) {
    Args args(info);
    LstmCall call = Plan(info, args);
    const LstmKey& k = call.shape;
    const float* x = args.Floats(5, k.B * k.T * k.I);
    float* kernel = args.Floats(6, k.I * 4 * k.H);
    float* recurrent = args.Floats(7, k.H * 4 * k.H);
    float* bias = args.Floats(8, 4 * k.H);
    float* hidden = args.Floats(9, k.B * k.T * k.H);
    const bool isTraining = !info[10].IsNull();
    std::optional<Carver> workspace;
    if (isTraining) workspace.emplace(args.Buffer(10, "lstm workspace"));
    Carver scratch = args.Buffer(11, "lstm forward scratch");
    // Carved in the order LstmBufferSizes counted, before the runs start.
    struct Run {
      float* workspace;
      float* input;
      float* output;
      float* scratchpad;
      float* layer;
      float* iter;
      float* zeros;
      double primitiveMs;
    };
    std::vector<Run> runs(call.parts.size());
    for (size_t part = 0; part < runs.size(); part++) {
      LstmPrimitives& lstm = *call.parts[part];
      Run& run = runs[part];
      if (isTraining) {
        const LstmPrimitives::Training& t = lstm.training(engine_);
        run.workspace = workspace->Take(t.forwardPd.workspace_desc().get_size());
        run.input = workspace->Take(lstm.inputBytes());
        run.output = workspace->Take(lstm.hiddenBytes());
        run.scratchpad = scratch.Take(t.forwardPd.scratchpad_desc().get_size());
        run.layer = scratch.Take(t.forwardLayer.bytes());
        run.iter = scratch.Take(t.forwardIter.bytes());
        run.zeros = scratch.Take(lstm.stateBytes());
      } else {
        const LstmPrimitives::Inference& i = lstm.inference(engine_);
        run.scratchpad = scratch.Take(i.pd.scratchpad_desc().get_size());
        run.layer = scratch.Take(i.layer.bytes());
        run.iter = scratch.Take(i.iter.bytes());
        run.zeros = scratch.Take(lstm.stateBytes());
        run.input = scratch.Take(lstm.inputBytes());
        run.output = scratch.Take(lstm.hiddenBytes());
      }
    }
    RunParts(runs.size(), [&](size_t part) {
      LstmPrimitives& lstm = *call.parts[part];
      const BatchPart& rows = call.split[part];
      Run& run = runs[part];
      dnnl::stream& stream = streams_[part];
      BatchToTimeMajor(x + rows.first * k.T * k.I, run.input, rows.rows, k.T, k.I);
      std::memset(run.zeros, 0, lstm.stateBytes());
      memory zeros(lstm.state(), engine_, run.zeros);
      memory userLayer(lstm.userWeightsLayer(), engine_, kernel);
      memory userIter(lstm.userWeightsIter(), engine_, recurrent);
      std::unordered_map<int, memory> arguments{{DNNL_ARG_SRC_LAYER, memory(lstm.srcLayer(), engine_, run.input)},
                                                {DNNL_ARG_SRC_ITER, zeros},
                                                {DNNL_ARG_SRC_ITER_C, zeros},
                                                {DNNL_ARG_BIAS, memory(lstm.bias(), engine_, bias)},
                                                {DNNL_ARG_DST_LAYER, memory(lstm.dstLayer(), engine_, run.output)}};
      const dnnl::primitive* primitive;
      if (isTraining) {
        const LstmPrimitives::Training& t = lstm.training(engine_);
        arguments[DNNL_ARG_WEIGHTS_LAYER] = t.forwardLayer.Apply(engine_, stream, userLayer, run.layer);
        arguments[DNNL_ARG_WEIGHTS_ITER] = t.forwardIter.Apply(engine_, stream, userIter, run.iter);
        arguments[DNNL_ARG_WORKSPACE] = memory(t.forwardPd.workspace_desc(), engine_, run.workspace);
        arguments[DNNL_ARG_SCRATCHPAD] = memory(t.forwardPd.scratchpad_desc(), engine_, run.scratchpad);
        primitive = &t.forward;
      } else {
        const LstmPrimitives::Inference& i = lstm.inference(engine_);
        arguments[DNNL_ARG_WEIGHTS_LAYER] = i.layer.Apply(engine_, stream, userLayer, run.layer);
        arguments[DNNL_ARG_WEIGHTS_ITER] = i.iter.Apply(engine_, stream, userIter, run.iter);
        arguments[DNNL_ARG_SCRATCHPAD] = memory(i.pd.scratchpad_desc(), engine_, run.scratchpad);
        primitive = &i.forward;
      }
      const auto started = std::chrono::steady_clock::now();
      primitive->execute(stream, arguments);
      stream.wait();
      run.primitiveMs = Since(started);
      TimeToBatchMajor(run.output, hidden + rows.first * k.T * k.H, rows.rows, k.T, k.H);
    });
    forwardMs_ += SlowestRun(runs);
    return info.Env().Undefined();
  }

  // (threads, B, T, I, H, workspace: ArrayBuffer (the training forward's), dHidden [B,T,H],
  //  kernel [I,4H], recurrent [H,4H], bias [4H], dKernel [I,4H] +=, dRecurrent [H,4H] +=,
  //  dBias [4H] +=, dX [B,T,I] out | null, scratch: ArrayBuffer)
  Napi::Value LstmBackward(const Napi::CallbackInfo& info) {
    Args args(info);
    LstmCall call = Plan(info, args);
    const LstmKey& k = call.shape;
    Carver workspace = args.Buffer(5, "lstm workspace");
    const float* dHidden = args.Floats(6, k.B * k.T * k.H);
    float* kernel = args.Floats(7, k.I * 4 * k.H);
    float* recurrent = args.Floats(8, k.H * 4 * k.H);
    float* bias = args.Floats(9, 4 * k.H);
    float* dKernel = args.Floats(10, k.I * 4 * k.H);
    float* dRecurrent = args.Floats(11, k.H * 4 * k.H);
    float* dBias = args.Floats(12, 4 * k.H);
    float* dX = args.OptionalFloats(13, k.B * k.T * k.I);
    Carver scratch = args.Buffer(14, "lstm backward scratch");
    struct Run {
      float* workspace;
      float* input;
      float* output;
      float* scratchpad;
      float* layer;
      float* iter;
      float* zeros;
      float* dState;
      float* dCellState;
      float* dOutput;
      float* dInput;
      // The first run adds into the caller's gradients; later runs into their own, summed after.
      float* dKernel;
      float* dRecurrent;
      float* dBias;
      double primitiveMs;
    };
    std::vector<Run> runs(call.parts.size());
    for (size_t part = 0; part < runs.size(); part++) {
      LstmPrimitives& lstm = *call.parts[part];
      const LstmPrimitives::Training& t = lstm.training(engine_);
      Run& run = runs[part];
      run.workspace = workspace.Take(t.forwardPd.workspace_desc().get_size());
      run.input = workspace.Take(lstm.inputBytes());
      run.output = workspace.Take(lstm.hiddenBytes());
      run.scratchpad = scratch.Take(t.backwardPd.scratchpad_desc().get_size());
      run.layer = scratch.Take(t.backwardLayer.bytes());
      run.iter = scratch.Take(t.backwardIter.bytes());
      run.zeros = scratch.Take(lstm.stateBytes());
      run.dState = scratch.Take(lstm.stateBytes());
      run.dCellState = scratch.Take(lstm.stateBytes());
      run.dOutput = scratch.Take(lstm.hiddenBytes());
      run.dInput = scratch.Take(lstm.inputBytes());
      const bool ownGradients = part > 0;
      run.dKernel = ownGradients ? scratch.Take(lstm.userWeightsLayer().get_size()) : dKernel;
      run.dRecurrent = ownGradients ? scratch.Take(lstm.userWeightsIter().get_size()) : dRecurrent;
      run.dBias = ownGradients ? scratch.Take(lstm.bias().get_size()) : dBias;
    }
    RunParts(runs.size(), [&](size_t part) {
      LstmPrimitives& lstm = *call.parts[part];
      const LstmPrimitives::Training& t = lstm.training(engine_);
      const BatchPart& rows = call.split[part];
      Run& run = runs[part];
      dnnl::stream& stream = streams_[part];
      BatchToTimeMajor(dHidden + rows.first * k.T * k.H, run.dOutput, rows.rows, k.T, k.H);
      std::memset(run.zeros, 0, lstm.stateBytes());
      if (part > 0) {
        std::memset(run.dKernel, 0, lstm.userWeightsLayer().get_size());
        std::memset(run.dRecurrent, 0, lstm.userWeightsIter().get_size());
        std::memset(run.dBias, 0, lstm.bias().get_size());
      }
      memory zeros(lstm.state(), engine_, run.zeros);
      memory userLayer(lstm.userWeightsLayer(), engine_, kernel);
      memory userIter(lstm.userWeightsIter(), engine_, recurrent);
      memory layer = t.backwardLayer.Apply(engine_, stream, userLayer, run.layer);
      memory iter = t.backwardIter.Apply(engine_, stream, userIter, run.iter);
      const auto started = std::chrono::steady_clock::now();
      t.backward.execute(stream, {{DNNL_ARG_SRC_LAYER, memory(lstm.srcLayer(), engine_, run.input)},
                                  {DNNL_ARG_SRC_ITER, zeros},
                                  {DNNL_ARG_SRC_ITER_C, zeros},
                                  {DNNL_ARG_WEIGHTS_LAYER, layer},
                                  {DNNL_ARG_WEIGHTS_ITER, iter},
                                  {DNNL_ARG_BIAS, memory(lstm.bias(), engine_, bias)},
                                  {DNNL_ARG_DST_LAYER, memory(lstm.dstLayer(), engine_, run.output)},
                                  {DNNL_ARG_DIFF_SRC_LAYER, memory(lstm.srcLayer(), engine_, run.dInput)},
                                  {DNNL_ARG_DIFF_SRC_ITER, memory(lstm.state(), engine_, run.dState)},
                                  {DNNL_ARG_DIFF_SRC_ITER_C, memory(lstm.state(), engine_, run.dCellState)},
                                  {DNNL_ARG_DIFF_WEIGHTS_LAYER, memory(lstm.userWeightsLayer(), engine_, run.dKernel)},
                                  {DNNL_ARG_DIFF_WEIGHTS_ITER, memory(lstm.userWeightsIter(), engine_, run.dRecurrent)},
                                  {DNNL_ARG_DIFF_BIAS, memory(lstm.bias(), engine_, run.dBias)},
                                  {DNNL_ARG_DIFF_DST_LAYER, memory(lstm.dstLayer(), engine_, run.dOutput)},
                                  {DNNL_ARG_WORKSPACE, memory(t.forwardPd.workspace_desc(), engine_, run.workspace)},
                                  {DNNL_ARG_SCRATCHPAD, memory(t.backwardPd.scratchpad_desc(), engine_, run.scratchpad)}});
      stream.wait();
      run.primitiveMs = Since(started);
      // dX is an output of the primitive whether or not the caller wants it.
      if (dX != nullptr) TimeToBatchMajor(run.dInput, dX + rows.first * k.T * k.I, rows.rows, k.T, k.I);
    });
    for (size_t part = 1; part < runs.size(); part++) {
      AddInto(dKernel, runs[part].dKernel, k.I * 4 * k.H);
      AddInto(dRecurrent, runs[part].dRecurrent, k.H * 4 * k.H);
      AddInto(dBias, runs[part].dBias, 4 * k.H);
    }
    backwardMs_ += SlowestRun(runs);
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

  // A call's shape (args[1..4]), its runs of windows and their primitives. The primitives
  // are single-threaded and compiled here, before any run starts.
  struct LstmCall {
    LstmKey shape;
    std::vector<BatchPart> split;
    std::vector<std::shared_ptr<LstmPrimitives>> parts;
  };

  LstmCall Plan(const Napi::CallbackInfo& info, const Args& args) {
    const int threads = Threads(info, args);
    const LstmKey shape{args.Int(1), args.Int(2), args.Int(3), args.Int(4)};
    if (shape.B < 1 || shape.T < 1 || shape.I < 1 || shape.H < 1) throw Napi::RangeError::New(info.Env(), "lstm shape: B, T, I and H must be positive");
    omp_set_num_threads(1);
    LstmCall call{shape, SplitBatch(threads, shape.B), {}};
    for (const BatchPart& part : call.split) call.parts.push_back(Lstm({part.rows, shape.T, shape.I, shape.H}));
    while (streams_.size() < call.parts.size()) streams_.emplace_back(engine_);
    return call;
  }

  // The primitives of one run's shape, most recently used first.
  std::shared_ptr<LstmPrimitives> Lstm(const LstmKey& key) {
    for (auto it = lstm_.begin(); it != lstm_.end(); ++it) {
      if ((*it)->key() == key) {
        lstm_.splice(lstm_.begin(), lstm_, it);
        return lstm_.front();
      }
    }
    lstm_.push_front(std::make_shared<LstmPrimitives>(key));
    if (lstm_.size() > kLstmCacheCapacity) lstm_.pop_back();
    return lstm_.front();
  }

  static void Append(std::vector<size_t>& regions, const std::vector<size_t>& more) { regions.insert(regions.end(), more.begin(), more.end()); }

  // The runs go side by side: the primitives' share of a call's time is the slowest run's.
  template <typename Run>
  static double SlowestRun(const std::vector<Run>& runs) {
    double slowest = 0;
    for (const Run& run : runs) slowest = std::max(slowest, run.primitiveMs);
    return slowest;
  }

  static void AddInto(float* sum, const float* part, int64_t length) {
    for (int64_t i = 0; i < length; i++) sum[i] += part[i];
  }

  static int64_t CheckedToken(const Napi::CallbackInfo& info, int32_t token, int64_t V) {
    if (token < 0 || token >= V) throw Napi::RangeError::New(info.Env(), "embedding: token outside the vocabulary");
    return token;
  }

  static void Check(dnnl::status status) {
    if (status != dnnl::status::success) throw std::runtime_error("oneDNN sgemm failed with status " + std::to_string(static_cast<int>(status)));
  }

  dnnl::engine engine_;
  // One per run of a call: streams are not shared between threads.
  std::vector<dnnl::stream> streams_;
  std::list<std::shared_ptr<LstmPrimitives>> lstm_;
  double forwardMs_ = 0;
  double backwardMs_ = 0;
};

}  // namespace

NODE_API_ADDON(LstmNative)
