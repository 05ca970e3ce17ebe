// The AVX2 level (with FMA and F16C): registration only; the kernels are in avx2_*.cpp, built with the
// same flags.
#include "tensor/kernels_x86.h"

namespace locus::tensor::kernels {

void register_avx2(KernelSet& set) {
  register_avx2_act(set);
  register_avx2_gemv(set);
}

}  // namespace locus::tensor::kernels
