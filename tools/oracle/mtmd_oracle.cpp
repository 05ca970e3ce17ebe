// locus-mtmd-oracle: llama.cpp's multimodal library (tools/mtmd, compiled from the source bundle) driving
// node-llama-cpp's prebuilt llama.cpp, as the reference for locus's media path. It answers with one JSON object
// on stdout and writes raw little-endian f32 arrays to the files named; an error is one line on stderr and
// exit status 1. See tools/oracle/README.md.
//
//   locus-mtmd-oracle embed-image --model M --mmproj P --rgb F --width W --height H [--min-tokens N]
//                                 [--max-tokens N] --out E.f32 [--pixels-out P.f32]
//   locus-mtmd-oracle embed-audio --model M --mmproj P --pcm F.f32 --out E.f32
//   locus-mtmd-oracle logits --model M --mmproj P --prompt TEXT --media KIND:FILE[:W:H] ... [--n-batch N]
//                            [--n-ctx N] [--no-bos] --out L.f32 [--embd-out E.f32]
//   common: --threads N (default 2), --backend-dir DIR, --verbose
//
// The text model is needed by the embed commands too: mtmd's tokenizer puts the model's begin/end-of-media
// tokens around every media chunk (it is loaded vocabulary-only there).
#include <ggml-backend.h>
#include <llama.h>
#include <mtmd-helper.h>
#include <mtmd.h>

#include <nlohmann/json.hpp>

#include <cerrno>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <iterator>
#include <map>
#include <memory>
#include <stdexcept>
#include <string>
#include <utility>
#include <vector>

#ifndef LOCUS_LLAMA_BINS
#define LOCUS_LLAMA_BINS ""
#endif

namespace {

using nlohmann::json;

struct Error : std::runtime_error {
  using std::runtime_error::runtime_error;
};

bool g_verbose = false;
std::string g_errors;  // llama.cpp's and mtmd's error-level log text, appended to our one-line error

void log_callback(ggml_log_level level, const char* text, void*) {
  if (g_verbose) std::fputs(text, stderr);
  if (level == GGML_LOG_LEVEL_ERROR && g_errors.size() < 2000) g_errors += text;
}

// One line: newlines and runs of spaces folded.
std::string one_line(const std::string& s) {
  std::string out;
  for (char c : s) {
    if (c == '\n' || c == '\r' || c == '\t') c = ' ';
    if (c == ' ' && (out.empty() || out.back() == ' ')) continue;
    out += c;
  }
  while (!out.empty() && out.back() == ' ') out.pop_back();
  return out;
}

// ---- arguments ----

struct Args {
  std::string command;
  std::map<std::string, std::string> values;
  std::vector<std::string> media;  // --media, repeatable
  bool no_bos = false;

  bool has(const std::string& k) const { return values.count(k) != 0; }
  std::string str(const std::string& k) const {
    auto it = values.find(k);
    if (it == values.end()) throw Error(command + " needs --" + k);
    return it->second;
  }
  long integer(const std::string& k, long fallback, long lo, long hi) const {
    auto it = values.find(k);
    if (it == values.end()) return fallback;
    return parse_int("--" + k, it->second, lo, hi);
  }
  static long parse_int(const std::string& what, const std::string& s, long lo, long hi) {
    errno = 0;
    char* end = nullptr;
    const long v = std::strtol(s.c_str(), &end, 10);
    if (s.empty() || end != s.c_str() + s.size() || errno != 0 || v < lo || v > hi) {
      throw Error(what + ": expected an integer in " + std::to_string(lo) + ".." + std::to_string(hi) + ", found '" +
                  s + "'");
    }
    return v;
  }
};

Args parse_args(int argc, char** argv) {
  static const char* kValueOptions[] = {"model", "mmproj", "rgb", "width", "height", "min-tokens", "max-tokens",
                                        "out", "pcm", "prompt", "n-batch", "n-ctx", "embd-out", "threads",
                                        "backend-dir", "pixels-out"};
  if (argc < 2) throw Error("expected a command: embed-image, embed-audio or logits");
  Args a;
  a.command = argv[1];
  if (a.command != "embed-image" && a.command != "embed-audio" && a.command != "logits") {
    throw Error("unknown command '" + a.command + "'; expected embed-image, embed-audio or logits");
  }
  for (int i = 2; i < argc; ++i) {
    const std::string arg = argv[i];
    if (arg == "--verbose") {
      g_verbose = true;
      continue;
    }
    if (arg == "--no-bos") {
      a.no_bos = true;
      continue;
    }
    if (arg.rfind("--", 0) != 0) throw Error("unexpected argument '" + arg + "'");
    const std::string name = arg.substr(2);
    bool known = name == "media";
    for (const char* o : kValueOptions) known = known || name == o;
    if (!known) throw Error("unknown option " + arg);
    if (i + 1 >= argc) throw Error(arg + " needs a value");
    if (name == "media") {
      a.media.push_back(argv[++i]);
    } else {
      a.values[name] = argv[++i];
    }
  }
  return a;
}

// ---- files ----

std::vector<unsigned char> read_file(const std::string& path) {
  std::ifstream f(path, std::ios::binary);
  if (!f) throw Error("cannot open " + path + ": " + std::strerror(errno));
  return {std::istreambuf_iterator<char>(f), std::istreambuf_iterator<char>()};
}

void write_f32(const std::string& path, const float* data, size_t n) {
  std::FILE* f = std::fopen(path.c_str(), "wb");
  if (f == nullptr) throw Error("cannot write " + path + ": " + std::strerror(errno));
  const size_t wrote = n == 0 ? 0 : std::fwrite(data, sizeof(float), n, f);
  if (std::fclose(f) != 0 || wrote != n) throw Error("short write to " + path);
}

mtmd::bitmap image_bitmap(const std::string& path, long width, long height) {
  const std::vector<unsigned char> rgb = read_file(path);
  const size_t want = static_cast<size_t>(width) * static_cast<size_t>(height) * 3;
  if (rgb.size() != want) {
    throw Error(path + ": expected " + std::to_string(width) + "x" + std::to_string(height) + "x3 = " +
                std::to_string(want) + " bytes of RGB8, found " + std::to_string(rgb.size()));
  }
  mtmd::bitmap b(static_cast<uint32_t>(width), static_cast<uint32_t>(height), rgb.data());
  if (!b.ptr) throw Error("mtmd_bitmap_init failed for " + path);
  return b;
}

mtmd::bitmap audio_bitmap(const std::string& path) {
  const std::vector<unsigned char> bytes = read_file(path);
  if (bytes.empty() || bytes.size() % sizeof(float) != 0) {
    throw Error(path + ": expected a non-empty multiple of 4 bytes of f32le PCM, found " +
                std::to_string(bytes.size()) + " bytes");
  }
  std::vector<float> pcm(bytes.size() / sizeof(float));
  std::memcpy(pcm.data(), bytes.data(), bytes.size());
  mtmd::bitmap b(mtmd_bitmap_init_from_audio(pcm.size(), pcm.data()));
  if (!b.ptr) throw Error("mtmd_bitmap_init_from_audio failed for " + path);
  return b;
}

// ---- llama.cpp / mtmd ----

struct ModelDeleter {
  void operator()(llama_model* m) const { llama_model_free(m); }
};
struct ContextDeleter {
  void operator()(llama_context* c) const { llama_free(c); }
};
using ModelPtr = std::unique_ptr<llama_model, ModelDeleter>;
using ContextPtr = std::unique_ptr<llama_context, ContextDeleter>;

ModelPtr load_model(const std::string& path, bool vocab_only) {
  llama_model_params mp = llama_model_default_params();
  mp.n_gpu_layers = 0;
  mp.vocab_only = vocab_only;
  ModelPtr m(llama_model_load_from_file(path.c_str(), mp));
  if (!m) throw Error("llama.cpp cannot load the model " + path + "");
  return m;
}

// What the encoder was given: clip's input tensor "inp_raw" ([width, height, channels] f32, after mtmd's resize,
// letterbox and normalisation), seen through the scheduler's eval callback at the first operation reading it.
// The callback only makes the scheduler stop after that operation; every operation computes as without it.
struct EncoderInput {
  int64_t width = 0, height = 0, channels = 0;
  bool want_values = false;
  std::vector<float> values;
};

bool observe_encoder_input(ggml_tensor* t, bool ask, void* user) {
  auto* in = static_cast<EncoderInput*>(user);
  for (ggml_tensor* src : t->src) {
    if (src == nullptr || std::strcmp(ggml_get_name(src), "inp_raw") != 0 || in->width != 0) continue;
    if (ask) return true;
    in->width = src->ne[0];
    in->height = src->ne[1];
    in->channels = src->ne[2];
    if (in->want_values && src->type == GGML_TYPE_F32) {
      in->values.resize(static_cast<size_t>(ggml_nelements(src)));
      ggml_backend_tensor_get(src, in->values.data(), 0, ggml_nbytes(src));
    }
  }
  return !ask;  // ask: not interested in this node; !ask: carry on computing
}

mtmd::context_ptr load_mtmd(const Args& a, const llama_model* model, int threads, EncoderInput* observe = nullptr) {
  mtmd_context_params p = mtmd_context_params_default();
  if (observe != nullptr) {
    p.cb_eval = observe_encoder_input;
    p.cb_eval_user_data = observe;
  }
  p.use_gpu = false;
  p.print_timings = false;
  p.n_threads = threads;
  p.warmup = false;  // a warm-up encode changes nothing but the time
  p.image_min_tokens = static_cast<int>(a.integer("min-tokens", -1, 1, 1 << 20));
  p.image_max_tokens = static_cast<int>(a.integer("max-tokens", -1, 1, 1 << 20));
  const std::string path = a.str("mmproj");
  mtmd::context_ptr ctx(mtmd_init_from_file(path.c_str(), model, p));
  if (!ctx) throw Error("mtmd cannot load the projector " + path + "");
  return ctx;
}

mtmd::input_chunks_ptr tokenize(mtmd_context* ctx, const std::string& prompt, std::vector<const mtmd_bitmap*> bitmaps,
                            bool add_special) {
  mtmd::input_chunks_ptr chunks(mtmd_input_chunks_init());
  mtmd_input_text text{prompt.c_str(), prompt.size(), add_special, /*parse_special=*/true};
  const int32_t rc = mtmd_tokenize(ctx, chunks.get(), &text, bitmaps.data(), bitmaps.size());
  if (rc != 0) {
    throw Error("mtmd_tokenize failed (" + std::to_string(rc) + "): " + std::to_string(bitmaps.size()) +
                " media given; the prompt needs one " + mtmd_default_marker() + " per media");
  }
  return chunks;
}

const char* chunk_type_name(mtmd_input_chunk_type t) {
  switch (t) {
    case MTMD_INPUT_CHUNK_TYPE_TEXT: return "text";
    case MTMD_INPUT_CHUNK_TYPE_IMAGE: return "image";
    case MTMD_INPUT_CHUNK_TYPE_AUDIO: return "audio";
    default: return "unknown";
  }
}

json chunk_json(mtmd_context* ctx, const mtmd_input_chunk* chunk, llama_pos pos) {
  const auto type = mtmd_input_chunk_get_type(chunk);
  json j = {{"type", chunk_type_name(type)}, {"pos", pos}, {"n_pos", mtmd_input_chunk_get_n_pos(chunk)}};
  if (type == MTMD_INPUT_CHUNK_TYPE_TEXT) {
    size_t n = 0;
    const llama_token* tokens = mtmd_input_chunk_get_tokens_text(chunk, &n);
    j["tokens"] = std::vector<llama_token>(tokens, tokens + n);
  } else {
    j["n_tokens"] = mtmd_input_chunk_get_n_tokens(chunk);
    j["non_causal"] = mtmd_decode_use_non_causal(ctx, chunk);
  }
  return j;
}

// --media KIND:FILE[:W:H]: the file name is what lies between the kind and, for an image, the two sizes.
struct Media {
  std::string kind;
  mtmd::bitmap bitmap;
};

Media parse_media(const std::string& m) {
  const size_t colon = m.find(':');
  const std::string kind = colon == std::string::npos ? "" : m.substr(0, colon);
  if (kind == "image") {
    const size_t c2 = m.rfind(':');
    const size_t c1 = c2 <= colon + 1 ? std::string::npos : m.rfind(':', c2 - 1);
    if (c1 == std::string::npos || c1 <= colon) throw Error("--media: expected image:FILE:W:H, found '" + m + "'");
    return {kind, image_bitmap(m.substr(colon + 1, c1 - colon - 1),
                               Args::parse_int("image width", m.substr(c1 + 1, c2 - c1 - 1), 1, 1 << 16),
                               Args::parse_int("image height", m.substr(c2 + 1), 1, 1 << 16))};
  }
  if (kind == "audio") return {kind, audio_bitmap(m.substr(colon + 1))};
  throw Error("--media: expected image:FILE:W:H or audio:FILE, found '" + m + "'");
}

// embed-image / embed-audio: each media alone through mtmd's preprocessing and encoder, in the order given
// (--rgb/--pcm first, then every --media); the embeddings go to --out one after another.
json embed(const Args& a, int threads) {
  const bool image = a.command == "embed-image";
  const std::string out = a.str("out");
  std::vector<Media> media;
  if (image && a.has("rgb")) {
    if (!a.has("width") || !a.has("height")) throw Error("embed-image --rgb needs --width and --height");
    media.push_back({"image", image_bitmap(a.str("rgb"), a.integer("width", 0, 1, 1 << 16),
                                           a.integer("height", 0, 1, 1 << 16))});
  }
  if (!image && a.has("pcm")) media.push_back({"audio", audio_bitmap(a.str("pcm"))});
  for (const std::string& m : a.media) {
    media.push_back(parse_media(m));
    if (media.back().kind != (image ? "image" : "audio")) {
      throw Error(a.command + " takes " + (image ? "images" : "audio") + " only, found --media " + m);
    }
  }
  if (media.empty()) throw Error(image ? "embed-image needs --rgb or --media" : "embed-audio needs --pcm or --media");

  // The whole model (mapped, not read): mtmd checks the projector's width against it.
  ModelPtr model = load_model(a.str("model"), /*vocab_only=*/false);
  EncoderInput input;
  input.want_values = a.has("pixels-out");
  mtmd::context_ptr ctx = load_mtmd(a, model.get(), threads, image ? &input : nullptr);
  if (image ? !mtmd_support_vision(ctx.get()) : !mtmd_support_audio(ctx.get())) {
    throw Error(a.str("mmproj") + " has no " + (image ? "vision" : "audio") + " projector");
  }
  const size_t n_embd = static_cast<size_t>(llama_model_n_embd_inp(model.get()));

  std::vector<float> all, pixels;
  json items = json::array();
  size_t total = 0;
  for (const Media& m : media) {
    mtmd::input_chunks_ptr chunk_list = tokenize(ctx.get(), mtmd_default_marker(), {m.bitmap.ptr.get()}, false);
    mtmd::input_chunks chunks(chunk_list.release());
    json parts = json::array();
    size_t n_tokens = 0;
    input = EncoderInput{0, 0, 0, input.want_values, {}};
    for (size_t i = 0; i < chunks.size(); ++i) {
      const mtmd_input_chunk* chunk = chunks[i];
      if (mtmd_input_chunk_get_type(chunk) == MTMD_INPUT_CHUNK_TYPE_TEXT) continue;
      if (mtmd_encode_chunk(ctx.get(), chunk) != 0) throw Error("mtmd_encode_chunk failed");
      const size_t n = mtmd_input_chunk_get_n_tokens(chunk);
      const float* e = mtmd_get_output_embd(ctx.get());
      all.insert(all.end(), e, e + n * n_embd);
      n_tokens += n;
      parts.push_back(n);
    }
    if (n_tokens == 0) throw Error("mtmd produced no media chunk");
    total += n_tokens;
    json j = {{"n_tokens", n_tokens}, {"chunks", parts}};
    if (image) {
      // The picture the encoder saw, in pixels, and its token grid (square patches: n_tokens = nx * ny).
      if (input.width <= 0 || input.height <= 0) throw Error("the encoder's input tensor was not seen");
      const auto patch = static_cast<int64_t>(
          std::lround(std::sqrt(double(input.width * input.height) / double(n_tokens))));
      j["width"] = input.width;
      j["height"] = input.height;
      j["nx"] = patch > 0 ? input.width / patch : 0;
      j["ny"] = patch > 0 ? input.height / patch : 0;
      j["patch"] = patch;
      if (input.want_values) {
        if (input.values.empty()) throw Error("the encoder's input tensor is not f32");
        pixels.insert(pixels.end(), input.values.begin(), input.values.end());
      }
    } else {
      j["n_samples"] = mtmd_bitmap_get_n_bytes(m.bitmap.ptr.get()) / sizeof(float);
    }
    items.push_back(j);
  }
  write_f32(out, all.data(), all.size());
  if (input.want_values) write_f32(a.str("pixels-out"), pixels.data(), pixels.size());
  json answer = items.size() == 1 ? items[0] : json::object();
  answer["n_tokens"] = total;
  answer["n_embd"] = n_embd;
  answer["items"] = items;
  return answer;
}

// logits: the prompt with its media, tokenized by mtmd and evaluated chunk by chunk as llama-mtmd-cli and
// llama-server do (mtmd_helper_eval_chunk_single), in a fresh CPU context.
json logits(const Args& a, int threads) {
  const std::string out = a.str("out");
  const std::string prompt = a.str("prompt");
  const long n_batch = a.integer("n-batch", 2048, 1, 1 << 20);
  std::vector<Media> media;
  for (const std::string& m : a.media) media.push_back(parse_media(m));
  ModelPtr model = load_model(a.str("model"), /*vocab_only=*/false);
  mtmd::context_ptr ctx = load_mtmd(a, model.get(), threads);
  std::vector<const mtmd_bitmap*> ptrs;
  for (const Media& m : media) ptrs.push_back(m.bitmap.ptr.get());
  mtmd::input_chunks_ptr chunk_list = tokenize(ctx.get(), prompt, ptrs, !a.no_bos);
  mtmd::input_chunks chunks(chunk_list.release());
  if (chunks.size() == 0) throw Error("the prompt gave no tokens");
  if (mtmd_input_chunk_get_type(chunks[chunks.size() - 1]) != MTMD_INPUT_CHUNK_TYPE_TEXT) {
    throw Error("the prompt must end with text (llama.cpp gives no logits after a media chunk)");
  }

  const llama_pos n_pos = mtmd_helper_get_n_pos(chunks.ptr.get());
  const long n_ctx = a.integer("n-ctx", (n_pos + 255) / 256 * 256, 1, 1 << 24);
  if (n_ctx < n_pos) throw Error("--n-ctx " + std::to_string(n_ctx) + " is below the prompt's " + std::to_string(n_pos) + " positions");
  for (size_t i = 0; i < chunks.size(); ++i) {
    const mtmd_input_chunk* c = chunks[i];
    const size_t n = mtmd_input_chunk_get_n_tokens(c);
    if (mtmd_input_chunk_get_type(c) != MTMD_INPUT_CHUNK_TYPE_TEXT && n > static_cast<size_t>(n_batch)) {
      throw Error("a media chunk has " + std::to_string(n) + " tokens, more than --n-batch " +
                  std::to_string(n_batch) + " (llama.cpp needs it in one micro-batch)");
    }
  }
  llama_context_params cp = llama_context_default_params();
  cp.n_ctx = static_cast<uint32_t>(n_ctx);
  cp.n_batch = cp.n_ubatch = static_cast<uint32_t>(n_batch);
  cp.n_seq_max = 1;
  cp.n_threads = cp.n_threads_batch = threads;
  cp.flash_attn_type = LLAMA_FLASH_ATTN_TYPE_AUTO;
  cp.no_perf = true;
  ContextPtr lctx(llama_init_from_model(model.get(), cp));
  if (!lctx) throw Error("llama.cpp cannot create a context of " + std::to_string(n_ctx) + " positions");

  const size_t n_embd = static_cast<size_t>(llama_model_n_embd_inp(model.get()));
  std::vector<float> embd;
  json layout = json::array();
  llama_pos n_past = 0;
  for (size_t i = 0; i < chunks.size(); ++i) {
    const mtmd_input_chunk* chunk = chunks[i];
    layout.push_back(chunk_json(ctx.get(), chunk, n_past));
    llama_pos next = n_past;
    const int32_t rc = mtmd_helper_eval_chunk_single(ctx.get(), lctx.get(), chunk, n_past, 0,
                                                     static_cast<int32_t>(n_batch), i + 1 == chunks.size(), &next);
    if (rc != 0) throw Error("evaluating chunk " + std::to_string(i) + " failed (" + std::to_string(rc) + ")");
    if (mtmd_input_chunk_get_type(chunk) != MTMD_INPUT_CHUNK_TYPE_TEXT) {
      // The helper encoded the chunk just now; its embeddings are still in mtmd's output buffer.
      const float* e = mtmd_get_output_embd(ctx.get());
      embd.insert(embd.end(), e, e + mtmd_input_chunk_get_n_tokens(chunk) * n_embd);
    }
    n_past = next;
  }
  const size_t n_vocab = static_cast<size_t>(llama_vocab_n_tokens(llama_model_get_vocab(model.get())));
  const float* row = llama_get_logits_ith(lctx.get(), -1);
  if (row == nullptr) throw Error("llama.cpp returned no logits");
  write_f32(out, row, n_vocab);
  if (a.has("embd-out")) write_f32(a.str("embd-out"), embd.data(), embd.size());
  size_t best = 0;
  bool finite = true;
  for (size_t i = 0; i < n_vocab; ++i) {
    finite = finite && std::isfinite(row[i]);
    if (row[i] > row[best]) best = i;
  }
  return {{"n_vocab", n_vocab}, {"n_embd", n_embd}, {"n_pos", n_past}, {"n_ctx", n_ctx}, {"n_batch", n_batch},
          {"threads", threads}, {"chunks", layout}, {"argmax", best}, {"finite", finite}};
}

}  // namespace

int main(int argc, char** argv) {
  try {
    const Args a = parse_args(argc, argv);
    const int threads = static_cast<int>(a.integer("threads", 2, 1, 1024));
    llama_log_set(log_callback, nullptr);
    mtmd_helper_log_set(log_callback, nullptr);
    const std::string backends = a.has("backend-dir") ? a.str("backend-dir") : LOCUS_LLAMA_BINS;
    ggml_backend_load_all_from_path(backends.c_str());
    if (ggml_backend_dev_by_type(GGML_BACKEND_DEVICE_TYPE_CPU) == nullptr) {
      throw Error("no CPU backend (libggml-cpu-*.so) found in '" + backends + "'");
    }
    llama_backend_init();
    const json answer = a.command == "logits" ? logits(a, threads) : embed(a, threads);
    llama_backend_free();
    std::printf("%s\n", answer.dump().c_str());
    return 0;
  } catch (const std::exception& e) {
    std::string msg = one_line(e.what());
    const std::string llama = one_line(g_errors);
    if (!llama.empty() && !g_verbose) msg += " [llama.cpp: " + llama + "]";
    std::fprintf(stderr, "locus-mtmd-oracle: %s\n", msg.c_str());
    return 1;
  }
}
