#include "model/gemma4_model.h"

#include <algorithm>
#include <cmath>
#include <stdexcept>
#include <string>

#include "model/gemma4_gguf.h"
#include "model/layer_ops.h"
#include "tensor/quant_math.h"

namespace locus::model {

namespace {

using gguf::GgufError;

// What the hyperparameters must satisfy before buffers are sized from them (a GGUF that breaks these is
// refused with what was expected, not computed wrongly).
void check_supported(const gguf::GgufFile& file, const Gemma4Config& c) {
  if (c.n_layer == 0 || c.n_embd == 0 || c.n_head == 0) {
    throw GgufError(file.path() + ": gemma4 with no layers, width or heads");
  }
  for (uint32_t l = 0; l < c.n_layer; ++l) {
    const uint32_t kv = c.n_head_kv(l);
    if (kv == 0 || c.n_head % kv != 0) {
      throw GgufError(file.path() + ": layer " + std::to_string(l) + " has " + std::to_string(kv) +
                      " KV heads, expected a divisor of the " + std::to_string(c.n_head) + " query heads");
    }
    const uint32_t rot = c.n_rot(l);
    if (rot == 0 || rot % 2 != 0 || rot > c.head_dim(l)) {
      throw GgufError(file.path() + ": layer " + std::to_string(l) + " rotates " + std::to_string(rot) +
                      " dimensions of a head of " + std::to_string(c.head_dim(l)) + ", expected an even count up to it");
    }
  }
  // The full layers' RoPE angles read rope_freqs ([head_dim_full / 2]) for every rotated pair.
  if (c.n_rot_full > c.head_dim_full || c.n_rot_swa > c.head_dim_swa) {
    throw GgufError(file.path() + ": rope.dimension_count " + std::to_string(c.n_rot_full) + " / _swa " +
                    std::to_string(c.n_rot_swa) + " exceed the head sizes " + std::to_string(c.head_dim_full) +
                    " / " + std::to_string(c.head_dim_swa));
  }
  if (c.shared_kv_layers > 0) {
    const uint32_t first_shared = c.n_layer - std::min(c.shared_kv_layers, c.n_layer);
    if (first_shared < 2) {
      throw GgufError(file.path() + ": " + std::to_string(c.shared_kv_layers) + " KV-shared layers of " +
                      std::to_string(c.n_layer) + " leave fewer than 2 layers with their own KV");
    }
    for (uint32_t l = first_shared; l < c.n_layer; ++l) {
      const uint32_t src = c.kv_layer(l);
      if (c.is_swa[src] != c.is_swa[l] || c.head_dim(src) != c.head_dim(l) || c.n_head_kv(src) != c.n_head_kv(l)) {
        throw GgufError(file.path() + ": KV-shared layer " + std::to_string(l) + " reads layer " + std::to_string(src) +
                        ", which is not of the same kind (sliding/full, head size, KV heads)");
      }
    }
  }
  if (c.n_expert > 0 && (c.n_expert_used == 0 || c.n_expert_used > c.n_expert || c.n_ff_expert == 0)) {
    throw GgufError(file.path() + ": mixture of experts with " + std::to_string(c.n_expert_used) + " of " +
                    std::to_string(c.n_expert) + " experts used and expert width " + std::to_string(c.n_ff_expert));
  }
  const std::string scaling = "gemma4.rope.scaling.type";
  if (file.has(scaling)) {
    const std::string type = file.get_string(scaling);
    if (type != "none") throw GgufError(file.path() + ": RoPE scaling " + type + " is not supported");
  }
}

}  // namespace

std::unique_ptr<Gemma4Model> Gemma4Model::load(const std::string& path, const Gemma4ModelOptions& options) {
  return load(gguf::GgufFile::open(path), options);
}

std::unique_ptr<Gemma4Model> Gemma4Model::load(gguf::GgufFile file, const Gemma4ModelOptions& options) {
  Gemma4Config config = read_gemma4_config(file);
  if (config.n_rot_full == 0) config.n_rot_full = config.head_dim_full;
  if (config.n_rot_swa == 0) config.n_rot_swa = config.head_dim_swa;
  check_supported(file, config);
  if (!options.mmap) file.load_resident(options.load_progress);
  return std::unique_ptr<Gemma4Model>(new Gemma4Model(std::move(file), std::move(config), options));
}

Gemma4Model::Gemma4Model(gguf::GgufFile file, Gemma4Config config, const Gemma4ModelOptions& o)
    : file_(std::move(file)),
      config_(std::move(config)),
      weights_(Gemma4Weights::bind(file_, config_)),
      n_ctx_(o.n_ctx == 0 ? config_.context_length : o.n_ctx),
      n_batch_(o.n_batch),
      n_step_(std::max(o.n_batch, o.max_block)),
      attention_precision_(o.attention) {
  sequences_.push_back(std::make_unique<KvCache>(config_, n_ctx_, n_step_));
  if (o.pool != nullptr) {
    pool_ = o.pool;
  } else {
    own_pool_ = std::make_unique<tensor::ThreadPool>(o.n_threads);
    pool_ = own_pool_.get();
  }
  const Gemma4Config& c = config_;
  uint32_t max_q = 0, max_kv = 0, max_ff = 0, max_hd = 0, max_group = 0;
  for (uint32_t l = 0; l < c.n_layer; ++l) {
    max_q = std::max(max_q, c.n_head * c.head_dim(l));
    max_kv = std::max(max_kv, c.n_head_kv(l) * c.head_dim(l));
    max_ff = std::max(max_ff, c.n_ff[l]);
    max_hd = std::max(max_hd, c.head_dim(l));
    max_group = std::max(max_group, c.n_head / c.n_head_kv(l));
  }
  const size_t B = n_step_;
  x_.resize(B * c.n_embd);
  xn_.resize(B * c.n_embd);
  q_.resize(B * max_q);
  k_.resize(B * max_kv);
  v_.resize(B * max_kv);
  att_.resize(B * max_q);
  proj_.resize(B * c.n_embd);
  gate_.resize(B * max_ff);
  up_.resize(B * max_ff);
  rope_swa_.resize(B * c.n_rot_swa);
  rope_full_.resize(B * c.n_rot_full);
  slots_.resize(B);
  batch_tokens_.resize(B);
  embd_sum_.resize(c.n_embd);
  attention_rows_.resize(B);
  attention_scratch_.reserve(pool_->size(), max_hd, max_group);
  if (c.n_embd_per_layer > 0) {
    ple_.resize(B * c.n_layer * c.n_embd_per_layer);
    ple_gate_.resize(B * c.n_embd_per_layer);
  }
  if (c.n_expert > 0) {
    const size_t K = c.n_expert_used;
    router_.resize(B * c.n_expert);
    selected_.resize(B * K);
    expert_weight_.resize(B * K);
    expert_rows_.resize(B * K);
    expert_in_.resize(B * c.n_embd);
    expert_gather_.resize(B * c.n_embd);
    expert_gate_up_.resize(B * 2 * c.n_ff_expert);
    expert_act_.resize(B * c.n_ff_expert);
    expert_out_.resize(B * c.n_embd);
    expert_results_.resize(B * K * c.n_embd);
  }
}

Gemma4Model::~Gemma4Model() = default;

template <typename F>
void Gemma4Model::per_token(int64_t n, F&& fn) {
  if (n == 1) {
    fn(0);
    return;
  }
  pool_->parallel_for(n, [&](int64_t t, int) { fn(t); });
}

KvCache& Gemma4Model::cache(SequenceId seq) {
  return const_cast<KvCache&>(static_cast<const Gemma4Model*>(this)->cache(seq));
}

const KvCache& Gemma4Model::cache(SequenceId seq) const {
  if (!has_sequence(seq)) throw std::invalid_argument("no sequence " + std::to_string(seq));
  return *sequences_[static_cast<size_t>(seq)];
}

bool Gemma4Model::has_sequence(SequenceId seq) const {
  return seq >= 0 && static_cast<size_t>(seq) < sequences_.size() && sequences_[static_cast<size_t>(seq)] != nullptr;
}

size_t Gemma4Model::n_sequences() const {
  return static_cast<size_t>(std::count_if(sequences_.begin(), sequences_.end(), [](const auto& p) { return p != nullptr; }));
}

SequenceId Gemma4Model::add_sequence(uint32_t n_ctx) {
  auto kv = std::make_unique<KvCache>(config_, n_ctx == 0 ? n_ctx_ : n_ctx, n_step_);
  const auto free = std::find(sequences_.begin(), sequences_.end(), nullptr);
  if (free != sequences_.end()) {
    *free = std::move(kv);
    return static_cast<SequenceId>(free - sequences_.begin());
  }
  sequences_.push_back(std::move(kv));
  return static_cast<SequenceId>(sequences_.size() - 1);
}

void Gemma4Model::remove_sequence(SequenceId seq) {
  if (!has_sequence(seq)) throw std::invalid_argument("no sequence " + std::to_string(seq));
  if (seq == kDefaultSequence) throw std::invalid_argument("sequence 0 cannot be removed (reset it instead)");
  sequences_[static_cast<size_t>(seq)].reset();
  // Trailing free ids are dropped so that the table does not only grow.
  while (sequences_.back() == nullptr) sequences_.pop_back();
}

uint64_t Gemma4Model::sequence_kv_bytes(uint32_t n_ctx) const {
  return KvCache::bytes_for(config_, n_ctx == 0 ? n_ctx_ : n_ctx, n_step_);
}

uint64_t Gemma4Model::kv_cache_bytes() const {
  uint64_t b = 0;
  for (const auto& kv : sequences_) b += kv ? kv->bytes() : 0;
  return b;
}

void Gemma4Model::forward(SequenceId seq, std::span<const int32_t> tokens, int32_t pos, std::span<float> logits_out,
                          bool all_logits) {
  KvCache& kv = cache(seq);
  const int64_t n = static_cast<int64_t>(tokens.size());
  const uint64_t V = config_.n_vocab;
  const uint64_t rows = all_logits ? static_cast<uint64_t>(n) : (n > 0 ? 1 : 0);
  if (logits_out.size() < rows * V) {
    throw std::invalid_argument("forward: logits_out holds " + std::to_string(logits_out.size()) + " floats, expected " +
                                std::to_string(rows * V));
  }
  if (pos < 0 || pos > kv.n_past()) {
    throw std::invalid_argument("forward: position " + std::to_string(pos) + " outside [0, " +
                                std::to_string(kv.n_past()) + "]");
  }
  if (static_cast<uint64_t>(pos) + static_cast<uint64_t>(n) > kv.n_ctx()) {
    throw std::invalid_argument("forward: " + std::to_string(n) + " tokens at position " + std::to_string(pos) +
                                " exceed the context of " + std::to_string(kv.n_ctx()));
  }
  for (int32_t t : tokens) {
    if (t < 0 || static_cast<uint32_t>(t) >= config_.n_vocab) {
      throw std::invalid_argument("forward: token " + std::to_string(t) + " outside [0, " +
                                  std::to_string(config_.n_vocab) + ")");
    }
  }
  if (pos < kv.n_past()) kv.truncate(pos);  // throws when the sliding layers cannot roll back
  one_sequence_steps(kv, n, pos, n_batch_, logits_out, all_logits,
                     [&](int64_t s, int64_t m, int64_t first_row, float* out) {
                       step(tokens.data() + s, m, true, first_row, out);
                     });
}

template <typename F>
void Gemma4Model::one_sequence_steps(KvCache& kv, int64_t n, int32_t pos, int64_t step_size, std::span<float> logits_out,
                                     bool all_logits, F&& run_step) {
  const uint64_t V = config_.n_vocab;
  for (int64_t s = 0; s < n; s += step_size) {
    const int64_t m = std::min(step_size, n - s);
    float* out = nullptr;
    int64_t first_row = m;  // none
    if (all_logits) {
      first_row = 0;
      out = logits_out.data() + static_cast<uint64_t>(s) * V;
    } else if (s + m == n) {
      first_row = m - 1;
      out = logits_out.data();
    }
    const int32_t p0 = pos + static_cast<int32_t>(s);
    for (int64_t t = 0; t < m; ++t) slots_[static_cast<size_t>(t)] = {&kv, p0 + static_cast<int32_t>(t)};
    run_step(s, m, first_row, out);
  }
}

void Gemma4Model::forward_embeddings(SequenceId seq, std::span<const float> embd, int32_t pos,
                                     std::span<float> logits_out, bool all_logits, bool bidirectional) {
  KvCache& kv = cache(seq);
  const Gemma4Config& c = config_;
  const uint64_t E = c.n_embd, V = c.n_vocab;
  if (embd.empty() || embd.size() % E != 0) {
    throw std::invalid_argument("forward_embeddings: " + std::to_string(embd.size()) +
                                " floats, expected a positive multiple of n_embd " + std::to_string(E));
  }
  if (c.n_embd_per_layer > 0) {
    throw std::invalid_argument("forward_embeddings: this model has per-layer inputs (E2B/E4B), which media "
                                "embeddings cannot feed");
  }
  const int64_t n = static_cast<int64_t>(embd.size() / E);
  if (bidirectional && n > static_cast<int64_t>(n_step_)) {
    throw std::invalid_argument("forward_embeddings: a bidirectional block of " + std::to_string(n) +
                                " rows exceeds max_block " + std::to_string(n_step_));
  }
  const uint64_t rows = all_logits ? static_cast<uint64_t>(n) : 1;
  if (logits_out.size() < rows * V) {
    throw std::invalid_argument("forward_embeddings: logits_out holds " + std::to_string(logits_out.size()) +
                                " floats, expected " + std::to_string(rows * V));
  }
  if (pos < 0 || pos > kv.n_past()) {
    throw std::invalid_argument("forward_embeddings: position " + std::to_string(pos) + " outside [0, " +
                                std::to_string(kv.n_past()) + "]");
  }
  if (static_cast<uint64_t>(pos) + static_cast<uint64_t>(n) > kv.n_ctx()) {
    throw std::invalid_argument("forward_embeddings: " + std::to_string(n) + " rows at position " +
                                std::to_string(pos) + " exceed the context of " + std::to_string(kv.n_ctx()));
  }
  if (pos < kv.n_past()) kv.truncate(pos);
  // An image is one step; audio goes in steps of n_batch.
  const int64_t step_size = bidirectional ? n : static_cast<int64_t>(n_batch_);
  one_sequence_steps(kv, n, pos, step_size, logits_out, all_logits,
                     [&](int64_t s, int64_t m, int64_t first_row, float* out) {
                       step(nullptr, m, true, first_row, out, embd.data() + static_cast<uint64_t>(s) * E, bidirectional);
                     });
}

void Gemma4Model::forward_batch(std::span<const BatchItem> items, std::span<float> logits_out, size_t first_logits_row) {
  const uint64_t V = config_.n_vocab;
  const size_t n = items.size();
  if (first_logits_row > n) {
    throw std::invalid_argument("forward_batch: first_logits_row " + std::to_string(first_logits_row) + " beyond the " +
                                std::to_string(n) + " items");
  }
  const size_t n_rows = n - first_logits_row;
  if (logits_out.size() < n_rows * V) {
    throw std::invalid_argument("forward_batch: logits_out holds " + std::to_string(logits_out.size()) +
                                " floats, expected " + std::to_string(n_rows * V) + " (" + std::to_string(n_rows) +
                                " rows)");
  }
  // Everything is checked before any cache changes (the message is only built on failure: no allocation
  // per token).
  auto refuse = [&](size_t i, const std::string& what) {
    throw std::invalid_argument("forward_batch: item " + std::to_string(i) + " (sequence " +
                                std::to_string(items[i].sequence) + "): " + what);
  };
  for (size_t i = 0; i < n; ++i) {
    const BatchItem& it = items[i];
    if (!has_sequence(it.sequence)) refuse(i, "no such sequence");
    const KvCache& kv = *sequences_[static_cast<size_t>(it.sequence)];
    // The sequence's position so far: its n_past, or one past its latest item before this one.
    int32_t expected = kv.n_past();
    for (size_t j = i; j-- > 0;) {
      if (items[j].sequence == it.sequence) {
        expected = items[j].pos + 1;
        break;
      }
    }
    if (it.pos != expected) {
      refuse(i, "position " + std::to_string(it.pos) + ", expected " + std::to_string(expected) +
                    (expected == kv.n_past() ? " (its n_past)" : " (the previous item's + 1)"));
    }
    if (static_cast<uint32_t>(it.pos) >= kv.n_ctx()) {
      refuse(i, "context of " + std::to_string(kv.n_ctx()) + " positions is full");
    }
    if (it.token < 0 || static_cast<uint32_t>(it.token) >= config_.n_vocab) {
      refuse(i, "token " + std::to_string(it.token) + " outside [0, " + std::to_string(config_.n_vocab) + ")");
    }
  }
  // Steps of n_batch items (the activation buffers' size); the items' token ids are gathered for step(). A
  // sequence's items in one step are written to its cache before any is attended, each query looking back from
  // its own position only (the sliding layers' rings hold window + n_batch cells for this).
  const size_t B = n_batch_;
  for (size_t s = 0; s < n; s += B) {
    const size_t m = std::min(B, n - s);
    for (size_t t = 0; t < m; ++t) {
      const BatchItem& it = items[s + t];
      slots_[t] = {sequences_[static_cast<size_t>(it.sequence)].get(), it.pos};
      batch_tokens_[t] = it.token;
    }
    // Rows of this step that give logits, and where they go.
    const size_t first = std::clamp(first_logits_row, s, s + m) - s;
    float* out = first < m ? logits_out.data() + (s + first - first_logits_row) * V : nullptr;
    step(batch_tokens_.data(), static_cast<int64_t>(m), false, static_cast<int64_t>(first), out);
  }
}

void Gemma4Model::embed(SequenceId seq, std::span<const int32_t> tokens, std::span<float> out,
                        const EmbeddingOptions& options) {
  KvCache& kv = cache(seq);
  const Gemma4Config& c = config_;
  const uint32_t E = c.n_embd;
  const int64_t n = static_cast<int64_t>(tokens.size());
  if (n == 0) throw std::invalid_argument("embed: no tokens (an embedding needs at least one)");
  if (out.size() < E) {
    throw std::invalid_argument("embed: out holds " + std::to_string(out.size()) + " floats, expected n_embd " +
                                std::to_string(E));
  }
  if (static_cast<uint64_t>(n) > kv.n_ctx()) {
    throw std::invalid_argument("embed: " + std::to_string(n) + " tokens exceed the context of " +
                                std::to_string(kv.n_ctx()) + " positions of sequence " + std::to_string(seq));
  }
  for (int32_t t : tokens) {
    if (t < 0 || static_cast<uint32_t>(t) >= c.n_vocab) {
      throw std::invalid_argument("embed: token " + std::to_string(t) + " outside [0, " + std::to_string(c.n_vocab) + ")");
    }
  }

  // The sequence is scratch space here: empty before (the text is embedded on its own, from position 0) and
  // after, also when a step throws, so that a later forward() never sees a half-written embedding pass.
  struct ClearOnExit {
    KvCache& kv;
    ~ClearOnExit() { kv.clear(); }
  } clear_after{kv};
  kv.clear();

  // Pooled in double over all steps, so that the sum does not depend on how n_batch cuts the tokens (llama.cpp
  // sums in f32 within its one batch; the difference is far below the hidden states' own rounding).
  const bool last_only = options.pooling == EmbeddingPooling::kLast;
  std::fill(embd_sum_.begin(), embd_sum_.end(), 0.0);
  const int64_t B = n_batch_;
  for (int64_t s = 0; s < n; s += B) {
    const int64_t m = std::min(B, n - s);
    for (int64_t t = 0; t < m; ++t) slots_[static_cast<size_t>(t)] = {&kv, static_cast<int32_t>(s + t)};
    step(tokens.data() + s, m, true, m, nullptr);  // no logits rows: the LM head is not run
    // x_ now holds the step's final residual stream; the embedding is its output_norm, as step() norms the
    // rows it sends to the LM head.
    const int64_t first = last_only ? (s + m == n ? m - 1 : m) : 0;
    if (first == m) continue;
    per_token(m - first, [&](int64_t r) {
      rms_norm(x_.data() + (first + r) * E, weights_.output_norm.data(), xn_.data() + r * E, E, c.rms_eps);
    });
    for (int64_t r = 0; r < m - first; ++r) {
      const float* y = xn_.data() + r * E;
      for (uint32_t i = 0; i < E; ++i) embd_sum_[i] += y[i];
    }
  }
  const double count = last_only ? 1.0 : static_cast<double>(n);
  for (uint32_t i = 0; i < E; ++i) out[i] = static_cast<float>(embd_sum_[i] / count);
  if (options.normalize) {
    // Euclidean norm in double, then one f32 factor, as llama.cpp's common code normalizes; a zero vector
    // stays zero.
    double ss = 0;
    for (uint32_t i = 0; i < E; ++i) ss += static_cast<double>(out[i]) * out[i];
    const float inv = ss > 0 ? static_cast<float>(1.0 / std::sqrt(ss)) : 0.0f;
    for (uint32_t i = 0; i < E; ++i) out[i] *= inv;
  }
}

void Gemma4Model::step(const int32_t* tokens, int64_t n, bool one_sequence, int64_t first_row, float* logits,
                       const float* embd, bool bidirectional) {
  const Gemma4Config& c = config_;
  const uint32_t E = c.n_embd;

  // Token embeddings, scaled by sqrt(n_embd) as a float; media embeddings as they are.
  const float embd_scale = std::sqrt(static_cast<float>(E));
  per_token(n, [&](int64_t t) {
    float* x = x_.data() + t * E;
    if (embd != nullptr) {
      std::copy(embd + t * E, embd + (t + 1) * E, x);
    } else {
      tensor::get_row(weights_.token_embd, tokens[t], x);
      for (uint32_t i = 0; i < E; ++i) x[i] *= embd_scale;
    }
    const int32_t p = slots_[static_cast<size_t>(t)].pos;
    rope_angles(p, static_cast<int>(c.n_rot_swa), c.rope_base_swa, nullptr, rope_swa_.data() + t * c.n_rot_swa);
    rope_angles(p, static_cast<int>(c.n_rot_full), c.rope_base_full, weights_.rope_freqs.data(),
                rope_full_.data() + t * c.n_rot_full);
  });

  if (c.n_embd_per_layer > 0) per_layer_inputs(tokens, n);

  for (uint32_t l = 0; l < c.n_layer; ++l) {
    attention_block(l, n, one_sequence, bidirectional);
    feed_forward_block(l, n);
  }
  if (one_sequence) {
    slots_[0].cache->advance(slots_[0].pos + static_cast<int32_t>(n));
  } else {
    for (int64_t t = 0; t < n; ++t) slots_[static_cast<size_t>(t)].cache->advance(slots_[static_cast<size_t>(t)].pos + 1);
  }

  // Output rows: final norm, tied (or separate) LM head, softcap.
  const int64_t n_rows = n - first_row;
  if (n_rows <= 0 || logits == nullptr) return;
  per_token(n_rows, [&](int64_t r) {
    rms_norm(x_.data() + (first_row + r) * E, weights_.output_norm.data(), xn_.data() + r * E, E, c.rms_eps);
  });
  tensor::matmul(weights_.output, xn_.data(), n_rows, logits, *pool_, matmul_scratch_);
  if (c.final_logit_softcap > 0.0f) {
    const uint64_t V = c.n_vocab;
    const int64_t chunk = 16384;
    const int64_t total = static_cast<int64_t>(n_rows * V);
    pool_->parallel_for((total + chunk - 1) / chunk, [&](int64_t i, int) {
      const int64_t a = i * chunk;
      softcap(logits + a, std::min(chunk, total - a), c.final_logit_softcap);
    });
  }
}

void Gemma4Model::attention_block(uint32_t l, int64_t n, bool one_sequence, bool bidirectional) {
  const Gemma4Config& c = config_;
  const Gemma4LayerWeights& w = weights_.layers[l];
  const uint32_t E = c.n_embd, hd = c.head_dim(l), n_kv = c.n_head_kv(l), n_rot = c.n_rot(l);
  const uint32_t q_dim = c.n_head * hd, kv_dim = n_kv * hd;
  const std::vector<float>& rope = c.is_swa[l] ? rope_swa_ : rope_full_;
  const float eps = c.rms_eps;

  per_token(n, [&](int64_t t) { rms_norm(x_.data() + t * E, w.attn_norm.data(), xn_.data() + t * E, E, eps); });
  tensor::matmul(w.attn_q, xn_.data(), n, q_.data(), *pool_, matmul_scratch_);
  // KV-shared layers (E2B/E4B) attend over an earlier layer's cache, which this step already filled.
  const bool own_kv = c.has_kv(l);
  if (own_kv) tensor::matmul(w.attn_k, xn_.data(), n, k_.data(), *pool_, matmul_scratch_);
  const bool v_from_k = w.attn_v.data == nullptr;
  if (own_kv && !v_from_k) tensor::matmul(w.attn_v, xn_.data(), n, v_.data(), *pool_, matmul_scratch_);

  per_token(n, [&](int64_t t) {
    const float* cs = rope.data() + t * n_rot;
    float* q = q_.data() + t * q_dim;
    for (uint32_t h = 0; h < c.n_head; ++h) {
      float* head = q + h * hd;
      rms_norm(head, w.attn_q_norm.data(), head, hd, eps);
      rope_neox(head, static_cast<int>(n_rot), cs);
    }
    if (!own_kv) return;
    float* k = k_.data() + t * kv_dim;
    float* v = v_.data() + t * kv_dim;
    // K=V layers: V is the raw K projection, taken before the K norm and RoPE.
    if (v_from_k) std::copy(k, k + kv_dim, v);
    const TokenSlot& slot = slots_[static_cast<size_t>(t)];
    KvLayer& kv = slot.cache->layer(l);
    uint16_t* k_cell = kv.k_row(slot.pos);
    uint16_t* v_cell = kv.v_row(slot.pos);
    for (uint32_t g = 0; g < n_kv; ++g) {
      float* kh = k + g * hd;
      float* vh = v + g * hd;
      rms_norm(kh, w.attn_k_norm.data(), kh, hd, eps);
      rope_neox(kh, static_cast<int>(n_rot), cs);
      rms_norm(vh, nullptr, vh, hd, eps);
    }
    for (uint32_t i = 0; i < kv_dim; ++i) {
      k_cell[i] = tensor::float_to_half(k[i]);
      v_cell[i] = tensor::float_to_half(v[i]);
    }
  });

  const uint32_t window = c.is_swa[l] ? c.sliding_window : 0;
  if (one_sequence) {
    AttentionBatch batch;
    batch.q = q_.data();
    batch.n_tokens = n;
    batch.pos0 = slots_[0].pos;
    batch.n_head = c.n_head;
    batch.window = window;
    batch.out = att_.data();
    // An image block sees itself whole on the sliding layers; the full layers stay causal (llama.cpp's
    // LLAMA_NON_CAUSAL_TYPE_SWA_ONLY for gemma4uv).
    if (bidirectional && c.is_swa[l]) batch.key_end = batch.pos0 + static_cast<int32_t>(n);
    const AttentionNumerics numerics = attention_precision_ == AttentionPrecision::kF32
                                           ? AttentionNumerics::kF32
                                           : llama_cpp_attention_numerics(n);
    attention(slots_[0].cache->layer(l), batch, numerics, *pool_, attention_scratch_);
  } else {
    // A run of several tokens of one sequence (a prompt chunk among other sequences' decode steps) is attended
    // as forward() attends a chunk: one batch, its numerics. Every other token is one query of its own sequence,
    // with the numerics of a one-token step, so a row comes out as decoding that sequence alone gives it.
    size_t n_rows = 0;
    for (int64_t t = 0; t < n;) {
      const TokenSlot& slot = slots_[static_cast<size_t>(t)];
      int64_t run = 1;
      while (t + run < n && slots_[static_cast<size_t>(t + run)].cache == slot.cache &&
             slots_[static_cast<size_t>(t + run)].pos == slot.pos + run) {
        ++run;
      }
      if (run > 1) {
        AttentionBatch batch;
        batch.q = q_.data() + t * q_dim;
        batch.n_tokens = run;
        batch.pos0 = slot.pos;
        batch.n_head = c.n_head;
        batch.window = window;
        batch.out = att_.data() + t * q_dim;
        const AttentionNumerics numerics = attention_precision_ == AttentionPrecision::kF32
                                               ? AttentionNumerics::kF32
                                               : llama_cpp_attention_numerics(run);
        attention(slot.cache->layer(l), batch, numerics, *pool_, attention_scratch_);
      } else {
        attention_rows_[n_rows++] = {&slot.cache->layer(l), q_.data() + t * q_dim, slot.pos, att_.data() + t * q_dim};
      }
      t += run;
    }
    const AttentionNumerics numerics = attention_precision_ == AttentionPrecision::kF32
                                           ? AttentionNumerics::kF32
                                           : llama_cpp_attention_numerics(1);
    if (n_rows > 0) {
      attention_rows({attention_rows_.data(), n_rows}, c.n_head, window, numerics, *pool_, attention_scratch_);
    }
  }

  tensor::matmul(w.attn_output, att_.data(), n, proj_.data(), *pool_, matmul_scratch_);
  per_token(n, [&](int64_t t) {
    float* a = proj_.data() + t * E;
    float* x = x_.data() + t * E;
    rms_norm(a, w.post_attention_norm.data(), a, E, eps);
    for (uint32_t i = 0; i < E; ++i) x[i] = a[i] + x[i];
  });
}

void Gemma4Model::feed_forward_block(uint32_t l, int64_t n) {
  const Gemma4Config& c = config_;
  const Gemma4LayerWeights& w = weights_.layers[l];
  const uint32_t E = c.n_embd, ff = c.n_ff[l];
  const float eps = c.rms_eps;

  per_token(n, [&](int64_t t) { rms_norm(x_.data() + t * E, w.ffn_norm.data(), xn_.data() + t * E, E, eps); });
  tensor::matmul(w.ffn_gate, xn_.data(), n, gate_.data(), *pool_, matmul_scratch_);
  tensor::matmul(w.ffn_up, xn_.data(), n, up_.data(), *pool_, matmul_scratch_);
  per_token(n, [&](int64_t t) { geglu(gate_.data() + t * ff, up_.data() + t * ff, gate_.data() + t * ff, ff); });
  tensor::matmul(w.ffn_down, gate_.data(), n, proj_.data(), *pool_, matmul_scratch_);
  // MoE layers: the dense MLP above is the shared expert; the routed experts run beside it (from the
  // residual stream x, before it is updated) and the two normed outputs are summed.
  if (c.n_expert > 0) mixture_of_experts(l, n);
  per_token(n, [&](int64_t t) {
    float* f = proj_.data() + t * E;
    float* x = x_.data() + t * E;
    rms_norm(f, w.post_ffw_norm.data(), f, E, eps);
    for (uint32_t i = 0; i < E; ++i) x[i] = f[i] + x[i];
  });
  if (c.n_embd_per_layer > 0) per_layer_embedding(l, n);
  if (w.has_output_scale) {
    per_token(n, [&](int64_t t) {
      float* x = x_.data() + t * E;
      for (uint32_t i = 0; i < E; ++i) x[i] *= w.output_scale;
    });
  }
}

void Gemma4Model::per_layer_inputs(const int32_t* tokens, int64_t n) {
  // gemma4.md 4.8: P = per_layer_token_embd[t] * sqrt(pl); Q = RMSNorm(proj(x) / sqrt(n_embd)) per layer;
  // per-layer input = (Q + P) / sqrt(2), for every layer at once ([n_layer][pl] per token).
  const Gemma4Config& c = config_;
  const uint32_t E = c.n_embd, pl = c.n_embd_per_layer, width = pl * c.n_layer;
  const float embd_scale = std::sqrt(static_cast<float>(pl));
  const float proj_scale = 1.0f / std::sqrt(static_cast<float>(E));
  const float input_scale = 1.0f / std::sqrt(2.0f);
  // The projection's output goes to ple_ and the token rows to a second buffer: gate_ has room for neither
  // in general, so the token rows are read one at a time.
  tensor::matmul(weights_.per_layer_model_proj, x_.data(), n, ple_.data(), *pool_, matmul_scratch_);
  per_token(n, [&](int64_t t) {
    float* q = ple_.data() + t * width;
    thread_local std::vector<float> row;
    row.resize(width);
    tensor::get_row(weights_.per_layer_token_embd, tokens[t], row.data());
    for (uint32_t i = 0; i < width; ++i) q[i] *= proj_scale;
    for (uint32_t l = 0; l < c.n_layer; ++l) rms_norm(q + l * pl, weights_.per_layer_proj_norm.data(), q + l * pl, pl, c.rms_eps);
    for (uint32_t i = 0; i < width; ++i) q[i] = (q[i] + row[i] * embd_scale) * input_scale;
  });
}

void Gemma4Model::per_layer_embedding(uint32_t l, int64_t n) {
  // x += RMSNorm(proj(gelu(inp_gate(x)) * per_layer_input[l]); post_norm)
  const Gemma4Config& c = config_;
  const Gemma4LayerWeights& w = weights_.layers[l];
  const uint32_t E = c.n_embd, pl = c.n_embd_per_layer, width = pl * c.n_layer;
  tensor::matmul(w.ple_inp_gate, x_.data(), n, ple_gate_.data(), *pool_, matmul_scratch_);
  per_token(n, [&](int64_t t) {
    float* g = ple_gate_.data() + t * pl;
    const float* in = ple_.data() + t * width + l * pl;
    for (uint32_t i = 0; i < pl; ++i) g[i] = gelu_like_ggml(g[i]) * in[i];
  });
  tensor::matmul(w.ple_proj, ple_gate_.data(), n, proj_.data(), *pool_, matmul_scratch_);
  per_token(n, [&](int64_t t) {
    float* p = proj_.data() + t * E;
    float* x = x_.data() + t * E;
    rms_norm(p, w.ple_post_norm.data(), p, E, c.rms_eps);
    for (uint32_t i = 0; i < E; ++i) x[i] = x[i] + p[i];
  });
}

void Gemma4Model::mixture_of_experts(uint32_t l, int64_t n) {
  const Gemma4Config& c = config_;
  const Gemma4LayerWeights& w = weights_.layers[l];
  const uint32_t E = c.n_embd, X = c.n_expert, K = c.n_expert_used, F = c.n_ff_expert;
  const float eps = c.rms_eps;

  // Router, as llama.cpp's gemma4 graph builds it: RMSNorm(x) / sqrt(n_embd) * scale, then the router matrix,
  // softmax over all experts, the top K, their probabilities renormalized to sum 1.
  const float inv_sqrt_e = 1.0f / std::sqrt(static_cast<float>(E));
  per_token(n, [&](int64_t t) {
    float* r = xn_.data() + t * E;
    rms_norm(x_.data() + t * E, nullptr, r, E, eps);
    for (uint32_t i = 0; i < E; ++i) r[i] = r[i] * inv_sqrt_e * w.ffn_gate_inp_scale[i];
  });
  tensor::matmul(w.ffn_gate_inp, xn_.data(), n, router_.data(), *pool_, matmul_scratch_);
  per_token(n, [&](int64_t t) {
    float* p = router_.data() + t * X;
    const float mx = *std::max_element(p, p + X);
    double sum = 0;
    for (uint32_t e = 0; e < X; ++e) sum += (p[e] = std::exp(p[e] - mx));
    const float inv = static_cast<float>(1.0 / sum);
    for (uint32_t e = 0; e < X; ++e) p[e] *= inv;
    int32_t* sel = selected_.data() + t * K;
    thread_local std::vector<int32_t> order;
    order.resize(X);
    for (uint32_t e = 0; e < X; ++e) order[e] = static_cast<int32_t>(e);
    std::partial_sort(order.begin(), order.begin() + K, order.end(),
                      [&](int32_t a, int32_t b) { return p[a] > p[b] || (p[a] == p[b] && a < b); });
    float wsum = 0;
    for (uint32_t k = 0; k < K; ++k) {
      sel[k] = order[k];
      wsum += p[order[k]];
    }
    wsum = std::max(wsum, 6.103515625e-5f);
    for (uint32_t k = 0; k < K; ++k) expert_weight_[t * K + k] = p[sel[k]] / wsum;
    // The experts' input: the residual stream normed with pre_ffw_norm_2.
    rms_norm(x_.data() + t * E, w.pre_ffw_norm_2.data(), expert_in_.data() + t * E, E, eps);
  });

  // Each expert runs once over the tokens that chose it; its output, scaled, lands in that token's slot k.
  for (uint32_t e = 0; e < X; ++e) {
    int64_t m = 0;
    for (int64_t t = 0; t < n; ++t) {
      for (uint32_t k = 0; k < K; ++k) {
        if (selected_[t * K + k] == static_cast<int32_t>(e)) expert_rows_[m++] = static_cast<int32_t>(t * K + k);
      }
    }
    if (m == 0) continue;
    for (int64_t r = 0; r < m; ++r) {
      const int64_t t = expert_rows_[r] / K;
      std::copy(expert_in_.data() + t * E, expert_in_.data() + (t + 1) * E, expert_gather_.data() + r * E);
    }
    float* gate = expert_gate_up_.data();
    if (w.gate_up_exps.n_expert > 0) {
      tensor::matmul(w.gate_up_exps.expert(e), expert_gather_.data(), m, gate, *pool_, matmul_scratch_);
      per_token(m, [&](int64_t r) {
        float* row = gate + r * 2 * F;
        geglu(row, row + F, expert_act_.data() + r * F, F);
      });
    } else {
      float* up = gate + m * F;
      tensor::matmul(w.gate_exps.expert(e), expert_gather_.data(), m, gate, *pool_, matmul_scratch_);
      tensor::matmul(w.up_exps.expert(e), expert_gather_.data(), m, up, *pool_, matmul_scratch_);
      per_token(m, [&](int64_t r) { geglu(gate + r * F, up + r * F, expert_act_.data() + r * F, F); });
    }
    tensor::matmul(w.down_exps.expert(e), expert_act_.data(), m, expert_out_.data(), *pool_, matmul_scratch_);
    const float scale = w.down_exps_scale.empty() ? 1.0f : w.down_exps_scale[e];
    for (int64_t r = 0; r < m; ++r) {
      const int32_t slot = expert_rows_[r];
      const float wk = expert_weight_[slot];
      const float* src = expert_out_.data() + r * E;
      float* dst = expert_results_.data() + static_cast<size_t>(slot) * E;
      for (uint32_t i = 0; i < E; ++i) dst[i] = w.down_exps_scale.empty() ? src[i] * wk : src[i] * scale * wk;
    }
  }

  // Sum the experts in their selection order, norm, and add the normed shared expert (in proj_).
  per_token(n, [&](int64_t t) {
    float* moe = expert_results_.data() + static_cast<size_t>(t) * K * E;
    for (uint32_t k = 1; k < K; ++k) {
      const float* o = moe + k * E;
      for (uint32_t i = 0; i < E; ++i) moe[i] = moe[i] + o[i];
    }
    rms_norm(moe, w.post_ffw_norm_2.data(), moe, E, eps);
    float* mlp = proj_.data() + t * E;
    rms_norm(mlp, w.post_ffw_norm_1.data(), mlp, E, eps);
    for (uint32_t i = 0; i < E; ++i) mlp[i] = mlp[i] + moe[i];
  });
}

}  // namespace locus::model
