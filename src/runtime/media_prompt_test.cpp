// Media in prompts on a real (tiny, random) Gemma 4 model with its projector, both written by locus-mkmodel:
// how expand_media lays media out, what check_media_blocks refuses, and that the Generator and the Scheduler
// (alone, batched with other streams, with the prompt cache) give the same greedy answers for prompts with
// images and audio, the cache reusing a re-sent image by content and never a different one.
#include <gtest/gtest.h>

#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <future>
#include <memory>
#include <random>
#include <string>
#include <vector>

#include "runtime/gemma4_engine.h"
#include "runtime/media_prompt.h"
#include "runtime/scheduler.h"

namespace locus::runtime {
namespace {

namespace fs = std::filesystem;

struct Files {
  std::string model, mmproj;
};

const Files& files() {
  static const Files f = [] {
    const fs::path dir = fs::temp_directory_path() / ("locus_media_prompt_" + std::to_string(::getpid()));
    fs::create_directories(dir);
    Files out{(dir / "m.gguf").string(), (dir / "p.gguf").string()};
    const std::string cmd = std::string(LOCUS_MKMODEL) + " --preset tiny --type F16 --layers 3 -q -o " + out.model +
                            " --mmproj " + out.mmproj + " --mmproj-type F16";
    if (std::system(cmd.c_str()) != 0) throw std::runtime_error("mkmodel failed: " + cmd);
    return out;
  }();
  return f;
}

std::unique_ptr<Gemma4Engine> load(bool with_projector = true) {
  EngineOptions o;
  o.n_ctx = 2048;
  o.n_batch = 64;
  o.n_threads = 2;
  o.mmap = true;
  if (with_projector) o.mmproj = files().mmproj;
  return Gemma4Engine::load(files().model, o);
}

std::shared_ptr<MediaInput> image(int w, int h, uint64_t seed) {
  auto in = std::make_shared<MediaInput>();
  in->kind = MediaInput::Kind::kImage;
  in->width = w;
  in->height = h;
  in->rgb.resize(size_t(w) * h * 3);
  std::mt19937_64 rng(seed);
  for (auto& x : in->rgb) x = static_cast<uint8_t>(rng() & 0xff);
  in->hash = seed * 0x9e3779b97f4a7c15ull + uint64_t(w) * 7 + uint64_t(h);
  return in;
}

std::shared_ptr<MediaInput> audio(size_t n, uint64_t seed) {
  auto in = std::make_shared<MediaInput>();
  in->kind = MediaInput::Kind::kAudio;
  in->samples.resize(n);
  std::mt19937_64 rng(seed);
  std::normal_distribution<float> nd(0.0f, 0.2f);
  for (float& x : in->samples) x = nd(rng);
  in->hash = seed ^ 0xa5a5a5a5ull ^ (uint64_t(n) << 20);
  return in;
}

PreparedMedia one(std::shared_ptr<MediaInput> in) {
  PreparedMedia p;
  p.kind = in->kind == MediaInput::Kind::kImage ? media::Kind::kImage : media::Kind::kAudio;
  p.segments.push_back({"", std::move(in)});
  return p;
}

// "<bos><|turn>user\n" + media placeholders + text + "<turn|>\n<|turn>model\n" as the renderer writes it.
std::vector<int32_t> chat(const Gemma4Engine& e, const std::string& media_marks, const std::string& text) {
  return e.tokenizer().encode("<bos><|turn>user\n" + media_marks + text + "<turn|>\n<|turn>model\n", false, true);
}

class Recorder : public GenerateSink {
 public:
  void on_text(std::string_view) override {}
  void on_token(int32_t token, const TokenLogprobs*) override { tokens.push_back(token); }
  void on_done(const GenerateResult& r) override {
    result = r;
    done.set_value();
  }
  GenerateResult wait() {
    EXPECT_EQ(future.wait_for(std::chrono::seconds(120)), std::future_status::ready);
    return result;
  }
  std::vector<int32_t> tokens;
  GenerateResult result;
  std::promise<void> done;
  std::future<void> future = done.get_future();
};

std::shared_ptr<Job> job_of(const ExpandedPrompt& p, std::shared_ptr<Recorder> sink, int n = 12) {
  auto job = std::make_shared<Job>();
  job->prompt = p.tokens;
  job->media = p.blocks;
  job->options.temperature = 0.0f;
  job->options.num_predict = n;
  job->loop_guard_tokens = 0;
  job->sink = std::move(sink);
  return job;
}

std::vector<int32_t> alone(Gemma4Engine& e, const ExpandedPrompt& p, int n = 12) {
  Generator gen(e, e, e.suppress_tokens());
  Recorder r;
  GenerateRequest req;
  req.prompt = p.tokens;
  req.media = p.blocks;
  req.options.temperature = 0.0f;
  req.options.num_predict = n;
  req.loop_guard_tokens = 0;
  const GenerateResult res = gen.generate(req, r);
  EXPECT_NE(res.reason, DoneReason::error) << res.error;
  return r.tokens;
}

TEST(MediaPrompt, ExpandLaysEachMediumBetweenItsMarkers) {
  auto e = load();
  const MediaTokens& ids = e->media_tokens();
  const auto img = image(96, 48, 1);
  const auto aud = audio(1000, 2);
  const auto tokens = chat(*e, "<|image|><|audio|>", "What is this?");
  const PreparedMedia media[] = {one(img), one(aud)};
  const ExpandedPrompt ex = expand_media(tokens, media, e->tokenizer(), ids);
  ASSERT_EQ(ex.blocks.size(), 2u);
  EXPECT_EQ(ex.tokens.size(), tokens.size() - 2 + (2 + 2) + (2 + 2));
  const MediaBlock& b0 = ex.blocks[0];
  EXPECT_EQ(b0.n, 2);
  EXPECT_TRUE(b0.bidirectional);
  EXPECT_EQ(ex.tokens[size_t(b0.offset) - 1], ids.image_begin);
  EXPECT_EQ(ex.tokens[size_t(b0.offset + b0.n)], ids.image_end);
  const MediaBlock& b1 = ex.blocks[1];
  EXPECT_EQ(b1.n, 2);  // ceil(1000 / 640)
  EXPECT_FALSE(b1.bidirectional);
  EXPECT_EQ(ex.tokens[size_t(b1.offset) - 1], ids.audio_begin);
  EXPECT_EQ(ex.tokens[size_t(b1.offset + b1.n)], ids.audio_end);
  for (const MediaBlock& b : ex.blocks) {
    for (int32_t i = 0; i < b.n; ++i) EXPECT_LT(ex.tokens[size_t(b.offset + i)], 0);
  }
  EXPECT_FALSE(check_media_blocks(ex.tokens, ex.blocks).has_value());
  // Placeholders: the same content gives the same ids, other content others.
  const ExpandedPrompt again = expand_media(tokens, media, e->tokenizer(), ids);
  EXPECT_EQ(again.tokens, ex.tokens);
  const PreparedMedia other[] = {one(image(96, 48, 3)), one(aud)};
  EXPECT_NE(expand_media(tokens, other, e->tokenizer(), ids).tokens, ex.tokens);
  // Counts must agree.
  const PreparedMedia just_one[] = {one(img)};
  EXPECT_THROW(expand_media(tokens, just_one, e->tokenizer(), ids), std::invalid_argument);
  const PreparedMedia three[] = {one(img), one(aud), one(img)};
  EXPECT_THROW(expand_media(tokens, three, e->tokenizer(), ids), std::invalid_argument);
}

TEST(MediaPrompt, CheckRefusesIdsOutsideBlocksAndBadBlocks) {
  auto e = load();
  const auto tokens = chat(*e, "<|image|>", "x");
  const PreparedMedia media[] = {one(image(48, 48, 1))};
  ExpandedPrompt ex = expand_media(tokens, media, e->tokenizer(), e->media_tokens());
  std::vector<int32_t> bad = ex.tokens;
  bad[2] = -5;  // outside the block
  EXPECT_TRUE(check_media_blocks(bad, ex.blocks).has_value());
  auto blocks = ex.blocks;
  blocks[0].n = 2;  // not what its input gives
  EXPECT_TRUE(check_media_blocks(ex.tokens, blocks).has_value());
  blocks = ex.blocks;
  blocks[0].offset = static_cast<int32_t>(ex.tokens.size());
  EXPECT_TRUE(check_media_blocks(ex.tokens, blocks).has_value());
  EXPECT_TRUE(check_media_blocks(ex.tokens, {}).has_value());  // negative ids and no blocks
}

// The same greedy answer from the Generator and from the Scheduler (alone, and while other streams decode, with
// prompts chunked finely around the media), over several images, audio lengths and orders.
TEST(MediaPrompt, SchedulerAndGeneratorAgreeOnPromptsWithMedia) {
  auto e = load();
  std::vector<ExpandedPrompt> prompts;
  for (uint64_t seed = 1; seed <= 6; ++seed) {
    const int w = 48 * int(1 + seed % 3), h = 48 * int(1 + (seed * 2) % 3);
    const PreparedMedia media[] = {one(image(w, h, seed)), one(audio(500 * seed + 17, seed))};
    const std::string marks = seed % 2 ? "<|image|>Listen: <|audio|>" : "<|audio|> and <|image|>";
    PreparedMedia ordered[2] = {media[seed % 2 ? 0 : 1], media[seed % 2 ? 1 : 0]};
    prompts.push_back(expand_media(chat(*e, marks, "Describe " + std::to_string(seed)), ordered, e->tokenizer(),
                                   e->media_tokens()));
  }
  std::vector<std::vector<int32_t>> expected;
  for (const auto& p : prompts) expected.push_back(alone(*e, p));
  Scheduler s(*e, {.n_slots = 3, .max_queue = 8, .slot_ctx = 1024, .prompt_chunk = 7, .mixed_prompt_chunk = 3});
  std::vector<std::shared_ptr<Recorder>> sinks;
  for (const auto& p : prompts) {
    sinks.push_back(std::make_shared<Recorder>());
    ASSERT_EQ(s.submit(job_of(p, sinks.back())), Scheduler::Submit::accepted);
  }
  for (size_t i = 0; i < prompts.size(); ++i) {
    const GenerateResult r = sinks[i]->wait();
    EXPECT_EQ(r.reason, DoneReason::length) << r.error;
    EXPECT_EQ(sinks[i]->tokens, expected[i]) << "prompt " << i;
    EXPECT_EQ(r.prompt_eval_count + r.prompt_cached_tokens, static_cast<int32_t>(prompts[i].tokens.size()));
  }
}

// A conversation re-sends its image every turn: the second request reuses the cache past the image (compared by
// content); a different image at the same place is evaluated anew, and the answers equal fresh evaluations.
TEST(MediaPrompt, PromptCacheReusesAnImageByContentOnly) {
  auto e = load();
  Scheduler s(*e, {.n_slots = 1, .max_queue = 4, .slot_ctx = 1024});
  const auto tokens = chat(*e, "<|image|>", "What is in the picture?");
  const PreparedMedia first[] = {one(image(144, 96, 7))};
  const ExpandedPrompt p1 = expand_media(tokens, first, e->tokenizer(), e->media_tokens());
  auto a = std::make_shared<Recorder>();
  s.submit(job_of(p1, a));
  EXPECT_EQ(a->wait().prompt_cached_tokens, 0);
  // The same image (a new MediaInput with the same content hash) in a longer conversation.
  const auto longer = chat(*e, "<|image|>", "What is in the picture? Tell me more about its colours.");
  const PreparedMedia same[] = {one(image(144, 96, 7))};
  const ExpandedPrompt p2 = expand_media(longer, same, e->tokenizer(), e->media_tokens());
  auto b = std::make_shared<Recorder>();
  s.submit(job_of(p2, b));
  const GenerateResult rb = b->wait();
  EXPECT_GT(rb.prompt_cached_tokens, p2.blocks[0].offset + p2.blocks[0].n);
  EXPECT_EQ(b->tokens, alone(*load(), p2));
  // Another image at the same place: the cache stops before it.
  const PreparedMedia other[] = {one(image(144, 96, 8))};
  const ExpandedPrompt p3 = expand_media(longer, other, e->tokenizer(), e->media_tokens());
  auto c = std::make_shared<Recorder>();
  s.submit(job_of(p3, c));
  const GenerateResult rc = c->wait();
  EXPECT_LE(rc.prompt_cached_tokens, p3.blocks[0].offset);
  EXPECT_EQ(c->tokens, alone(*load(), p3));
}

// The projected rows of a recent medium are kept by content: the same content (another MediaInput) is a hit and
// gives the very same rows; other content is projected anew; the cache stays within its byte limit.
TEST(MediaPrompt, ProjectedRowsAreCachedByContent) {
  auto e = load();
  const auto a = e->embed_media(*image(96, 96, 1));
  const auto again = e->embed_media(*image(96, 96, 1));
  EXPECT_EQ(a.get(), again.get());
  EXPECT_EQ(e->media_cache_stats().hits, 1u);
  const auto other = e->embed_media(*image(96, 96, 2));
  EXPECT_NE(*other, *a);
  const auto sound = e->embed_media(*audio(3000, 1));
  EXPECT_EQ(sound->size(), size_t{5} * e->model().n_embd());
  EXPECT_EQ(e->media_cache_stats().misses, 3u);
  EngineOptions o;
  o.n_ctx = 256;
  o.n_threads = 2;
  o.mmap = true;
  o.mmproj = files().mmproj;
  o.media_cache_bytes = size_t{4} * e->model().n_embd() * sizeof(float);  // room for one 2x2 image
  auto small = Gemma4Engine::load(files().model, o);
  small->embed_media(*image(96, 96, 1));
  small->embed_media(*image(96, 96, 2));
  small->embed_media(*image(96, 96, 1));
  EXPECT_EQ(small->media_cache_stats().hits, 0u);
  EXPECT_LE(small->media_cache_stats().bytes, o.media_cache_bytes);
}

TEST(MediaPrompt, RefusalsAreErrorsNotCrashes) {
  auto e = load();
  Scheduler s(*e, {.n_slots = 1, .max_queue = 4, .slot_ctx = 64});
  // Longer than the context: media are never truncated.
  const PreparedMedia big[] = {one(image(48 * 10, 48 * 8, 1))};
  const ExpandedPrompt p = expand_media(chat(*e, "<|image|>", "x"), big, e->tokenizer(), e->media_tokens());
  auto r = std::make_shared<Recorder>();
  auto job = job_of(p, r);
  job->options.num_ctx = 64;
  s.submit(job);
  const GenerateResult res = r->wait();
  EXPECT_EQ(res.reason, DoneReason::error);
  EXPECT_NE(res.error.find("media cannot be cut"), std::string::npos) << res.error;
  // A model without a projector takes no media.
  auto text_only = load(false);
  EXPECT_EQ(text_only->projector(), nullptr);
  EXPECT_THROW(text_only->media_tokens(), std::invalid_argument);
  const PreparedMedia small[] = {one(image(48, 48, 2))};
  const ExpandedPrompt q = expand_media(chat(*e, "<|image|>", "x"), small, e->tokenizer(), e->media_tokens());
  Generator gen(*text_only, *text_only, text_only->suppress_tokens());
  Recorder rec;
  GenerateRequest req;
  req.prompt = q.tokens;
  req.media = q.blocks;
  req.options.num_predict = 2;
  EXPECT_EQ(gen.generate(req, rec).reason, DoneReason::error);
}

}  // namespace
}  // namespace locus::runtime
