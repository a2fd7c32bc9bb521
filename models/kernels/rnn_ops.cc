// Whole-sequence LSTM, GRU and SimpleRNN layers for the RNN Zoo: one TensorFlow op call runs every time step
// of one layer (one direction), and one more runs its backward pass.
//
// Why an op: Keras 3 on CPU runs a tf.while_loop over the cell, dozens of small TF ops per time step, and at
// the zoo's sizes (batch 64-128, units 64-256) their dispatch costs more than the arithmetic.
//
// What the ops compute (models/kernels/__init__.py wraps them and registers the gradient):
//   * forward: xw = inputs @ kernel for all steps at once (one GEMM), then the recurrence: per step one
//     GEMM h_prev @ recurrent_kernel and the cell's elementwise math, the bias added there. It saves h_prev
//     of every step and what the backward step needs (the workspace).
//   * backward: the steps in reverse, giving the gradient w.r.t. the pre-activations (d_pre) and the
//     initial states; then d kernel = inputs^T d_pre, d recurrent_kernel = h_prev^T d_pre (for the GRU the
//     recurrent side's own d_pre) and d bias = the sum of d_pre, each one GEMM (or sum) over all (row, step)
//     pairs. d inputs = d_pre @ kernel^T is left to a TF MatMul, which TF prunes when the inputs need no
//     gradient (the first layer).
//
// Semantics are Keras 3.15's (keras/src/backend/tensorflow/rnn.py, the cells in keras/src/layers/rnn/), for
// any boolean mask [batch, time], not only right-padded ones:
//   * at a masked step the states are carried unchanged and the output is zeros when zero_output_for_mask,
//     else the previous step's output (zeros before a row's first unmasked step);
//   * go_backwards reads inputs and mask from the last time step to the first and writes the outputs in the
//     order the steps run (so reversed, as Keras does; Bidirectional flips them back);
//   * without return_sequences the output is that of the last step run.
//
// Layout: every tensor indexed by (batch row, time step) is batch-major, [batch, time, width], at the
// *input's* time t (for go_backwards the steps run t = T-1 ... 0), except the output sequence, which is
// indexed by the step s in the order run, as Keras returns it. Batch-major means that the rows of a shard
// (below) over all steps are one contiguous [rows * time, width] matrix, the operand of the big GEMMs.
//
// Threading: batch rows never interact in a recurrence, so the batch is cut into shards, one per thread of
// TF's intra-op pool, and each shard runs everything for its rows (the input projection, all time steps,
// its share of the weight gradients) without any synchronisation; the shards' weight gradients are summed
// at the end. The GEMMs inside a shard are single-threaded Eigen products (no OpenMP, no second pool). The
// two directions of a Bidirectional layer are two ops, which TF's executor may run at the same time; their
// shards then share the pool.
//
// GEMM library, measured on this project's machine (AMD EPYC Zen 4, one core, float32, GFLOP/s of
// C[MxN] = A[MxK] B[KxN] with hot caches, median of noisy runs):
//                        M x K x N   Eigen  oneDNN dnnl_sgemm  hand-written AVX-512 kernel, B pre-packed
//   LSTM 128, batch 64   64x128x512   ~100      ~110                 ~100
//   LSTM 256, batch 32  32x256x1024    ~90      ~100                 ~100
//   BiLSTM 64, batch 32   32x64x256    ~90      ~100                  ~95
//   large         1024x1024x1024      ~105      ~105                 ~104   (one core's peak: ~110)
// Eigen comes within ~10 % of dnnl_sgemm at the per-step shapes and equals it on large ones, ships with
// TensorFlow's headers and needs no runtime library; the pip oneDNN 2026.1 is a SYCL build that pulls ~2 GB
// of Intel runtimes and threads through TBB, which would run a second thread pool beside TF's.

#include <algorithm>
#include <cstdint>
#include <vector>

#include "Eigen/Core"
#include "tensorflow/core/framework/op.h"
#include "tensorflow/core/framework/op_kernel.h"
#include "tensorflow/core/framework/shape_inference.h"

namespace rnnzoo {
namespace {

using tensorflow::OpKernel;
using tensorflow::OpKernelConstruction;
using tensorflow::OpKernelContext;
using tensorflow::Tensor;
using tensorflow::TensorShape;
using tensorflow::errors::InvalidArgument;

using Matrix = Eigen::Matrix<float, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor>;
using MatrixMap = Eigen::Map<Matrix>;
using ConstMatrixMap = Eigen::Map<const Matrix>;
using StridedMatrixMap = Eigen::Map<const Matrix, 0, Eigen::OuterStride<>>;
using Array = Eigen::Map<Eigen::ArrayXf>;
using ConstArray = Eigen::Map<const Eigen::ArrayXf>;

// Fewer rows than this per shard and the per-step GEMM gets too thin to pay for a thread (a judgement, not
// tuned: the zoo's batches of 64-128 on 2 threads give shards of 32-64 rows).
constexpr int64_t kMinRowsPerShard = 16;

// sigmoid(x) = (1 + tanh(x / 2)) / 2: Eigen's tanh is a rational function, its logistic an exp and a
// division, and this form measured twice as fast (0.36 against 0.65 ns per float on Zen 4). It differs from
// TF's sigmoid by at most 1.8e-7 absolute (measured over [-30, 30]); relative to tiny gate values near 0 the
// difference is larger, which the cell's O(1) sums cannot see.
template <class Expression>
auto Sigmoid(const Expression& x) {
  return (x * 0.5f).tanh() * 0.5f + 0.5f;
}

// ---------------------------------------------------------------------------------------------------------
// The cells. Each one computes a step for one batch row: Forward from the step's input projection xw and
// hr = h_prev @ recurrent_kernel, Backward from what Forward saved in `work`. Vectors have `units` floats;
// gate k of a row is [k * units, (k + 1) * units), in Keras' gate order. kBiasRows: the bias is
// [kBiasRows, gates * units].

// LSTM (Keras LSTMCell, implementation 2), gates i, f, c, o:
//   z = xw + hr + bias;  i = sigmoid(z_i)  f = sigmoid(z_f)  g = tanh(z_c)  o = sigmoid(z_o)
//   c = f * c_prev + i * g;  h = o * tanh(c)
struct Lstm {
  static constexpr int kGates = 4;
  static constexpr int kStates = 2;     // h, c
  static constexpr int kWork = 6;       // i, f, g, o, c_prev and tanh(c)
  static constexpr int kBiasRows = 1;
  static constexpr bool kSeparateRecurrentGrad = false;

  int64_t units;
  const float* bias;

  void Forward(const float* xw, const float* hr, float* h, float* c, float* work) const {
    const int64_t u = units;
    auto z = [&](int k) { return ConstArray(xw + k * u, u) + ConstArray(hr + k * u, u) + ConstArray(bias + k * u, u); };
    Array i(work, u), f(work + u, u), g(work + 2 * u, u), o(work + 3 * u, u), c_prev(work + 4 * u, u),
        tanh_c(work + 5 * u, u);
    Array cell(c, u), out(h, u);
    i = Sigmoid(z(0));
    f = Sigmoid(z(1));
    g = z(2).tanh();
    o = Sigmoid(z(3));
    c_prev = cell;
    cell = f * c_prev + i * g;
    tanh_c = cell.tanh();
    out = o * tanh_c;
  }

  // dh, dc: in, the gradient w.r.t. this step's h and c; out, the part of the gradient w.r.t. h_prev that
  // does not go through hr (none for the LSTM), and the gradient w.r.t. c_prev. d_pre: w.r.t. z.
  void Backward(const float* work, const float* /*h_prev*/, float* dh, float* dc, float* d_pre,
                float* /*d_recurrent_pre*/) const {
    const int64_t u = units;
    ConstArray i(work, u), f(work + u, u), g(work + 2 * u, u), o(work + 3 * u, u), c_prev(work + 4 * u, u),
        tanh_c(work + 5 * u, u);
    Array d_h(dh, u), d_c(dc, u);
    Array d_i(d_pre, u), d_f(d_pre + u, u), d_g(d_pre + 2 * u, u), d_o(d_pre + 3 * u, u);
    d_o = d_h * tanh_c * o * (1.f - o);
    d_c += d_h * o * (1.f - tanh_c.square());
    d_i = d_c * g * i * (1.f - i);
    d_f = d_c * c_prev * f * (1.f - f);
    d_g = d_c * i * (1.f - g.square());
    d_c *= f;
    d_h.setZero();
  }
};

// GRU (Keras GRUCell, reset_after=True, the cuDNN form), gates z, r, h; bias [2, 3 * units] holds the input
// bias, then the recurrent bias:
//   a = hr + recurrent_bias;  x = xw + input_bias
//   z = sigmoid(x_z + a_z)  r = sigmoid(x_r + a_r)  n = tanh(x_h + r * a_h);  h = z * h_prev + (1 - z) * n
struct Gru {
  static constexpr int kGates = 3;
  static constexpr int kStates = 1;
  static constexpr int kWork = 4;       // z, r, n and a_h
  static constexpr int kBiasRows = 2;   // input bias, recurrent bias
  static constexpr bool kSeparateRecurrentGrad = true;  // d a_h = r * d (x_h + r a_h), unlike d x_h

  int64_t units;
  const float* bias;

  void Forward(const float* xw, const float* hr, float* h, float* /*c*/, float* work) const {
    const int64_t u = units;
    const float* input_bias = bias;
    const float* recurrent_bias = bias + 3 * u;
    auto x = [&](int k) { return ConstArray(xw + k * u, u) + ConstArray(input_bias + k * u, u); };
    auto a = [&](int k) { return ConstArray(hr + k * u, u) + ConstArray(recurrent_bias + k * u, u); };
    Array z(work, u), r(work + u, u), n(work + 2 * u, u), a_h(work + 3 * u, u);
    Array out(h, u);
    z = Sigmoid(x(0) + a(0));
    r = Sigmoid(x(1) + a(1));
    a_h = a(2);
    n = (x(2) + r * a_h).tanh();
    out = z * out + (1.f - z) * n;
  }

  void Backward(const float* work, const float* h_prev, float* dh, float* /*dc*/, float* d_pre,
                float* d_recurrent_pre) const {
    const int64_t u = units;
    ConstArray z(work, u), r(work + u, u), n(work + 2 * u, u), a_h(work + 3 * u, u), hp(h_prev, u);
    Array d_h(dh, u);
    Array d_z(d_pre, u), d_r(d_pre + u, u), d_n(d_pre + 2 * u, u);
    d_n = d_h * (1.f - z) * (1.f - n.square());
    d_z = d_h * (hp - n) * z * (1.f - z);
    d_r = d_n * a_h * r * (1.f - r);
    Array(d_recurrent_pre, 2 * u) = Array(d_pre, 2 * u);
    Array(d_recurrent_pre + 2 * u, u) = d_n * r;
    d_h *= z;
  }
};

// SimpleRNN (Keras SimpleRNNCell, tanh): h = tanh(xw + bias + hr).
struct SimpleRnn {
  static constexpr int kGates = 1;
  static constexpr int kStates = 1;
  static constexpr int kWork = 1;       // h
  static constexpr int kBiasRows = 1;
  static constexpr bool kSeparateRecurrentGrad = false;

  int64_t units;
  const float* bias;

  void Forward(const float* xw, const float* hr, float* h, float* /*c*/, float* work) const {
    const int64_t u = units;
    Array out(h, u), saved(work, u);
    out = (ConstArray(xw, u) + ConstArray(bias, u) + ConstArray(hr, u)).tanh();
    saved = out;
  }

  void Backward(const float* work, const float* /*h_prev*/, float* dh, float* /*dc*/, float* d_pre,
                float* /*d_recurrent_pre*/) const {
    const int64_t u = units;
    ConstArray h(work, u);
    Array d_h(dh, u);
    Array(d_pre, u) = d_h * (1.f - h.square());
    d_h.setZero();
  }
};

// ---------------------------------------------------------------------------------------------------------
// The layer, the same for every cell.

struct Sequence {
  int64_t batch, time, features, units;
  bool go_backwards, return_sequences, zero_output_for_mask;
  const bool* mask;  // [batch, time], or null: every step is unmasked

  int64_t InputTime(int64_t step) const { return go_backwards ? time - 1 - step : step; }
  int64_t Index(int64_t row, int64_t t) const { return row * time + t; }  // of (row, t) in [batch, time, ...]
  bool Unmasked(int64_t row, int64_t t) const { return mask == nullptr || mask[Index(row, t)]; }
  // Keras' output at a masked step is the previous output (the carried h) once the row has had an unmasked
  // step; before that, and always with zero_output_for_mask, it is zeros.
  bool EmitsState(bool unmasked, bool had_unmasked_step) const {
    return unmasked || (had_unmasked_step && !zero_output_for_mask);
  }
  // The rows [begin, end) over all steps: a [(end - begin) * time, width] matrix of a [batch, time, width] tensor.
  ConstMatrixMap Rows(const float* tensor, int64_t width, int64_t begin, int64_t end) const {
    return ConstMatrixMap(tensor + Index(begin, 0) * width, (end - begin) * time, width);
  }
  MatrixMap Rows(float* tensor, int64_t width, int64_t begin, int64_t end) const {
    return MatrixMap(tensor + Index(begin, 0) * width, (end - begin) * time, width);
  }
};

struct ForwardTensors {
  const float* inputs;            // [batch, time, features]
  const float* kernel;            // [features, gates * units]
  const float* recurrent_kernel;  // [units, gates * units]
  const float* initial[2];        // h0, c0: [batch, units]
  float* xw;                      // scratch [batch, time, gates * units]: inputs @ kernel
  float* output;                  // [batch, time, units] by step, or [batch, units]
  float* final[2];                // h, c: [batch, units]
  float* h_prev;                  // [batch, time, units]: h before the step that read input t
  float* work;                    // [batch, time, kWork * units]
};

template <class Cell>
void ForwardShard(const Cell& cell, const Sequence& seq, const ForwardTensors& io, int64_t begin,
                  int64_t end) {
  const int64_t n = end - begin, u = seq.units, gu = Cell::kGates * u, wu = Cell::kWork * u;
  seq.Rows(io.xw, gu, begin, end).noalias() =
      seq.Rows(io.inputs, seq.features, begin, end) * ConstMatrixMap(io.kernel, seq.features, gu);
  // The shard's states, contiguous so that h is the left operand of the step's GEMM as it is.
  Matrix h = ConstMatrixMap(io.initial[0] + begin * u, n, u);
  Matrix c = Cell::kStates == 2 ? Matrix(ConstMatrixMap(io.initial[1] + begin * u, n, u)) : Matrix();
  Matrix hr(n, gu);
  const ConstMatrixMap recurrent_kernel(io.recurrent_kernel, u, gu);
  std::vector<bool> had_unmasked_step(n, false);

  auto write_output = [&](float* out, int64_t i, bool unmasked) {
    if (seq.EmitsState(unmasked, had_unmasked_step[i])) {
      std::copy_n(h.row(i).data(), u, out);
    } else {
      std::fill_n(out, u, 0.f);
    }
  };

  for (int64_t s = 0; s < seq.time; ++s) {
    const int64_t t = seq.InputTime(s);
    bool any_unmasked = false;
    for (int64_t i = 0; i < n && !any_unmasked; ++i) any_unmasked = seq.Unmasked(begin + i, t);
    // Past the end of every row of the shard (right padding), there is nothing to multiply.
    if (any_unmasked) hr.noalias() = h * recurrent_kernel;
    for (int64_t i = 0; i < n; ++i) {
      const int64_t row = begin + i, bt = seq.Index(row, t);
      const bool unmasked = seq.Unmasked(row, t);
      std::copy_n(h.row(i).data(), u, io.h_prev + bt * u);
      if (unmasked) {
        cell.Forward(io.xw + bt * gu, hr.row(i).data(), h.row(i).data(),
                     Cell::kStates == 2 ? c.row(i).data() : nullptr, io.work + bt * wu);
        had_unmasked_step[i] = true;
      } else {
        std::fill_n(io.work + bt * wu, wu, 0.f);  // never read: the backward step skips masked steps
      }
      if (seq.return_sequences) write_output(io.output + seq.Index(row, s) * u, i, unmasked);
    }
  }
  for (int64_t i = 0; i < n; ++i) {
    const int64_t row = begin + i;
    std::copy_n(h.row(i).data(), u, io.final[0] + row * u);
    if (Cell::kStates == 2) std::copy_n(c.row(i).data(), u, io.final[1] + row * u);
    if (!seq.return_sequences) {
      const bool last_unmasked = seq.time > 0 && seq.Unmasked(row, seq.InputTime(seq.time - 1));
      write_output(io.output + row * u, i, last_unmasked);
    }
  }
}

struct BackwardTensors {
  const float* inputs;            // [batch, time, features]
  const float* recurrent_kernel;  // [units, gates * units]
  const float* h_prev;            // [batch, time, units], from the forward op
  const float* work;              // [batch, time, kWork * units], from the forward op
  const float* d_output;          // like the forward op's output
  const float* d_final[2];        // w.r.t. the final h, c
  float* d_pre;                   // [batch, time, gates * units]: w.r.t. xw (and the input bias)
  float* d_recurrent_pre;         // w.r.t. hr (and the recurrent bias): GRU scratch; else = d_pre
  float* d_initial[2];            // w.r.t. h0, c0
};

// One shard's share of the weight gradients, summed over the shards at the end.
struct WeightGradients {
  Matrix kernel, recurrent_kernel;
  Eigen::RowVectorXf bias;  // [kBiasRows * gates * units]
};

template <class Cell>
void BackwardShard(const Cell& cell, const Sequence& seq, const BackwardTensors& io, int64_t begin,
                   int64_t end, WeightGradients* weights) {
  const int64_t n = end - begin, u = seq.units, gu = Cell::kGates * u, wu = Cell::kWork * u;
  Matrix dh = ConstMatrixMap(io.d_final[0] + begin * u, n, u);
  Matrix dc = Cell::kStates == 2 ? Matrix(ConstMatrixMap(io.d_final[1] + begin * u, n, u)) : Matrix();
  const ConstMatrixMap recurrent_kernel(io.recurrent_kernel, u, gu);

  // The first step (in run order) at which each row is unmasked: from there on its outputs are its h.
  std::vector<int64_t> first_unmasked(n, seq.time);
  for (int64_t i = 0; i < n; ++i) {
    for (int64_t s = 0; s < seq.time; ++s) {
      if (seq.Unmasked(begin + i, seq.InputTime(s))) {
        first_unmasked[i] = s;
        break;
      }
    }
  }

  for (int64_t s = seq.time - 1; s >= 0; --s) {
    const int64_t t = seq.InputTime(s);
    bool any_unmasked = false;
    for (int64_t i = 0; i < n; ++i) {
      const int64_t row = begin + i, bt = seq.Index(row, t);
      const bool unmasked = seq.Unmasked(row, t);
      any_unmasked |= unmasked;
      // The output of step s, where Keras emits it, is h after step s.
      const float* d_out = seq.return_sequences ? io.d_output + seq.Index(row, s) * u
                           : s == seq.time - 1   ? io.d_output + row * u
                                                 : nullptr;
      if (d_out != nullptr && seq.EmitsState(unmasked, s >= first_unmasked[i])) {
        dh.row(i) += Eigen::Map<const Eigen::RowVectorXf>(d_out, u);
      }
      if (unmasked) {
        cell.Backward(io.work + bt * wu, io.h_prev + bt * u, dh.row(i).data(),
                      Cell::kStates == 2 ? dc.row(i).data() : nullptr, io.d_pre + bt * gu,
                      io.d_recurrent_pre + bt * gu);
      } else {  // the states went through unchanged: so do their gradients
        std::fill_n(io.d_pre + bt * gu, gu, 0.f);
        if (Cell::kSeparateRecurrentGrad) std::fill_n(io.d_recurrent_pre + bt * gu, gu, 0.f);
      }
    }
    // dh_prev += d_hr @ recurrent_kernel^T; masked rows add their zero rows.
    if (any_unmasked) {
      const StridedMatrixMap d_hr(io.d_recurrent_pre + seq.Index(begin, t) * gu, n, gu,
                                  Eigen::OuterStride<>(seq.time * gu));
      dh.noalias() += d_hr * recurrent_kernel.transpose();
    }
  }
  for (int64_t i = 0; i < n; ++i) {
    std::copy_n(dh.row(i).data(), u, io.d_initial[0] + (begin + i) * u);
    if (Cell::kStates == 2) std::copy_n(dc.row(i).data(), u, io.d_initial[1] + (begin + i) * u);
  }

  const ConstMatrixMap d_pre = seq.Rows(static_cast<const float*>(io.d_pre), gu, begin, end);
  const ConstMatrixMap d_recurrent_pre = seq.Rows(static_cast<const float*>(io.d_recurrent_pre), gu, begin, end);
  weights->kernel.noalias() = seq.Rows(io.inputs, seq.features, begin, end).transpose() * d_pre;
  weights->recurrent_kernel.noalias() = seq.Rows(io.h_prev, u, begin, end).transpose() * d_recurrent_pre;
  weights->bias.resize(Cell::kBiasRows * gu);
  weights->bias.head(gu) = d_pre.colwise().sum();
  if (Cell::kBiasRows == 2) weights->bias.tail(gu) = d_recurrent_pre.colwise().sum();
}

// How many shards to cut `batch` rows into: one per intra-op thread, none thinner than kMinRowsPerShard.
int64_t ShardCount(OpKernelContext* context, int64_t batch) {
  const int threads = context->device()->tensorflow_cpu_worker_threads()->workers->NumThreads();
  return std::max<int64_t>(1, std::min<int64_t>(threads, batch / kMinRowsPerShard));
}

// Runs shard(k, begin, end) for each shard k of the batch rows, in parallel on the intra-op pool.
template <class Shard>
void ForEachShard(OpKernelContext* context, int64_t shards, int64_t batch, const Shard& shard) {
  context->device()->tensorflow_cpu_worker_threads()->workers->ParallelFor(
      shards, tsl::thread::ThreadPool::SchedulingParams::Fixed(1), [&](int64_t first, int64_t last) {
        for (int64_t k = first; k < last; ++k) shard(k, k * batch / shards, (k + 1) * batch / shards);
      });
}

// ---------------------------------------------------------------------------------------------------------
// The op kernels. Inputs and outputs by position, the same for the three cells:
//   forward  in:  inputs, kernel, recurrent_kernel, bias, mask, h0[, c0]
//            out: output, h[, c], h_prev, workspace
//   backward in:  inputs, recurrent_kernel, mask, h_prev, workspace, d_output, d_h[, d_c]
//            out: d_pre, d_kernel, d_recurrent_kernel, d_bias, d_h0[, d_c0]

struct Attributes {
  bool go_backwards, return_sequences, zero_output_for_mask;
  explicit Attributes(OpKernelConstruction* context) {
    OP_REQUIRES_OK(context, context->GetAttr("go_backwards", &go_backwards));
    OP_REQUIRES_OK(context, context->GetAttr("return_sequences", &return_sequences));
    OP_REQUIRES_OK(context, context->GetAttr("zero_output_for_mask", &zero_output_for_mask));
  }
};

// The mask input is [batch, time] bool, or empty for "no mask".
absl::Status ReadMask(const Tensor& mask, int64_t batch, int64_t time, const bool** data) {
  *data = nullptr;
  if (mask.NumElements() == 0) return absl::OkStatus();
  if (mask.shape() != TensorShape({batch, time})) {
    return InvalidArgument("mask must be [batch, time] = [", batch, ", ", time, "] or empty, got ",
                           mask.shape().DebugString());
  }
  *data = mask.flat<bool>().data();
  return absl::OkStatus();
}

absl::Status CheckShape(const char* name, const Tensor& tensor, const TensorShape& shape) {
  if (tensor.shape() == shape) return absl::OkStatus();
  return InvalidArgument(name, " must be ", shape.DebugString(), ", got ", tensor.shape().DebugString());
}

template <class Cell>
TensorShape BiasShape(int64_t units) {
  return Cell::kBiasRows == 1 ? TensorShape({Cell::kGates * units}) : TensorShape({Cell::kBiasRows, Cell::kGates * units});
}

// Allocates output `index` (or a scratch tensor, index < 0); when that fails, sets the context's status
// and returns null.
float* Allocate(OpKernelContext* context, int index, const TensorShape& shape, Tensor* scratch = nullptr) {
  Tensor* tensor = scratch;
  const absl::Status status = index >= 0 ? context->allocate_output(index, shape, &tensor)
                                         : context->allocate_temp(tensorflow::DT_FLOAT, shape, scratch);
  if (!status.ok()) {
    context->SetStatus(status);
    return nullptr;
  }
  return tensor->flat<float>().data();
}

template <class Cell>
class RecurrenceOp : public OpKernel {
 public:
  explicit RecurrenceOp(OpKernelConstruction* context) : OpKernel(context), attributes_(context) {}

  void Compute(OpKernelContext* context) override {
    const Tensor& inputs = context->input(0);
    const Tensor& kernel = context->input(1);
    const Tensor& recurrent_kernel = context->input(2);
    const Tensor& bias = context->input(3);
    OP_REQUIRES(context, inputs.dims() == 3, InvalidArgument("inputs must be [batch, time, features]"));
    OP_REQUIRES(context, recurrent_kernel.dims() == 2,
                InvalidArgument("recurrent_kernel must be [units, ", Cell::kGates, " * units]"));
    Sequence seq{inputs.dim_size(0), inputs.dim_size(1), inputs.dim_size(2), recurrent_kernel.dim_size(0),
                 attributes_.go_backwards, attributes_.return_sequences, attributes_.zero_output_for_mask,
                 nullptr};
    const int64_t b = seq.batch, t = seq.time, u = seq.units, gu = Cell::kGates * u;
    OP_REQUIRES_OK(context, CheckShape("kernel", kernel, TensorShape({seq.features, gu})));
    OP_REQUIRES_OK(context, CheckShape("recurrent_kernel", recurrent_kernel, TensorShape({u, gu})));
    OP_REQUIRES_OK(context, CheckShape("bias", bias, BiasShape<Cell>(u)));
    OP_REQUIRES_OK(context, ReadMask(context->input(4), b, t, &seq.mask));

    ForwardTensors io{};
    io.inputs = inputs.flat<float>().data();
    io.kernel = kernel.flat<float>().data();
    io.recurrent_kernel = recurrent_kernel.flat<float>().data();
    for (int k = 0; k < Cell::kStates; ++k) {
      const Tensor& initial = context->input(5 + k);
      OP_REQUIRES_OK(context, CheckShape("initial state", initial, TensorShape({b, u})));
      io.initial[k] = initial.flat<float>().data();
    }
    Tensor xw;
    io.xw = Allocate(context, -1, TensorShape({b, t, gu}), &xw);
    io.output = Allocate(context, 0, attributes_.return_sequences ? TensorShape({b, t, u}) : TensorShape({b, u}));
    for (int k = 0; k < Cell::kStates; ++k) io.final[k] = Allocate(context, 1 + k, TensorShape({b, u}));
    io.h_prev = Allocate(context, 1 + Cell::kStates, TensorShape({b, t, u}));
    io.work = Allocate(context, 2 + Cell::kStates, TensorShape({b, t, Cell::kWork * u}));
    if (!context->status().ok()) return;

    const Cell cell{u, bias.flat<float>().data()};
    ForEachShard(context, ShardCount(context, b), b,
                 [&](int64_t, int64_t begin, int64_t end) { ForwardShard(cell, seq, io, begin, end); });
  }

 private:
  Attributes attributes_;
};

template <class Cell>
class RecurrenceGradOp : public OpKernel {
 public:
  explicit RecurrenceGradOp(OpKernelConstruction* context) : OpKernel(context), attributes_(context) {}

  void Compute(OpKernelContext* context) override {
    const Tensor& inputs = context->input(0);
    const Tensor& recurrent_kernel = context->input(1);
    const Tensor& h_prev = context->input(3);
    const Tensor& work = context->input(4);
    const Tensor& d_output = context->input(5);
    OP_REQUIRES(context, inputs.dims() == 3, InvalidArgument("inputs must be [batch, time, features]"));
    OP_REQUIRES(context, h_prev.dims() == 3, InvalidArgument("h_prev must be [batch, time, units]"));
    Sequence seq{inputs.dim_size(0), inputs.dim_size(1), inputs.dim_size(2), h_prev.dim_size(2),
                 attributes_.go_backwards, attributes_.return_sequences, attributes_.zero_output_for_mask,
                 nullptr};
    const int64_t b = seq.batch, t = seq.time, u = seq.units, gu = Cell::kGates * u;
    OP_REQUIRES_OK(context, CheckShape("recurrent_kernel", recurrent_kernel, TensorShape({u, gu})));
    OP_REQUIRES_OK(context, CheckShape("h_prev", h_prev, TensorShape({b, t, u})));
    OP_REQUIRES_OK(context, CheckShape("workspace", work, TensorShape({b, t, Cell::kWork * u})));
    OP_REQUIRES_OK(context, CheckShape("d_output", d_output,
                                       seq.return_sequences ? TensorShape({b, t, u}) : TensorShape({b, u})));
    OP_REQUIRES_OK(context, ReadMask(context->input(2), b, t, &seq.mask));

    BackwardTensors io{};
    io.inputs = inputs.flat<float>().data();
    io.recurrent_kernel = recurrent_kernel.flat<float>().data();
    io.h_prev = h_prev.flat<float>().data();
    io.work = work.flat<float>().data();
    io.d_output = d_output.flat<float>().data();
    for (int k = 0; k < Cell::kStates; ++k) {
      const Tensor& d_final = context->input(6 + k);
      OP_REQUIRES_OK(context, CheckShape("d of a final state", d_final, TensorShape({b, u})));
      io.d_final[k] = d_final.flat<float>().data();
    }
    io.d_pre = Allocate(context, 0, TensorShape({b, t, gu}));
    Tensor d_recurrent_pre;
    io.d_recurrent_pre = Cell::kSeparateRecurrentGrad ? Allocate(context, -1, TensorShape({b, t, gu}), &d_recurrent_pre)
                                                      : io.d_pre;
    float* d_kernel = Allocate(context, 1, TensorShape({seq.features, gu}));
    float* d_recurrent_kernel = Allocate(context, 2, TensorShape({u, gu}));
    float* d_bias = Allocate(context, 3, BiasShape<Cell>(u));
    for (int k = 0; k < Cell::kStates; ++k) io.d_initial[k] = Allocate(context, 4 + k, TensorShape({b, u}));
    if (!context->status().ok()) return;

    const Cell cell{u, nullptr};  // the backward step reads no bias: what it needs is in the workspace
    const int64_t shards = ShardCount(context, b);
    std::vector<WeightGradients> partial(shards);
    ForEachShard(context, shards, b, [&](int64_t k, int64_t begin, int64_t end) {
      BackwardShard(cell, seq, io, begin, end, &partial[k]);
    });
    for (int64_t k = 1; k < shards; ++k) {
      partial[0].kernel += partial[k].kernel;
      partial[0].recurrent_kernel += partial[k].recurrent_kernel;
      partial[0].bias += partial[k].bias;
    }
    MatrixMap(d_kernel, seq.features, gu) = partial[0].kernel;
    MatrixMap(d_recurrent_kernel, u, gu) = partial[0].recurrent_kernel;
    Eigen::Map<Eigen::RowVectorXf>(d_bias, partial[0].bias.size()) = partial[0].bias;
  }

 private:
  Attributes attributes_;
};

// ---------------------------------------------------------------------------------------------------------
// Shapes, for graphs built before the sizes are known.

using tensorflow::shape_inference::DimensionHandle;
using tensorflow::shape_inference::InferenceContext;
using tensorflow::shape_inference::ShapeHandle;

template <class Cell>
absl::Status ForwardShape(InferenceContext* c) {
  ShapeHandle inputs, recurrent_kernel;
  TF_RETURN_IF_ERROR(c->WithRank(c->input(0), 3, &inputs));
  TF_RETURN_IF_ERROR(c->WithRank(c->input(2), 2, &recurrent_kernel));
  DimensionHandle batch = c->Dim(inputs, 0), time = c->Dim(inputs, 1), units = c->Dim(recurrent_kernel, 0), work;
  TF_RETURN_IF_ERROR(c->Multiply(units, Cell::kWork, &work));
  bool return_sequences;
  TF_RETURN_IF_ERROR(c->GetAttr("return_sequences", &return_sequences));
  c->set_output(0, return_sequences ? c->MakeShape({batch, time, units}) : c->MakeShape({batch, units}));
  for (int k = 0; k < Cell::kStates; ++k) c->set_output(1 + k, c->MakeShape({batch, units}));
  c->set_output(1 + Cell::kStates, c->MakeShape({batch, time, units}));
  c->set_output(2 + Cell::kStates, c->MakeShape({batch, time, work}));
  return absl::OkStatus();
}

template <class Cell>
absl::Status BackwardShape(InferenceContext* c) {
  ShapeHandle inputs, recurrent_kernel;
  TF_RETURN_IF_ERROR(c->WithRank(c->input(0), 3, &inputs));
  TF_RETURN_IF_ERROR(c->WithRank(c->input(1), 2, &recurrent_kernel));
  DimensionHandle batch = c->Dim(inputs, 0), time = c->Dim(inputs, 1), features = c->Dim(inputs, 2),
                  units = c->Dim(recurrent_kernel, 0), gates = c->Dim(recurrent_kernel, 1);
  c->set_output(0, c->MakeShape({batch, time, gates}));
  c->set_output(1, c->MakeShape({features, gates}));
  c->set_output(2, c->MakeShape({units, gates}));
  c->set_output(3, Cell::kBiasRows == 1 ? c->MakeShape({gates}) : c->MakeShape({Cell::kBiasRows, gates}));
  for (int k = 0; k < Cell::kStates; ++k) c->set_output(4 + k, c->MakeShape({batch, units}));
  return absl::OkStatus();
}

// Registers the forward op `name` and its gradient op `name`Grad for a cell; states are h (and c).
#define RNNZOO_REGISTER(name, Cell, STATE_INPUTS, STATE_OUTPUTS, D_STATE_INPUTS, D_STATE_OUTPUTS)           \
  REGISTER_OP(name)                                                                                         \
      .Input("inputs: float")                                                                               \
      .Input("kernel: float")                                                                               \
      .Input("recurrent_kernel: float")                                                                     \
      .Input("bias: float")                                                                                 \
      .Input("mask: bool") STATE_INPUTS                                                                     \
      .Output("output: float") STATE_OUTPUTS                                                                \
      .Output("h_prev: float")                                                                              \
      .Output("workspace: float")                                                                           \
      .Attr("go_backwards: bool = false")                                                                   \
      .Attr("return_sequences: bool = true")                                                                \
      .Attr("zero_output_for_mask: bool = false")                                                           \
      .SetShapeFn(ForwardShape<Cell>);                                                                      \
  REGISTER_OP(name "Grad")                                                                                  \
      .Input("inputs: float")                                                                               \
      .Input("recurrent_kernel: float")                                                                     \
      .Input("mask: bool")                                                                                  \
      .Input("h_prev: float")                                                                               \
      .Input("workspace: float")                                                                            \
      .Input("d_output: float") D_STATE_INPUTS                                                              \
      .Output("d_pre: float")                                                                               \
      .Output("d_kernel: float")                                                                            \
      .Output("d_recurrent_kernel: float")                                                                  \
      .Output("d_bias: float") D_STATE_OUTPUTS                                                              \
      .Attr("go_backwards: bool = false")                                                                   \
      .Attr("return_sequences: bool = true")                                                                \
      .Attr("zero_output_for_mask: bool = false")                                                           \
      .SetShapeFn(BackwardShape<Cell>);                                                                     \
  REGISTER_KERNEL_BUILDER(Name(name).Device(tensorflow::DEVICE_CPU), RecurrenceOp<Cell>);                   \
  REGISTER_KERNEL_BUILDER(Name(name "Grad").Device(tensorflow::DEVICE_CPU), RecurrenceGradOp<Cell>)

RNNZOO_REGISTER("RnnzooLstm", Lstm, .Input("h0: float").Input("c0: float"),
                .Output("h: float").Output("c: float"), .Input("d_h: float").Input("d_c: float"),
                .Output("d_h0: float").Output("d_c0: float"));
RNNZOO_REGISTER("RnnzooGru", Gru, .Input("h0: float"), .Output("h: float"), .Input("d_h: float"),
                .Output("d_h0: float"));
RNNZOO_REGISTER("RnnzooSimpleRnn", SimpleRnn, .Input("h0: float"), .Output("h: float"), .Input("d_h: float"),
                .Output("d_h0: float"));

}  // namespace
}  // namespace rnnzoo
