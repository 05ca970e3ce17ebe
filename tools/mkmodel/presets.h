// Named Gemma 4 shapes for random-weight models: the real family sizes and small test shapes.
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "model/gemma4_config.h"

namespace locus::mkmodel {

struct Preset {
  std::string name;
  std::string description;
  model::Gemma4Config config;
  bool has_unified_mmproj = false;  // encoder-free vision+audio projector (gemma4uv/gemma4ua)
};

std::vector<Preset> all_presets();
std::optional<Preset> find_preset(std::string_view name);

// Keeps the preset's pattern rule but uses only `n_layer` layers (for quick structural checks of big shapes).
void truncate_layers(Preset& p, uint32_t n_layer);

}  // namespace locus::mkmodel
