// Reference matrix product: convert activations to the partner type with the scalar converter matmul's
// kernels are tested against (llama.cpp's CPU rounding, kernels_scalar.cpp), then dequantize both sides
// and accumulate in double. Exact in the activation rounding, not in summation order.
#include <stdexcept>
#include <string>

#include "tensor/act_format.h"
#include "tensor/aligned_buffer.h"
#include "tensor/kernels.h"
#include "tensor/matmul.h"
#include "tensor/quantize.h"

namespace locus::tensor {

GgmlType vec_dot_type(GgmlType t) {
  switch (t) {
    case GgmlType::F32: return GgmlType::F32;
    case GgmlType::F16: return GgmlType::F16;
    case GgmlType::BF16: return GgmlType::BF16;
    case GgmlType::Q4_0:
    case GgmlType::Q5_0:
    case GgmlType::Q8_0:
    case GgmlType::IQ4_NL:
    case GgmlType::MXFP4: return GgmlType::Q8_0;
    case GgmlType::Q4_1:
    case GgmlType::Q5_1: return GgmlType::Q8_1;
    default: return GgmlType::Q8_K;  // K-quants, IQ4_XS and the other 256-blocks
  }
}

void get_row(const MatrixView& w, int64_t r, float* out) {
  if (!dequantize_row(w.type, w.row(r), out, w.n_in)) {
    throw std::runtime_error("cannot read rows of type " + std::string(gguf::ggml_type_info(w.type).name));
  }
}

void matmul_ref(const MatrixView& w, const float* x, int64_t n_tokens, float* y) {
  const kernels::TypeKernels& k = kernels::kernel_set(SimdLevel::kScalar)[w.type];
  AlignedBuffer xq;
  xq.ensure(act_layout(k.act_type, w.n_in).row_bytes);
  std::vector<float> xr(w.n_in), wr(w.n_in);
  for (int64_t t = 0; t < n_tokens; ++t) {
    k.quantize_act(x + t * w.n_in, xq.data(), w.n_in);
    kernels::dequantize_act(k.act_type, k.act_order, xq.data(), w.n_in, xr.data());
    for (int64_t o = 0; o < w.n_out; ++o) {
      get_row(w, o, wr.data());
      double acc = 0;
      for (int64_t i = 0; i < w.n_in; ++i) acc += double(wr[i]) * xr[i];
      y[t * w.n_out + o] = static_cast<float>(acc);
    }
  }
}

}  // namespace locus::tensor
