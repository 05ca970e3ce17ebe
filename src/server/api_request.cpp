#include "server/api_request.h"

#include <algorithm>

namespace locus::server {

const char* api_name(Api api) {
  switch (api) {
    case Api::kOllamaChat: return "ollama_chat";
    case Api::kOllamaGenerate: return "ollama_generate";
    case Api::kOpenAiChat: return "openai_chat";
    case Api::kOpenAiCompletions: return "openai_completions";
    case Api::kOpenAiTranscription: return "openai_transcription";
  }
  return "unknown";
}

const char* size_rule_name(MediaOptions::SizeRule rule) {
  return rule == MediaOptions::SizeRule::kGoogle ? "google" : "llama.cpp";
}

const char* video_layout_name(MediaOptions::VideoLayout layout) {
  return layout == MediaOptions::VideoLayout::kGoogle ? "google" : "llama.cpp";
}

bool valid_image_tokens(int64_t tokens, MediaOptions::SizeRule rule) {
  if (rule == MediaOptions::SizeRule::kLlamaCpp) return tokens >= kMinImageTokens && tokens <= kMaxImageTokens;
  return std::find(std::begin(kImageTokenLadder), std::end(kImageTokenLadder), tokens) != std::end(kImageTokenLadder);
}

namespace {

std::string budget_expected(MediaOptions::SizeRule rule, const char* whose) {
  if (rule == MediaOptions::SizeRule::kLlamaCpp) {
    return "an integer in [70, 1120] (" + std::string(whose) + " llama.cpp)";
  }
  return "70, 140, 280, 560 or 1120 (" + std::string(whose) + " google; llama.cpp's takes any of 70..1120)";
}

}  // namespace

std::optional<ApiError> check_media_options(const MediaOptions& o, const std::string& prefix,
                                            MediaOptions::SizeRule default_rule,
                                            MediaOptions::VideoLayout default_layout) {
  auto bad = [&](const char* field, const std::string& expected, int64_t found) {
    const std::string param = prefix + field;
    return ApiError{400, param + ": expected " + expected + ", found " + std::to_string(found), param};
  };
  const MediaOptions::SizeRule rule = o.image_size_rule.value_or(default_rule);
  if (o.image_tokens && !valid_image_tokens(*o.image_tokens, rule)) {
    return bad("image_tokens", budget_expected(rule, "the size rule is"), *o.image_tokens);
  }
  const MediaOptions::SizeRule frame_rule = o.video_layout.value_or(default_layout) == MediaOptions::VideoLayout::kGoogle
                                                ? MediaOptions::SizeRule::kGoogle
                                                : MediaOptions::SizeRule::kLlamaCpp;
  if (o.video_frame_tokens && !valid_image_tokens(*o.video_frame_tokens, frame_rule)) {
    return bad("video_frame_tokens", budget_expected(frame_rule, "the video layout is"), *o.video_frame_tokens);
  }
  if (o.video_frames && (*o.video_frames < 1 || *o.video_frames > kMaxVideoFrames)) {
    return bad("video_frames", "an integer in [1, " + std::to_string(kMaxVideoFrames) + "]", *o.video_frames);
  }
  return std::nullopt;
}

}  // namespace locus::server
