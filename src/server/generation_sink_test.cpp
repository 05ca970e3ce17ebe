// The channel sink between the runtime and the writers: which event carries which token's logprobs, and how many
// generated tokens count as reasoning, on scripted token streams (the generator driving a FakeModel whose greedy
// output is a script, and direct calls where the timing of text matters).
#include "server/generation_sink.h"

#include <gtest/gtest.h>

#include <cmath>
#include <string>
#include <vector>

#include "runtime/generator.h"
#include "runtime/test_fakes.h"

namespace locus::server {
namespace {

using runtime::testing::FakeModel;
using runtime::testing::FakeText;
using Kind = GenerationEvent::Kind;
using namespace std::chrono_literals;

constexpr int32_t kVocab = 64;
constexpr int32_t kEog = 1;

// A thought, then an answer: <|channel>thought\nLet me think<channel|>Hi there, then the end of turn.
struct Script {
  FakeText text{kVocab};
  std::vector<int32_t> tokens = {10, 11, 12, 13, 14, 15, 16, 20, 21, kEog};
  Script() {
    text.set_eog(kEog);
    const char* pieces[] = {"<|channel>", "thought", "\n", "Let", " me", " think", "<channel|>"};
    for (int32_t i = 0; i < 7; ++i) text.set(10 + i, pieces[i]);
    text.set(20, "Hi");
    text.set(21, " there");
  }
};

SinkContext context(const FakeText& text, bool with_logprobs) {
  SinkContext c;
  c.parser.thinking_requested = true;
  c.received = std::chrono::steady_clock::now();
  if (with_logprobs) c.token_text = [&text](int32_t id) { return text.piece(id); };
  return c;
}

std::vector<GenerationEvent> drain(EventChannel& channel) {
  std::vector<GenerationEvent> out;
  while (channel.pop_all(out, 0ms)) {
  }
  return out;
}

// Runs the script through the generator (greedy) into a channel sink.
std::vector<GenerationEvent> generate(Script& s, bool logprobs, int32_t top) {
  FakeModel model(kVocab, 256);
  const std::vector<int32_t> prompt = {2, 3, 4};
  model.script = s.tokens;
  model.script_from = static_cast<int64_t>(prompt.size());
  runtime::Generator g(model, s.text);
  auto channel = std::make_shared<EventChannel>();
  auto sink = make_channel_sink(channel, context(s.text, logprobs));
  runtime::GenerateRequest req;
  req.prompt = prompt;
  req.options.temperature = 0.0f;
  req.logprobs = logprobs;
  req.top_logprobs = top;
  g.generate(req, *sink);
  return drain(*channel);
}

TEST(ChannelSink, EveryTokensLogprobsRideOnTheEventsInOrder) {
  Script s;
  const auto events = generate(s, true, 3);
  ASSERT_FALSE(events.empty());
  ASSERT_EQ(events.back().kind, Kind::kDone);
  std::vector<std::string> tokens;
  std::string thinking, content;
  for (const auto& e : events) {
    if (e.kind == Kind::kThinking) thinking += e.text;
    if (e.kind == Kind::kText) content += e.text;
    for (const auto& lp : e.logprobs) {
      tokens.push_back(lp.chosen.token);
      EXPECT_LE(lp.chosen.logprob, 0.0f);
      ASSERT_EQ(lp.top.size(), 3u);
      // The script's token has logit 12 against at most 4 for the others, so it leads the list.
      EXPECT_EQ(lp.top[0].token, lp.chosen.token);
      EXPECT_EQ(lp.top[0].logprob, lp.chosen.logprob);
      EXPECT_GE(lp.top[0].logprob, lp.top[1].logprob);
      EXPECT_GE(lp.top[1].logprob, lp.top[2].logprob);
    }
  }
  EXPECT_EQ(thinking, "Let me think");
  EXPECT_EQ(content, "Hi there");
  // Every generated token but the end of turn, markers included, once and in order.
  EXPECT_EQ(tokens, (std::vector<std::string>{"<|channel>", "thought", "\n", "Let", " me", " think", "<channel|>", "Hi",
                                              " there"}));
  // The first event is the thinking that the marker tokens opened; the answer's first chunk carries the closing
  // marker.
  EXPECT_EQ(events.front().kind, Kind::kThinking);
  EXPECT_EQ(events.front().logprobs.front().chosen.token, "<|channel>");
  const auto& done = events.back().done;
  EXPECT_EQ(done.eval_count, 10);  // the end of turn counts as generated, but has no logprobs entry
  EXPECT_EQ(done.reasoning_tokens, 7);  // <|channel> thought \n Let me think <channel|>
}

TEST(ChannelSink, ReasoningIsCountedWithoutLogprobs) {
  Script s;
  const auto events = generate(s, false, 0);
  for (const auto& e : events) EXPECT_TRUE(e.logprobs.empty());
  ASSERT_EQ(events.back().kind, Kind::kDone);
  EXPECT_EQ(events.back().done.reasoning_tokens, 7);
}

TEST(ChannelSink, NoThinkingNoReasoningTokens) {
  Script s;
  s.tokens = {20, 21, 20, kEog};
  const auto events = generate(s, true, 0);
  ASSERT_EQ(events.back().kind, Kind::kDone);
  EXPECT_EQ(events.back().done.reasoning_tokens, 0);
  size_t n = 0;
  for (const auto& e : events) {
    n += e.logprobs.size();
    for (const auto& lp : e.logprobs) EXPECT_TRUE(lp.top.empty());
  }
  EXPECT_EQ(n, 3u);
}

// Text the runtime holds back (a stop string's prefix that never completes, a marker left open) reaches no
// text event: its tokens' logprobs go on the done event. A thought the turn never closed counts to the end.
TEST(ChannelSink, LeftoverLogprobsGoOnTheDoneEvent) {
  FakeText text(kVocab);
  text.set(10, "<|channel>");
  text.set(11, "thought");
  text.set(12, "\n");
  text.set(13, "hmm");
  auto channel = std::make_shared<EventChannel>();
  auto sink = make_channel_sink(channel, context(text, true));
  runtime::TokenLogprobs lp;
  auto token = [&](int32_t id, bool with_text) {
    lp.chosen = {id, -0.5f};
    sink->on_token(id, &lp);
    if (with_text) sink->on_text(text.piece(id));
  };
  token(10, true);
  token(11, true);
  token(12, true);
  token(13, true);
  token(13, false);  // held back, never released
  runtime::GenerateResult r;
  r.eval_count = 5;
  r.reason = runtime::DoneReason::length;
  sink->on_done(r);
  const auto events = drain(*channel);
  ASSERT_GE(events.size(), 2u);
  EXPECT_EQ(events.front().kind, Kind::kThinking);
  EXPECT_EQ(events.front().logprobs.size(), 4u);
  ASSERT_EQ(events.back().kind, Kind::kDone);
  ASSERT_EQ(events.back().logprobs.size(), 1u);
  EXPECT_EQ(events.back().logprobs[0].chosen.token, "hmm");
  EXPECT_EQ(events.back().done.reasoning_tokens, 5);
}

TEST(ChannelSink, RawOutputHasNoReasoning) {
  Script s;
  auto channel = std::make_shared<EventChannel>();
  SinkContext c = context(s.text, true);
  c.parse = false;
  auto sink = make_channel_sink(channel, std::move(c));
  runtime::TokenLogprobs lp;
  for (int32_t id : {10, 11, 13}) {
    lp.chosen = {id, -1.0f};
    sink->on_token(id, &lp);
    sink->on_text(s.text.piece(id));
  }
  sink->on_done({});
  const auto events = drain(*channel);
  ASSERT_EQ(events.size(), 4u);
  EXPECT_EQ(events[0].text, "<|channel>");
  EXPECT_EQ(events[0].logprobs.size(), 1u);
  EXPECT_EQ(events.back().done.reasoning_tokens, 0);
}

}  // namespace
}  // namespace locus::server
