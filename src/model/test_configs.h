// For tests of src/model: the Gemma 4 12B text hyperparameters (gemma4.md 2.2).
#pragma once

#include "model/gemma4_config.h"

namespace locus::model::testing {

inline Gemma4Config config_12b() {
  Gemma4Config c;
  c.n_layer = 48;
  c.n_embd = 3840;
  c.n_head = 16;
  c.n_head_kv_swa = 8;
  c.n_head_kv_full = 1;
  c.k_eq_v_full = true;
  c.is_swa = Gemma4Config::pattern_full_every(48, 6);
  c.n_ff.assign(48, 15360);
  return c;
}

}  // namespace locus::model::testing
