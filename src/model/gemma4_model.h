// The Gemma 4 text model: weights read in place from the memory-mapped GGUF, an f16 KV cache sized for the
// requested context, and the forward pass as llama.cpp computes it (gemma4.md sections 4-5).
//
//   auto m = Gemma4Model::load("model.gguf", {.n_ctx = 8192});
//   std::vector<float> logits(m->n_vocab());
//   m->forward(prompt, 0, logits, false);          // prompt in n_batch steps, logits of the last token
//   m->forward({&next, 1}, m->n_past(), logits, false);  // then one token at a time
//
// Several sequences (each its own KV cache) share the weights: sequence 0 exists from load and is the one
// the calls without a sequence argument use; add_sequence makes more. forward_batch evaluates the next
// token of several sequences in one step, so each weight matrix is read once for all of them (decoding is
// bound by reading the weights):
//
//   const SequenceId b = m->add_sequence();
//   m->forward(b, prompt_b, 0, logits, false);
//   const BatchItem items[] = {{0, next_a, m->n_past(0)}, {b, next_b, m->n_past(b)}};
//   m->forward_batch(items, logits_ab);            // two rows of n_vocab
//
// All activation buffers are allocated at load for n_batch tokens and a sequence's KV cache when it is
// added; a forward step allocates nothing. Not thread-safe: one thread drives a model.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <span>
#include <string>
#include <vector>

#include "gguf/file.h"
#include "model/attention.h"
#include "model/gemma4_config.h"
#include "model/kv_cache.h"
#include "model/weights.h"
#include "tensor/matmul.h"
#include "tensor/thread_pool.h"

namespace locus::model {

enum class AttentionPrecision {
  kLikeLlamaCpp,  // f32 for batches of 64+ tokens, f16-accumulated below (attention.h): llama.cpp's CPU choice
  kF32,           // f32 whatever the batch size
};

struct Gemma4ModelOptions {
  uint32_t n_ctx = 4096;      // positions the KV cache holds; 0 = the model's training context
  uint32_t n_batch = 512;     // most tokens evaluated together (prompt processing step)
  // Most media embeddings evaluated as one bidirectional block (forward_embeddings: an image's tokens, up to
  // 1120 with llama.cpp's largest budget); 0 = n_batch. The activation buffers and the sliding-window rings are
  // sized for max(n_batch, max_block), so an image is one block whatever n_batch (llama.cpp instead refuses an
  // image with more tokens than its micro-batch).
  uint32_t max_block = 0;
  int n_threads = 0;          // size of the model's own thread pool when `pool` is null (0 = all cores)
  tensor::ThreadPool* pool = nullptr;  // a shared pool to use instead (must outlive the model)
  AttentionPrecision attention = AttentionPrecision::kLikeLlamaCpp;
  // false (default): the weights are read once into the process's own memory (huge pages where the
  // kernel gives them; gguf::GgufFile::load_resident), which makes generation faster. true: they are
  // used in place from the memory-mapped file (quick start, pages shared with other processes).
  bool mmap = false;
  std::function<void(uint64_t done, uint64_t total)> load_progress;  // while reading weights (mmap false)
};

// A sequence of the model: an index into its KV caches. Ids of removed sequences are given out again.
using SequenceId = int32_t;
inline constexpr SequenceId kDefaultSequence = 0;

// One token of forward_batch: a token of `sequence` at position pos (its n_past, or the previous item's pos + 1
// for the sequence's later items in the same call).
struct BatchItem {
  SequenceId sequence = kDefaultSequence;
  int32_t token = 0;
  int32_t pos = 0;
};

// How embed() reduces the tokens' hidden states to one vector; llama.cpp's pooling types of the same names
// (a gemma4 GGUF names none, so llama.cpp's own default there is per-token output; see embed()).
enum class EmbeddingPooling {
  kMean,  // the average over all tokens (llama-server --pooling mean)
  kLast,  // the last token's (--pooling last; also what node-llama-cpp returns when the model names no pooling)
};

struct EmbeddingOptions {
  EmbeddingPooling pooling = EmbeddingPooling::kMean;
  // L2 (euclidean) normalization, as llama-server applies to pooled embeddings by default (embd_normalize 2);
  // false gives the raw pooled vector, as llama_get_embeddings_seq returns it.
  bool normalize = true;
};

class Gemma4Model {
 public:
  // Throws gguf::GgufError for a file that is not a Gemma 4 text model this engine runs, with what was
  // expected and what was found; std::invalid_argument for bad options.
  static std::unique_ptr<Gemma4Model> load(const std::string& path, const Gemma4ModelOptions& options = {});
  static std::unique_ptr<Gemma4Model> load(gguf::GgufFile file, const Gemma4ModelOptions& options = {});

  Gemma4Model(const Gemma4Model&) = delete;
  Gemma4Model& operator=(const Gemma4Model&) = delete;
  ~Gemma4Model();

  const Gemma4Config& config() const { return config_; }
  const Gemma4Weights& weights() const { return weights_; }
  const gguf::GgufFile& file() const { return file_; }
  uint32_t n_vocab() const { return config_.n_vocab; }
  uint32_t n_embd() const { return config_.n_embd; }  // floats of an embedding (embed())
  uint32_t n_ctx() const { return n_ctx_; }  // of sequence 0, and of sequences added without their own
  uint32_t n_batch() const { return n_batch_; }
  int32_t n_past() const { return sequences_[0]->n_past(); }
  uint64_t kv_cache_bytes() const;  // all sequences' KV caches together
  tensor::ThreadPool& pool() { return *pool_; }

  // Sequences. add_sequence allocates the sequence's KV cache (n_ctx positions; 0 = the model's n_ctx) and
  // returns the lowest free id; remove_sequence frees it (sequence 0 stays: it backs the calls without a
  // sequence argument). Calls naming a sequence that does not exist throw std::invalid_argument.
  SequenceId add_sequence(uint32_t n_ctx = 0);
  void remove_sequence(SequenceId seq);
  bool has_sequence(SequenceId seq) const;
  size_t n_sequences() const;
  // KV bytes a sequence of n_ctx positions (0 = the model's n_ctx) takes, before adding it.
  uint64_t sequence_kv_bytes(uint32_t n_ctx = 0) const;
  uint64_t kv_cache_bytes(SequenceId seq) const { return cache(seq).bytes(); }
  uint32_t n_ctx(SequenceId seq) const { return cache(seq).n_ctx(); }
  int32_t n_past(SequenceId seq) const { return cache(seq).n_past(); }
  bool can_truncate(SequenceId seq, int32_t pos) const { return cache(seq).can_truncate(pos); }
  void truncate(SequenceId seq, int32_t pos) { cache(seq).truncate(pos); }  // throws std::invalid_argument
  void reset(SequenceId seq) { cache(seq).clear(); }

  // Evaluates `tokens` at positions pos, pos + 1, ...; pos <= n_past (a smaller pos rolls the cache back
  // first, see can_truncate). Inputs longer than n_batch run in steps of n_batch tokens. Writes the
  // logits after the final softcap: with all_logits one row of n_vocab per token, in order, else the last
  // token's row only. logits_out must hold that many floats (it may be empty when no row is wanted:
  // all_logits false and tokens empty). Throws std::invalid_argument for bad input (token id out of range,
  // context full, position not reachable); the cache is then unchanged.
  void forward(std::span<const int32_t> tokens, int32_t pos, std::span<float> logits_out, bool all_logits) {
    forward(kDefaultSequence, tokens, pos, logits_out, all_logits);
  }
  // The same on sequence `seq` (prompt processing of one sequence; it attends to its own cache only).
  void forward(SequenceId seq, std::span<const int32_t> tokens, int32_t pos, std::span<float> logits_out,
               bool all_logits);

  // Evaluates the items (each a token of its sequence at its own position) in one pass over the weights, and
  // writes one row of n_vocab logits per item from first_logits_row on, in order, to logits_out
  // ((items.size() - first_logits_row) * n_vocab floats; the items before first_logits_row give none). Usually
  // one token per sequence (decoding several streams); a sequence may also have several items, at
  // consecutive positions in order (a prompt chunk riding along with other streams' decode steps), each
  // attending to its sequence's earlier positions only. Each row equals what forward() on that sequence alone
  // gives, up to the summation order of the matrix products over several tokens. More than n_batch items run in
  // steps of n_batch. Throws std::invalid_argument, with every cache unchanged, for: an unknown sequence, a
  // sequence's first item not at its n_past or a later one not at the previous one's pos + 1, its context
  // full, a token out of range, first_logits_row beyond the items, logits_out too small.
  void forward_batch(std::span<const BatchItem> items, std::span<float> logits_out, size_t first_logits_row = 0);

  // The embedding of `tokens` (a text's ids, BOS included when wanted; nothing is added here), n_embd floats
  // to out: the final hidden state after output_norm (the LM head's input, before the head and the softcap),
  // pooled over the tokens (options.pooling), then L2-normalized (options.normalize). This is what
  // llama-server computes for a gemma4 model run with --embeddings --pooling mean, except that llama.cpp
  // pools over one physical batch only (the server refuses longer inputs) while the mean here covers every
  // token, whatever n_batch.
  //
  // The tokens are evaluated causally from position 0 on sequence `seq`, in steps of n_batch: whatever the
  // sequence held is dropped first, and its cache is empty again afterwards (n_past(seq) == 0), also when a
  // step throws. Other sequences are untouched. No allocation: the pooled sum lives in a buffer sized at
  // load. Throws std::invalid_argument, with the cache unchanged, for: no tokens, more tokens than the
  // sequence's context (n_ctx(seq)), a token out of range, out smaller than n_embd, an unknown sequence.
  void embed(SequenceId seq, std::span<const int32_t> tokens, std::span<float> out,
             const EmbeddingOptions& options = {});

  // Evaluates input embeddings instead of token ids: embd holds n rows of n_embd floats (a projected image or
  // audio clip, gemma4_projector.h), fed to the first layer as they are (no sqrt(n_embd) scale: that is the
  // token embeddings'), at positions pos, pos + 1, ... of sequence seq. bidirectional (an image, gemma4.md 4.6):
  // the rows are one step and see each other on the sliding-window layers (the window still bounds what they
  // see before them), causally on the full layers; n must not exceed max_block(). Otherwise causal, in steps of
  // n_batch (audio). Logits as forward(). Throws std::invalid_argument, the cache unchanged, for: embd not a
  // whole number of rows or empty, too many rows for a block, the context full, a position not reachable, a
  // model with per-layer inputs (E2B/E4B: their media go through their own encoders, not this path).
  void forward_embeddings(SequenceId seq, std::span<const float> embd, int32_t pos, std::span<float> logits_out,
                          bool all_logits, bool bidirectional);
  uint32_t max_block() const { return n_step_; }

  bool can_truncate(int32_t pos) const { return can_truncate(kDefaultSequence, pos); }
  void truncate(int32_t pos) { truncate(kDefaultSequence, pos); }  // throws std::invalid_argument
  void reset() { reset(kDefaultSequence); }

 private:
  Gemma4Model(gguf::GgufFile file, Gemma4Config config, const Gemma4ModelOptions& options);
  KvCache& cache(SequenceId seq);
  const KvCache& cache(SequenceId seq) const;
  // One step of n <= n_batch tokens, token t going to slots_[t] (a cache and a position). one_sequence: the
  // tokens are consecutive positions of one sequence and attend to each other (prompt processing); else
  // each is the next token of a different sequence. Logits rows for tokens >= first_row (n = none) go to
  // `logits`.
  // embd (n rows of n_embd) replaces the token embeddings when not null (tokens is then unused); bidirectional:
  // the one-sequence step is a bidirectional block on the sliding-window layers.
  void step(const int32_t* tokens, int64_t n, bool one_sequence, int64_t first_row, float* logits,
            const float* embd = nullptr, bool bidirectional = false);
  void attention_block(uint32_t l, int64_t n, bool one_sequence, bool bidirectional);
  // n consecutive positions of one sequence from pos in steps of step_size: fills slots_ and calls
  // run_step(first, count, first_logits_row, logits) per step, with the rows forward() writes (all, or the last).
  template <typename F>
  void one_sequence_steps(KvCache& kv, int64_t n, int32_t pos, int64_t step_size, std::span<float> logits_out,
                          bool all_logits, F&& run_step);
  void feed_forward_block(uint32_t l, int64_t n);
  void per_layer_inputs(const int32_t* tokens, int64_t n);
  void per_layer_embedding(uint32_t l, int64_t n);
  void mixture_of_experts(uint32_t l, int64_t n);
  // Runs fn(t) for t in [0, n) over the pool (small per-token work).
  template <typename F>
  void per_token(int64_t n, F&& fn);

  gguf::GgufFile file_;
  Gemma4Config config_;
  Gemma4Weights weights_;
  uint32_t n_ctx_ = 0;
  uint32_t n_batch_ = 0;
  uint32_t n_step_ = 0;  // tokens one step holds: max(n_batch, max_block)
  std::vector<std::unique_ptr<KvCache>> sequences_;  // by SequenceId; null: free id
  AttentionPrecision attention_precision_;
  std::unique_ptr<tensor::ThreadPool> own_pool_;
  tensor::ThreadPool* pool_ = nullptr;
  tensor::MatmulScratch matmul_scratch_;
  AttentionScratch attention_scratch_;

  // Activations for n_batch tokens, row-major per token.
  std::vector<float> x_;      // residual stream [n_batch][n_embd]
  std::vector<float> xn_;     // normed input of a block [n_batch][n_embd]
  std::vector<float> q_;      // [n_batch][n_head * head_dim]
  std::vector<float> k_;      // [n_batch][n_head_kv * head_dim]
  std::vector<float> v_;
  std::vector<float> att_;    // attention output [n_batch][n_head * head_dim]
  std::vector<float> proj_;   // block output [n_batch][n_embd]
  std::vector<float> gate_;   // [n_batch][n_ff]
  std::vector<float> up_;
  std::vector<float> rope_swa_;   // cos/sin per token for sliding layers [n_batch][n_rot_swa]
  std::vector<float> rope_full_;  // and for full layers [n_batch][n_rot_full]
  // Where each token of a step goes: its sequence's cache and its position [n_batch].
  struct TokenSlot {
    KvCache* cache = nullptr;
    int32_t pos = 0;
  };
  std::vector<TokenSlot> slots_;
  std::vector<AttentionRow> attention_rows_;  // [n_batch], for steps of several sequences
  std::vector<int32_t> batch_tokens_;         // [n_batch], forward_batch's token ids gathered
  std::vector<double> embd_sum_;              // [n_embd], embed()'s pooled sum over its steps
  // Per-layer embeddings (E2B/E4B).
  std::vector<float> ple_;        // per-layer inputs [n_batch][n_layer][n_embd_per_layer]
  std::vector<float> ple_gate_;   // [n_batch][n_embd_per_layer]
  // Mixture of experts (26B A4B).
  std::vector<float> router_;     // expert probabilities [n_batch][n_expert]
  std::vector<int32_t> selected_; // chosen experts [n_batch][n_expert_used]
  std::vector<float> expert_weight_;
  std::vector<int32_t> expert_rows_;  // slots (token * n_expert_used + k) routed to the expert at hand
  std::vector<float> expert_in_;      // experts' input [n_batch][n_embd]
  std::vector<float> expert_gather_;  // its rows for one expert
  std::vector<float> expert_gate_up_; // [n_batch][2 * n_ff_expert]
  std::vector<float> expert_act_;     // [n_batch][n_ff_expert]
  std::vector<float> expert_out_;     // [n_batch][n_embd]
  std::vector<float> expert_results_; // weighted outputs per slot [n_batch][n_expert_used][n_embd]
};

}  // namespace locus::model
