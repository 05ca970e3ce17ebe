// locus-mkmodel: writes random-weight Gemma 4 GGUF files (text model and mmproj) for tests and benchmarks.
#include <CLI/CLI.hpp>

#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <sstream>

#include "common/human.h"
#include "model/quant_mix.h"
#include "model_writer.h"
#include "presets.h"
#include "vocab.h"

namespace {

using namespace locus;

std::string default_chat_template_path() {
  if (const char* env = std::getenv("LOCUS_CHAT_TEMPLATE")) return env;
  return std::string(LOCUS_SOURCE_DIR) + "/.scratch/llama.cpp/models/templates/google-gemma-4-31B-it.jinja";
}

std::string read_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw std::runtime_error("cannot read " + path);
  std::ostringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

// A one-line progress bar on stderr, redrawn at most every 1% and only on a terminal.
mkmodel::Progress progress_bar(const std::string& label, bool enabled) {
  if (!enabled) return nullptr;
  auto last = std::make_shared<int>(-1);
  return [label, last](uint64_t done, uint64_t total) {
    const int pct = total == 0 ? 100 : static_cast<int>(done * 100 / total);
    if (pct == *last) return;
    *last = pct;
    const int width = 30, filled = pct * width / 100;
    std::fprintf(stderr, "\r%s [%.*s%*s] %3d%% %s / %s", label.c_str(), filled, "##############################",
                 width - filled, "", pct, human_bytes(double(done)).c_str(), human_bytes(double(total)).c_str());
    if (done >= total) std::fprintf(stderr, "\n");
    std::fflush(stderr);
  };
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"locus-mkmodel: write a random-weight Gemma 4 GGUF (and its mmproj projector)", "locus-mkmodel"};
  std::string preset_name = "tiny", type_name = "F16", out, mmproj_out, mmproj_type = "F16";
  std::string vocab_path = mkmodel::default_tokenizer_json_path(), template_path;
  bool no_template = false, list = false, quiet = false;
  uint64_t seed = 1;
  unsigned threads = 0, layers = 0;
  app.add_option("--preset", preset_name, "model shape (see --list-presets)")->capture_default_str();
  app.add_option("--type", type_name, "storage type or mix: F32, F16, BF16, Q8_0, Q4_0, Q4_1, Q5_0, Q5_1, Q2_K, "
                                      "Q3_K_S/M/L, Q4_K_S, Q4_K_M, Q5_K_S, Q5_K_M, Q6_K, IQ4_NL, IQ4_XS, TQ1_0, TQ2_0")
      ->capture_default_str();
  app.add_option("--seed", seed, "random seed (same seed, same file)")->capture_default_str();
  app.add_option("-o,--output", out, "output GGUF path (default: PRESET-TYPE.gguf unless only --mmproj is given)");
  app.add_option("--mmproj", mmproj_out, "also write the matching mmproj projector GGUF here");
  app.add_option("--mmproj-type", mmproj_type, "matrix type of the mmproj: F32, F16, BF16, Q8_0")->capture_default_str();
  app.add_option("--vocab", vocab_path, "HF tokenizer.json the vocabulary is built from (env LOCUS_TOKENIZER_JSON)")
      ->capture_default_str();
  app.add_option("--chat-template", template_path,
                 "Jinja chat template file to embed (env LOCUS_CHAT_TEMPLATE; default: the Gemma 4 template from "
                 "llama.cpp's source, extracted by scripts/setup)");
  app.add_flag("--no-chat-template", no_template, "write no tokenizer.chat_template");
  app.add_option("--threads", threads, "worker threads (default: all cores)");
  app.add_option("--layers", layers, "use only this many layers (keeps the preset's layer pattern)");
  app.add_flag("--list-presets", list, "list the presets and exit");
  app.add_flag("-q,--quiet", quiet, "no progress output");
  CLI11_PARSE(app, argc, argv);

  if (list) {
    for (const auto& p : mkmodel::all_presets()) {
      const auto n = model::count_parameters(model::gemma4_tensor_layout(p.config));
      std::printf("%-16s %6.2f B params  %s%s\n", p.name.c_str(), double(n) / 1e9, p.description.c_str(),
                  p.has_unified_mmproj ? " (+mmproj)" : "");
    }
    return 0;
  }
  try {
    auto preset = mkmodel::find_preset(preset_name);
    if (!preset) throw std::runtime_error("unknown preset '" + preset_name + "' (see --list-presets)");
    if (layers > 0) {
      if (layers > preset->config.n_layer) {
        throw std::runtime_error("--layers " + std::to_string(layers) + " exceeds the preset's " +
                                 std::to_string(preset->config.n_layer) + " layers");
      }
      mkmodel::truncate_layers(*preset, layers);
    }
    const auto ftype = model::file_type_from_name(type_name);
    if (!ftype) throw std::runtime_error("unknown type '" + type_name + "'");
    // With neither output named, write PRESET-TYPE.gguf in the current folder.
    if (out.empty() && mmproj_out.empty()) out = preset->name + "-" + std::string(ftype->name) + ".gguf";
    const bool show = !quiet && isatty(fileno(stderr));

    if (!out.empty()) {
      mkmodel::WriteOptions o{*preset, ftype->type, seed, out, vocab_path, "", threads, quiet};
      if (!no_template) {
        const std::string path = template_path.empty() ? default_chat_template_path() : template_path;
        if (std::filesystem::exists(path)) {
          o.chat_template = read_file(path);
        } else if (!template_path.empty()) {
          throw std::runtime_error("chat template " + path + " not found");
        } else {
          std::fprintf(stderr, "warning: no chat template written: %s not found (run scripts/setup, or pass "
                               "--chat-template FILE or --no-chat-template)\n", path.c_str());
        }
      }
      const auto s = mkmodel::write_random_model(o, progress_bar("writing " + out, show));
      if (!quiet) {
        std::fprintf(stderr, "wrote %s: %s %s, %.3f B params, %s in %.1f s\n", out.c_str(), preset->name.c_str(),
                     std::string(ftype->name).c_str(), double(s.n_params) / 1e9, human_bytes(double(s.file_bytes)).c_str(),
                     s.seconds);
      }
    }
    if (!mmproj_out.empty()) {
      if (!preset->has_unified_mmproj) {
        throw std::runtime_error("preset " + preset->name + " has no encoder-free projector (mmproj is for the "
                                 "unified 12B shape and its small test shapes)");
      }
      const auto mt = gguf::ggml_type_from_name(mmproj_type);
      if (!mt || (*mt != gguf::GgmlType::F32 && *mt != gguf::GgmlType::F16 && *mt != gguf::GgmlType::BF16 &&
                  *mt != gguf::GgmlType::Q8_0)) {
        throw std::runtime_error("--mmproj-type must be F32, F16, BF16 or Q8_0, not '" + mmproj_type + "'");
      }
      mkmodel::MmprojOptions m{preset->config, *mt, seed, mmproj_out, threads};
      const auto s = mkmodel::write_random_mmproj(m, progress_bar("writing " + mmproj_out, show));
      if (!quiet) {
        std::fprintf(stderr, "wrote %s: mmproj (gemma4uv + gemma4ua), %s in %.1f s\n", mmproj_out.c_str(),
                     human_bytes(double(s.file_bytes)).c_str(), s.seconds);
      }
    }
  } catch (const std::exception& e) {
    std::fprintf(stderr, "locus-mkmodel: %s\n", e.what());
    return 1;
  }
  return 0;
}
