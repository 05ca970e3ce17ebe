// Media parity of locus with llama.cpp (issue 13, "Correctness against llama.cpp").
//
// The reference is locus-mtmd-oracle (tools/oracle/mtmd_oracle.cpp): llama.cpp's own mtmd library driving the
// prebuilt llama.cpp. For each case (a tiny random model and its projector, written by locus-mkmodel in a
// model type and a projector type, under a seed):
//   (a) projected embeddings: images of several sizes and patterns, and PCM clips of several lengths, through
//       locus's Gemma4Projector and through mtmd's preprocessing and encoder (embed-image / embed-audio). The
//       token counts and the size of the picture the encoder saw must agree; the picture itself is compared in
//       8-bit levels (fail beyond one level: a different resize); then every embedding row.
//   (b) logits: prompts with images and audio, tokenized and evaluated by mtmd (the oracle's `logits`), whose
//       chunk layout locus replays: text chunks through Gemma4Model::forward, media chunks through
//       Gemma4Model::forward_embeddings (bidirectional where llama.cpp decodes the chunk non-causally). The
//       media rows are locus's own projector output (end to end), and once more llama.cpp's (the decoder
//       alone); the last position's logits are compared both ways.
//
// Metric, as the text logits parity (parity_logits.cpp): per row, max_i |locus_i - llama_i| divided by the
// reference row's range (max_i - min_i). Logits bounds are parity_logits's for the model type (they track the
// coarsest activation rounding llama.cpp applies for that type). Embedding bounds: see kCases below.
//
// Images whose sides are multiples of 48 with 70..1120 patches are what llama.cpp's size rule leaves as they
// are; other sizes are resized and letterboxed, which locus does with media::fit_image(kLlamaCpp) (compiled in
// when src/media provides it: LOCUS_MEDIA_PARITY).
#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <random>
#include <sstream>
#include <stdexcept>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "gguf/file.h"
#include "model/gemma4_model.h"
#include "model/gemma4_projector.h"
#ifdef LOCUS_MEDIA_PARITY
#include "media/media.h"
#endif

namespace {

using namespace locus;
using nlohmann::json;
namespace fs = std::filesystem;

struct Case {
  std::string type, mmproj_type;
  double embd_bound;    // max |diff| over a row / the reference row's range, projected embeddings
  double logits_bound;  // the same for the last position's logits (parity_logits's bound for `type`)
  std::vector<uint64_t> seeds;
};

// Embedding bounds, by projector type. Both sides compute the projector in f32 and differ by summation order
// (LayerNorm over 6912 values, dot products of 6912 and n_embd terms) and, for stored types other than F32, by
// the rounding of activations for the matrix products: ggml converts them to the weight's dot-product type (F16
// for F16 weights, BF16 for BF16, 32-value blocks of Q8_0 for Q8_0), and a value that an f32 difference of one
// ulp puts on the other side of a rounding step moves its products by a whole step. So the bound sits at about
// one relative step of the type: F32 1e-5 (~100 f32 ulps), F16 1e-3 (2 f16 steps of 2^-11), BF16 4e-3 (one bf16
// step, 2^-8), Q8_0 5e-3 (below one q8_0 step, 1/127 of a block's largest value). A systematic difference (a
// norm, a position table or a patch order wrong) moves whole rows by O(1), far beyond. Measured on the default
// cases (x86-64, llama.cpp's zen4 CPU backend): F32 6e-7, F16 1e-4, BF16 3e-4, Q8_0 9e-4; audio 2e-7 for all
// (its projection's input is bit-identical on both sides, so no rounding step flips).
// Logits bounds: parity_logits's for the model type, F32 1e-3, Q8_0 4e-2, Q4_K_M 5e-2 (measured here: 5e-4,
// 1.1e-2, 1.5e-2). Decoding an image causally instead of bidirectionally (or the reverse for audio) gives
// 9e-2 to 3e-1 on Q4_K_M.
// Every case --cases can name; the default suite runs the first three (the BF16 projector on demand, to keep the
// default run's time down).
std::vector<Case> known_cases() {
  return {
      {"F32", "F32", 1e-5, 1e-3, {11}},
      {"Q8_0", "Q8_0", 5e-3, 4e-2, {13}},
      {"Q4_K_M", "F16", 1e-3, 5e-2, {14}},
      {"Q4_K_M", "BF16", 4e-3, 5e-2, {15}},
  };
}
std::vector<Case> default_cases() {
  auto all = known_cases();
  all.pop_back();
  return all;
}

struct Options {
  std::string mkmodel, oracle, work_dir;
  int threads = 2;
  std::vector<Case> cases;
};

struct Stats {
  double worst = 0, min_cos = 1;
  int rows = 0, argmax_differs = 0;
  void add(const float* ours, const float* ref, size_t n) {
    double d = 0, dot = 0, n1 = 0, n2 = 0;
    float mn = ref[0], mx = ref[0];
    for (size_t i = 0; i < n; ++i) {
      d = std::max(d, double(std::abs(ours[i] - ref[i])));
      mn = std::min(mn, ref[i]);
      mx = std::max(mx, ref[i]);
      dot += double(ours[i]) * ref[i];
      n1 += double(ours[i]) * ours[i];
      n2 += double(ref[i]) * ref[i];
    }
    const double range = double(mx) - double(mn);
    worst = std::max(worst, range > 0 ? d / range : (d > 0 ? INFINITY : 0.0));
    min_cos = std::min(min_cos, n1 > 0 && n2 > 0 ? dot / std::sqrt(n1 * n2) : (n1 == n2 ? 1.0 : 0.0));
    if (std::max_element(ours, ours + n) - ours != std::max_element(ref, ref + n) - ref) ++argmax_differs;
    ++rows;
  }
};

std::string quote(const std::string& s) {
  std::string out = "'";
  for (char c : s) out += c == '\'' ? std::string("'\\''") : std::string(1, c);
  return out + "'";
}

std::vector<float> read_f32(const std::string& path) {
  std::ifstream f(path, std::ios::binary | std::ios::ate);
  if (!f) throw std::runtime_error("cannot read " + path);
  const auto size = static_cast<size_t>(f.tellg());
  if (size % 4 != 0) throw std::runtime_error(path + ": " + std::to_string(size) + " bytes, not whole f32 values");
  std::vector<float> v(size / 4);
  f.seekg(0);
  f.read(reinterpret_cast<char*>(v.data()), static_cast<std::streamsize>(size));
  return v;
}

template <typename T>
void write_raw(const std::string& path, const std::vector<T>& v) {
  std::ofstream f(path, std::ios::binary);
  f.write(reinterpret_cast<const char*>(v.data()), static_cast<std::streamsize>(v.size() * sizeof(T)));
  if (!f) throw std::runtime_error("cannot write " + path);
}

double seconds_since(std::chrono::steady_clock::time_point t0) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
}

double g_oracle_s = 0;  // time spent in the oracle (of the current case)

// Runs the oracle; its JSON answer (stdout), or an exception with its one-line error.
json run_oracle(const Options& o, const std::string& args, const std::string& dir) {
  const auto t0 = std::chrono::steady_clock::now();
  const std::string out = dir + "/oracle.json", err = dir + "/oracle.err";
  const std::string cmd = quote(o.oracle) + " " + args + " --threads " + std::to_string(o.threads) + " > " +
                          quote(out) + " 2> " + quote(err);
  if (std::system(cmd.c_str()) != 0) {
    std::ifstream e(err);
    std::string line;
    std::getline(e, line);
    throw std::runtime_error("oracle failed: " + line + "\n  command: " + cmd);
  }
  g_oracle_s += seconds_since(t0);
  std::ifstream f(out);
  return json::parse(f);
}

// ---- inputs ----

struct Picture {
  int width = 0, height = 0;
  int max_tokens = 1120;  // the size rule's budget (--max-tokens of the oracle, fit_image's max_tokens)
  int pattern = 0;        // 0 noise, 1 smooth gradients with a little noise, 2 flat rectangles (sharp edges)
  std::vector<uint8_t> rgb;
  std::string file;
  std::string label() const {
    static const char* names[] = {"noise", "smooth", "blocks"};
    return std::to_string(width) + "x" + std::to_string(height) + " " + names[pattern] +
           (max_tokens != 1120 ? " max " + std::to_string(max_tokens) : "");
  }
  bool llama_keeps_size() const {
    const int64_t t = int64_t{width / 48} * (height / 48);
    return width % 48 == 0 && height % 48 == 0 && t >= 70 && t <= max_tokens;
  }
};

void paint(Picture& p, std::mt19937_64& rng) {
  const int w = p.width, h = p.height;
  p.rgb.assign(size_t(w) * size_t(h) * 3, 0);
  std::uniform_int_distribution<int> byte(0, 255), small(-8, 8);
  std::uniform_real_distribution<double> u(0, 1);
  auto clamp = [](double v) { return static_cast<uint8_t>(std::clamp(std::lround(v), 0l, 255l)); };
  if (p.pattern == 0) {
    for (uint8_t& v : p.rgb) v = static_cast<uint8_t>(byte(rng));
  } else if (p.pattern == 1) {
    const double fx = 0.002 + 0.05 * u(rng), fy = 0.002 + 0.05 * u(rng), ph = 6.28 * u(rng);
    for (int y = 0; y < h; ++y) {
      for (int x = 0; x < w; ++x) {
        uint8_t* px = &p.rgb[(size_t(y) * w + x) * 3];
        px[0] = clamp(128 + 100 * std::sin(fx * x + fy * y + ph) + small(rng));
        px[1] = clamp(255.0 * x / w + small(rng));
        px[2] = clamp(255.0 * y / h * (0.5 + 0.5 * std::cos(fy * x)) + small(rng));
      }
    }
  } else {
    const uint8_t bg[3] = {static_cast<uint8_t>(byte(rng)), static_cast<uint8_t>(byte(rng)),
                           static_cast<uint8_t>(byte(rng))};
    for (size_t i = 0; i < p.rgb.size(); ++i) p.rgb[i] = bg[i % 3];
    for (int r = 0; r < 12; ++r) {
      const int x0 = static_cast<int>(u(rng) * w), y0 = static_cast<int>(u(rng) * h);
      const int x1 = std::min(w, x0 + 1 + static_cast<int>(u(rng) * w / 2));
      const int y1 = std::min(h, y0 + 1 + static_cast<int>(u(rng) * h / 2));
      const int c[3] = {byte(rng), byte(rng), byte(rng)};
      for (int y = y0; y < y1; ++y) {
        for (int x = x0; x < x1; ++x) {
          for (int k = 0; k < 3; ++k) p.rgb[(size_t(y) * w + x) * 3 + k] = static_cast<uint8_t>(c[k]);
        }
      }
    }
  }
}

struct Clip {
  double seconds = 0;
  std::vector<float> pcm;
  std::string file;
};

void synthesize(Clip& c, std::mt19937_64& rng) {
  const size_t n = static_cast<size_t>(std::lround(c.seconds * 16000));
  std::uniform_real_distribution<double> u(0, 1);
  const double f1 = 80 + 900 * u(rng), f2 = 1000 + 5000 * u(rng), a = 0.2 + 0.5 * u(rng);
  c.pcm.resize(n);
  for (size_t i = 0; i < n; ++i) {
    const double t = double(i) / 16000;
    c.pcm[i] = static_cast<float>(std::clamp(a * std::sin(6.2832 * f1 * t) + 0.2 * std::sin(6.2832 * f2 * t) +
                                                 0.3 * (u(rng) - 0.5),
                                             -1.0, 1.0));
  }
}

// ---- locus ----

// The picture locus's projector takes for p under llama.cpp's size rule; false when that needs src/media.
bool locus_picture(const Picture& p, std::vector<uint8_t>& rgb, int& w, int& h) {
  if (p.llama_keeps_size()) {
    rgb = p.rgb;
    w = p.width;
    h = p.height;
    return true;
  }
#ifdef LOCUS_MEDIA_PARITY
  media::Image in;
  in.width = p.width;
  in.height = p.height;
  in.rgb = p.rgb;
  media::Image out = media::fit_image(in, media::SizeRule::kLlamaCpp, p.max_tokens);
  rgb = std::move(out.rgb);
  w = out.width;
  h = out.height;
  return true;
#else
  (void)rgb, (void)w, (void)h;
  return false;
#endif
}

std::vector<float> locus_image(model::Gemma4Projector& proj, const std::vector<uint8_t>& rgb, int w, int h) {
  std::vector<float> e(size_t(model::Gemma4Projector::image_tokens(w, h)) * proj.n_embd());
  proj.embed_image(rgb.data(), w, h, e);
  return e;
}

std::vector<float> locus_audio(model::Gemma4Projector& proj, const std::vector<float>& pcm) {
  std::vector<float> e(size_t(model::Gemma4Projector::audio_tokens(pcm.size())) * proj.n_embd());
  proj.embed_audio(pcm, e);
  return e;
}

// ---- the case ----

struct Report {
  int compared = 0, failed = 0, skipped = 0;
};

void line(bool ok, const std::string& what, const std::string& detail, Report& r) {
  ++r.compared;
  if (!ok) ++r.failed;
  std::printf("%-4s %-44s %s\n", ok ? "ok" : "FAIL", what.c_str(), detail.c_str());
  std::fflush(stdout);
}

std::string fmt(const char* f, double a, double b = 0, double c = 0) {
  char buf[160];
  std::snprintf(buf, sizeof buf, f, a, b, c);
  return buf;
}

struct Prompt {
  std::string text;                // with <__media__> markers
  std::vector<std::string> media;  // "image:N" (index into pictures) or "audio:N" (into clips), in order
  int max_tokens = 1120;
};

void run_case(const Options& o, const Case& c, uint64_t seed, Report& r) {
  const std::string tag = c.type + "/" + c.mmproj_type + " s" + std::to_string(seed);
  const std::string dir = o.work_dir + "/media-parity-" + std::to_string(seed);
  fs::create_directories(dir);
  const std::string model_path = dir + "/m.gguf", mmproj_path = dir + "/mmproj.gguf";
  const std::string cmd = quote(o.mkmodel) + " --preset tiny --type " + c.type + " --mmproj-type " + c.mmproj_type +
                          " --quiet --no-chat-template -o " + quote(model_path) + " --mmproj " + quote(mmproj_path) +
                          " --seed " + std::to_string(seed);
  const auto t_case = std::chrono::steady_clock::now();
  if (std::system(cmd.c_str()) != 0) throw std::runtime_error("failed: " + cmd);
  const double write_s = seconds_since(t_case);
  g_oracle_s = 0;

  std::mt19937_64 rng(seed * 7919);
  // Sizes llama.cpp keeps (multiples of 48 with 70..1120 patches), both orientations, the smallest and the
  // largest budget and an extreme aspect ratio; then sizes it resizes and letterboxes (src/media needed).
  std::vector<Picture> pictures = {
      {480, 336, 1120, 0, {}, {}},  {336, 480, 1120, 1, {}, {}},   {1008, 768, 336, 2, {}, {}},
      {960, 672, 1120, 1, {}, {}},  {1680, 1536, 1120, 0, {}, {}}, {192, 3360, 1120, 2, {}, {}},
      {500, 375, 1120, 1, {}, {}},  {1001, 999, 336, 0, {}, {}},   {64, 64, 1120, 2, {}, {}},
      {2000, 100, 1120, 1, {}, {}}, {1920, 1080, 336, 1, {}, {}},  {37, 1201, 1120, 0, {}, {}},
  };
  for (size_t i = 0; i < pictures.size(); ++i) {
    paint(pictures[i], rng);
    pictures[i].file = dir + "/image" + std::to_string(i) + ".rgb";
    write_raw(pictures[i].file, pictures[i].rgb);
  }
  // Lengths that are not whole 640-sample frames (the last frame zero-padded), short to 10 s.
  std::vector<Clip> clips = {{0.3, {}, {}}, {2.05, {}, {}}, {10.0, {}, {}}, {0.01, {}, {}}};
  for (size_t i = 0; i < clips.size(); ++i) {
    synthesize(clips[i], rng);
    clips[i].file = dir + "/clip" + std::to_string(i) + ".f32";
    write_raw(clips[i].file, clips[i].pcm);
  }

  model::Gemma4ModelOptions mo;
  mo.n_ctx = 2048;
  mo.n_batch = 2048;
  mo.n_threads = o.threads;
  auto m = model::Gemma4Model::load(model_path, mo);
  auto proj = model::Gemma4Projector::load(mmproj_path, m->n_embd(), &m->pool());
  const size_t E = proj->n_embd();
  // The projector's pixel normalisation, to read back the picture llama.cpp's encoder got as 8-bit levels.
  float mean[3] = {0, 0, 0}, stdev[3] = {1, 1, 1};
  {
    const gguf::GgufFile f = gguf::GgufFile::open(mmproj_path);
    if (f.has("clip.vision.image_mean")) {
      for (int k = 0; k < 3; ++k) {
        mean[k] = static_cast<float>(std::get<double>(f.get_array("clip.vision.image_mean").items.at(k).data));
        stdev[k] = static_cast<float>(std::get<double>(f.get_array("clip.vision.image_std").items.at(k).data));
      }
    }
  }

  // (a) images, grouped by budget: one oracle call per group.
  std::vector<std::vector<float>> image_embd(pictures.size());  // locus's, for the prompts below
  std::vector<int> budgets;
  for (const Picture& p : pictures) {
    if (std::find(budgets.begin(), budgets.end(), p.max_tokens) == budgets.end()) budgets.push_back(p.max_tokens);
  }
  for (int budget : budgets) {
    std::string args = "embed-image --model " + quote(model_path) + " --mmproj " + quote(mmproj_path) +
                       " --max-tokens " + std::to_string(budget) + " --out " + quote(dir + "/embd.f32") +
                       " --pixels-out " + quote(dir + "/pixels.f32");
    std::vector<size_t> members;
    for (size_t i = 0; i < pictures.size(); ++i) {
      const Picture& p = pictures[i];
      if (p.max_tokens != budget) continue;
      members.push_back(i);
      args += " --media " + quote("image:" + p.file + ":" + std::to_string(p.width) + ":" + std::to_string(p.height));
    }
    const json answer = run_oracle(o, args, dir);
    const std::vector<float> ref = read_f32(dir + "/embd.f32"), pixels = read_f32(dir + "/pixels.f32");
    if (answer.at("n_embd").get<size_t>() != E) throw std::runtime_error("oracle n_embd differs from the projector's");
    size_t offset = 0, pixel_offset = 0;
    for (size_t k = 0; k < members.size(); ++k) {
      const Picture& p = pictures[members[k]];
      const json& item = answer.at("items").at(k);
      const size_t n_ref = item.at("n_tokens").get<size_t>();
      const int rw = item.at("width").get<int>(), rh = item.at("height").get<int>();
      const size_t n_values = size_t(rw) * size_t(rh) * 3;
      if (pixel_offset + n_values > pixels.size()) throw std::runtime_error("oracle pixels: unexpected file size");
      const float* ref_pixels = pixels.data() + pixel_offset;  // planes R, G, B of rh rows of rw
      pixel_offset += n_values;
      const std::string what = tag + " image " + p.label();
      std::vector<uint8_t> rgb;
      int w = 0, h = 0;
      if (!locus_picture(p, rgb, w, h)) {
        ++r.skipped;
        std::printf("%-4s %-44s llama.cpp: %dx%d, %zu tokens; locus's resize (media::fit_image) not built\n", "skip",
                    what.c_str(), rw, rh, n_ref);
        offset += n_ref * E;
        continue;
      }
      if (w != rw || h != rh || size_t(model::Gemma4Projector::image_tokens(w, h)) != n_ref) {
        line(false, what, "size: locus " + std::to_string(w) + "x" + std::to_string(h) + ", llama.cpp " +
                              std::to_string(rw) + "x" + std::to_string(rh) + " (" + std::to_string(n_ref) + " tokens)", r);
        offset += n_ref * E;
        continue;
      }
      // The picture itself, in 8-bit levels: locus's (raw or fit_image's) against what mtmd gave its encoder.
      size_t pixels_differ = 0;
      double worst_level = 0;
      for (int ch = 0; ch < 3; ++ch) {
        for (size_t i = 0; i < size_t(w) * size_t(h); ++i) {
          const double level = (double(ref_pixels[size_t(ch) * w * h + i]) * stdev[ch] + mean[ch]) * 255.0;
          const double d = std::abs(level - double(rgb[i * 3 + size_t(ch)]));
          if (d > 0.01) ++pixels_differ;
          worst_level = std::max(worst_level, d);
        }
      }
      image_embd[members[k]] = locus_image(*proj, rgb, w, h);
      Stats s;
      for (size_t t = 0; t < n_ref; ++t) s.add(&image_embd[members[k]][t * E], &ref[offset + t * E], E);
      offset += n_ref * E;
      // A value one level off is a rounding tie resolved the other way (shown, and judged by the embeddings);
      // more than one level is a different resize.
      const std::string pixel_note =
          pixels_differ == 0 ? ", same pixels" : fmt(", %.0f values differ (max %.1f levels)", double(pixels_differ), worst_level);
      line(s.worst <= c.embd_bound && worst_level < 1.01, what,
           fmt("-> %.0fx%.0f, %.0f tokens", w, h, double(n_ref)) + pixel_note +
               fmt(" | embd max %.2e, min cos %.7f | bound %.0e", s.worst, s.min_cos, c.embd_bound), r);
    }
    if (offset != ref.size() || pixel_offset != pixels.size()) {
      throw std::runtime_error("oracle embeddings or pixels: unexpected file size");
    }
  }

  // (a) audio: one oracle call for all clips.
  std::vector<std::vector<float>> audio_embd(clips.size());
  {
    std::string args = "embed-audio --model " + quote(model_path) + " --mmproj " + quote(mmproj_path) + " --out " +
                       quote(dir + "/embd.f32");
    for (const Clip& a : clips) args += " --media " + quote("audio:" + a.file);
    const json answer = run_oracle(o, args, dir);
    const std::vector<float> ref = read_f32(dir + "/embd.f32");
    size_t offset = 0;
    for (size_t k = 0; k < clips.size(); ++k) {
      const size_t n_ref = answer.at("items").at(k).at("n_tokens").get<size_t>();
      const std::string what = tag + " audio " + fmt("%.2f s (%.0f samples)", clips[k].seconds, double(clips[k].pcm.size()));
      audio_embd[k] = locus_audio(*proj, clips[k].pcm);
      const size_t n = audio_embd[k].size() / E;
      if (n != n_ref) {
        line(false, what, "tokens: locus " + std::to_string(n) + ", llama.cpp " + std::to_string(n_ref), r);
      } else {
        Stats s;
        for (size_t t = 0; t < n; ++t) s.add(&audio_embd[k][t * E], &ref[offset + t * E], E);
        line(s.worst <= c.embd_bound, what,
             fmt("%.0f tokens | embd max %.2e, min cos %.7f", double(n), s.worst, s.min_cos) +
                 fmt(" | bound %.0e", c.embd_bound), r);
      }
      offset += n_ref * E;
    }
    if (offset != ref.size()) throw std::runtime_error("oracle embeddings: unexpected file size");
  }

  // (b) logits after prompts with media, replayed chunk by chunk.
  const std::string turn = "<|turn>user\n", end = "<turn|>\n<|turn>model\n";
  std::vector<Prompt> prompts = {
      {turn + "<__media__>Describe this image." + end, {"image:3"}, 1120},
      {turn + "Transcribe: <__media__>" + end, {"audio:2"}, 1120},
      {turn + "Compare <__media__> with <__media__>, then listen: <__media__> and say which." + end,
       {"image:4", "image:1", "audio:0"}, 1120},
  };
  // Two resized and letterboxed images back to back: two bidirectional blocks with no text between.
  if (!image_embd[6].empty()) prompts.push_back({turn + "<__media__><__media__>Both?" + end, {"image:6", "image:8"}, 1120});
  const size_t V = m->n_vocab();
  std::vector<float> logits(V);
  for (const Prompt& pr : prompts) {
    std::string args = "logits --model " + quote(model_path) + " --mmproj " + quote(mmproj_path) + " --prompt " +
                       quote(pr.text) + " --max-tokens " + std::to_string(pr.max_tokens) + " --n-batch 2048 --out " +
                       quote(dir + "/logits.f32") + " --embd-out " + quote(dir + "/embd.f32");
    std::vector<const std::vector<float>*> ours;
    std::string label;
    for (const std::string& spec : pr.media) {
      const bool is_image = spec.rfind("image:", 0) == 0;
      const size_t idx = std::stoul(spec.substr(6));
      if (is_image) {
        const Picture& p = pictures[idx];
        args += " --media " + quote("image:" + p.file + ":" + std::to_string(p.width) + ":" + std::to_string(p.height));
        ours.push_back(&image_embd[idx]);
      } else {
        args += " --media " + quote("audio:" + clips[idx].file);
        ours.push_back(&audio_embd[idx]);
      }
      if (!label.empty()) label += '+';
      label += is_image ? "image(" : "audio(";
      label += std::to_string(ours.back()->size() / E);
      label += ')';
    }
    const json answer = run_oracle(o, args, dir);
    const std::vector<float> ref = read_f32(dir + "/logits.f32"), ref_embd = read_f32(dir + "/embd.f32");
    if (ref.size() != V) throw std::runtime_error("oracle logits: expected n_vocab values");
    const uint32_t n_ctx = answer.at("n_ctx").get<uint32_t>();
    if (n_ctx > m->n_ctx()) throw std::runtime_error("prompt longer than the test's context");

    // Twice: media rows from locus's projector (end to end), then llama.cpp's (the decoder alone).
    Stats stats[2];
    for (int source = 0; source < 2; ++source) {
      m->reset();
      size_t media_i = 0, ref_offset = 0;
      int32_t pos = 0;
      for (const json& chunk : answer.at("chunks")) {
        if (chunk.at("pos").get<int32_t>() != pos) throw std::runtime_error("oracle chunk positions are not consecutive");
        const std::string type = chunk.at("type");
        if (type == "text") {
          const std::vector<int32_t> tokens = chunk.at("tokens");
          m->forward(model::kDefaultSequence, tokens, pos, logits, false);
          pos += static_cast<int32_t>(tokens.size());
          continue;
        }
        const size_t n = chunk.at("n_tokens").get<size_t>();
        if (media_i >= ours.size() || ours[media_i]->size() != n * E) {
          throw std::runtime_error("oracle media chunk " + std::to_string(media_i) + " has " + std::to_string(n) +
                                   " tokens, not what locus's projector gave");
        }
        std::span<const float> rows = source == 0 ? std::span<const float>(*ours[media_i])
                                                  : std::span<const float>(ref_embd).subspan(ref_offset, n * E);
        m->forward_embeddings(model::kDefaultSequence, rows, pos, logits, false, chunk.at("non_causal").get<bool>());
        ref_offset += n * E;
        ++media_i;
        pos += static_cast<int32_t>(n);
      }
      if (pos != answer.at("n_pos").get<int32_t>()) throw std::runtime_error("replayed positions differ from the oracle's");
      stats[source].add(logits.data(), ref.data(), V);
    }
    const bool ok = stats[0].worst <= c.logits_bound && stats[1].worst <= c.logits_bound;
    line(ok, tag + " logits " + label + fmt(", %.0f positions", answer.at("n_pos").get<double>()),
         fmt("end to end %.2e, decoder %.2e", stats[0].worst, stats[1].worst) +
             std::string(stats[0].argmax_differs + stats[1].argmax_differs ? ", argmax differs" : ", same argmax") +
             fmt(" | bound %.0e", c.logits_bound), r);
  }
  m.reset();
  proj.reset();
  fs::remove_all(dir);
  std::printf("     (%s: %.1f s, of which writing the files %.1f s, llama.cpp %.1f s)\n", tag.c_str(),
              seconds_since(t_case), write_s, g_oracle_s);
}

std::vector<std::string> split(const std::string& s, char sep) {
  std::vector<std::string> out;
  std::stringstream ss(s);
  std::string part;
  while (std::getline(ss, part, sep)) out.push_back(part);
  return out;
}

}  // namespace

int main(int argc, char** argv) {
  Options o;
  std::string only;
  for (int i = 1; i < argc; ++i) {
    const std::string a = argv[i];
    auto value = [&]() -> std::string {
      if (i + 1 >= argc) throw std::invalid_argument(a + " needs a value");
      return argv[++i];
    };
    try {
      if (a == "--mkmodel") o.mkmodel = value();
      else if (a == "--oracle") o.oracle = value();
      else if (a == "--work-dir") o.work_dir = value();
      else if (a == "--threads") o.threads = std::stoi(value());
      else if (a == "--cases") only = value();
      else throw std::invalid_argument("unknown option " + a);
    } catch (const std::exception& e) {
      std::fprintf(stderr, "media_parity: %s\nusage: media_parity --mkmodel PATH --oracle PATH [--work-dir DIR] "
                           "[--threads N] [--cases TYPE/MMPROJ_TYPE[:SEED],...]\n", e.what());
      return 2;
    }
  }
  if (o.mkmodel.empty() || o.oracle.empty()) {
    std::fprintf(stderr, "media_parity: --mkmodel and --oracle are required\n");
    return 2;
  }
  if (o.work_dir.empty()) o.work_dir = fs::temp_directory_path().string();
  if (only.empty()) {
    o.cases = default_cases();
  } else {
    for (const std::string& item : split(only, ',')) {
      const auto parts = split(item, ':');
      const auto types = split(parts[0], '/');
      bool found = false;
      for (Case c : known_cases()) {
        if (types.size() == 2 && c.type == types[0] && c.mmproj_type == types[1]) {
          if (parts.size() > 1) c.seeds = {std::stoull(parts[1])};
          o.cases.push_back(c);
          found = true;
        }
      }
      if (!found) {
        std::fprintf(stderr, "media_parity: --cases: no known case %s (expected e.g. F32/F32 or Q4_K_M/F16)\n",
                     parts[0].c_str());
        return 2;
      }
    }
  }
#ifndef LOCUS_MEDIA_PARITY
  std::printf("note: built without src/media; the sizes llama.cpp resizes are listed as skipped\n");
#endif
  const auto t0 = std::chrono::steady_clock::now();
  Report r;
  try {
    for (const Case& c : o.cases) {
      for (uint64_t seed : c.seeds) run_case(o, c, seed, r);
    }
  } catch (const std::exception& e) {
    std::fprintf(stderr, "media_parity: %s\n", e.what());
    return 1;
  }
  const double s = seconds_since(t0);
  std::printf("%d compared, %d failed, %d skipped, %.0f s\n", r.compared, r.failed, r.skipped, s);
  if (r.failed > 0) {
    std::printf("media parity FAILED: %d of %d comparisons beyond their bounds (lines marked FAIL above)\n", r.failed,
                r.compared);
  }
  return r.failed == 0 ? 0 : 1;
}
