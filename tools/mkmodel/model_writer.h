// Streams a complete random-weight Gemma 4 GGUF (and its mmproj) to disk with bounded memory.
#pragma once

#include <cstdint>
#include <functional>
#include <string>

#include "presets.h"
#include "model/quant_mix.h"

namespace locus::mkmodel {

struct WriteOptions {
  Preset preset;
  model::FileType file_type = model::FileType::MOSTLY_F16;
  uint64_t seed = 1;
  std::string out_path;
  std::string tokenizer_json;     // HF tokenizer.json the vocabulary is built from
  std::string chat_template;      // template text ("" = none)
  unsigned threads = 0;           // 0 = all cores
  bool quiet = false;
};

struct WriteStats {
  uint64_t n_params = 0;
  uint64_t file_bytes = 0;
  double seconds = 0;
};

// Progress callback: bytes of tensor data written so far, total bytes of tensor data.
using Progress = std::function<void(uint64_t done, uint64_t total)>;

WriteStats write_random_model(const WriteOptions& o, const Progress& progress);

struct MmprojOptions {
  model::Gemma4Config text;       // the text model the projector feeds (its width)
  gguf::GgmlType matrix_type = gguf::GgmlType::F16;
  uint64_t seed = 1;
  std::string out_path;
  unsigned threads = 0;
};

// The encoder-free vision (gemma4uv) and audio (gemma4ua) projector of the 12B (gemma4.md 3.3).
WriteStats write_random_mmproj(const MmprojOptions& o, const Progress& progress);

}  // namespace locus::mkmodel
