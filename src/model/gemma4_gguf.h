// Gemma 4 hyperparameters as GGUF metadata (the keys llama.cpp's gemma4 loader reads, gemma4.md 3.1).
#pragma once

#include "gguf/file.h"
#include "gguf/writer.h"
#include "model/gemma4_config.h"
#include "model/quant_mix.h"

namespace locus::model {

inline constexpr const char* kGemma4Arch = "gemma4";

// Writes general.* and gemma4.* keys (not the tokenizer).
void write_gemma4_metadata(gguf::GgufWriter& w, const Gemma4Config& c, FileType file_type, const std::string& name);

// Reads the hyperparameters back; throws gguf::GgufError naming the missing or malformed key.
Gemma4Config read_gemma4_config(const gguf::GgufFile& f);

}  // namespace locus::model
