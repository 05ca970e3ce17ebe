#include "tokenizer_corpus.h"

#include <array>
#include <initializer_list>
#include <cstdint>
#include <string_view>

#include "text/utf8.h"

namespace locus::parity {

namespace {

// A small generator of our own, so the corpus does not depend on a standard library's distributions.
class Rng {
 public:
  explicit Rng(uint64_t seed) : state_(seed) {}
  uint64_t next() {
    uint64_t z = (state_ += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
  }
  size_t below(size_t n) { return static_cast<size_t>(next() % n); }
  template <typename T, size_t N>
  const T& pick(const std::array<T, N>& a) { return a[below(N)]; }

 private:
  uint64_t state_;
};

// Everyday sentences in many languages and scripts.
constexpr std::array<std::string_view, 64> kPhrases = {
    "The quick brown fox jumps over the lazy dog.",
    "I'm sure it's fine, isn't it? We'll see; they've said so.",
    "Hello , world . Don 't worry ' bout it !",
    "Der schnelle braune Fuchs springt über den faulen Hund. Größe, Maß, Straße.",
    "Le cœur a ses raisons que la raison ne connaît point. À bientôt, garçon !",
    "¿Dónde está la biblioteca? ¡Qué día tan bonito! Niño, año, señor.",
    "Não há nada como o lar. Ação, coração, pão e limão.",
    "Zażółć gęślą jaźń. Świętokrzyskie, Łódź, Gdańsk.",
    "Příliš žluťoučký kůň úpěl ďábelské ódy.",
    "Árvíztűrő tükörfúrógép. Köszönöm szépen!",
    "Pijamalı hasta yağız şoföre çabucak güvendi. İstanbul, ışık.",
    "Съешь же ещё этих мягких французских булок, да выпей чаю.",
    "Щастям б'єш жук їх глицю в фон й ґедзь пріч.",
    "Τάχιστη αλώπηξ βαφής ψημένη γη, δρασκελίζει υπέρ νωθρού κυνός.",
    "Բարեւ, ինչպե՞ս ես։ Հայաստան",
    "გამარჯობა, როგორ ხარ? საქართველო",
    "שלום עולם! איך אתה מרגיש היום?",
    "مرحبا بالعالم! كيف حالك اليوم؟ السلام عليكم.",
    "سلام دنیا! امروز حال شما چطور است؟",
    "ہیلو دنیا! آپ کیسے ہیں؟",
    "नमस्ते दुनिया! आप कैसे हैं? मैं ठीक हूँ।",
    "হ্যালো বিশ্ব! আপনি কেমন আছেন?",
    "வணக்கம் உலகம்! நீங்கள் எப்படி இருக்கிறீர்கள்?",
    "హలో ప్రపంచం! మీరు ఎలా ఉన్నారు?",
    "ಹಲೋ ವಿಶ್ವ! ನೀವು ಹೇಗಿದ್ದೀರಿ?",
    "ഹലോ ലോകം! സുഖമാണോ?",
    "ਸਤਿ ਸ੍ਰੀ ਅਕਾਲ ਦੁਨੀਆ!",
    "હેલો વિશ્વ! તમે કેમ છો?",
    "ආයුබෝවන් ලෝකය!",
    "สวัสดีชาวโลก! คุณสบายดีไหม",
    "ສະບາຍດີ ໂລກ!",
    "សួស្តី​ពិភពលោក! អ្នក​សុខសប្បាយ​ទេ?",
    "မင်္ဂလာပါ ကမ္ဘာ!",
    "བཀྲ་ཤིས་བདེ་ལེགས། འཛམ་གླིང་།",
    "你好，世界！今天天气很好，我们去公园散步吧。",
    "這是一個繁體中文的句子，包含標點符號「引號」與《書名號》。",
    "こんにちは、世界！今日はいい天気ですね。カタカナ、ひらがな、漢字。",
    "ｱｲｳｴｵ ｶｷｸｹｺ 半角カナと全角ＡＢＣ１２３",
    "안녕하세요, 세계! 오늘 날씨가 좋네요.",
    "Xin chào thế giới! Hôm nay trời đẹp quá.",
    "Habari dunia! Habari za asubuhi?",
    "Ẹ kú àárọ̀! Báwo ni?",
    "Sannu duniya! Ina kwana?",
    "ሰላም ለዓለም! እንዴት ነህ?",
    "Сайн байна уу, дэлхий!",
    "Салам, дүйнө! Кандайсың?",
    "ᏣᎳᎩ ᎦᏬᏂᎯᏍᏗ",
    "ᐊᐃᓐᖓᐃ ᓄᓇᕗᑦ",
    "Ꭰ ᎤᏍᏗ ᏣᎳᎩ — ⲛⲟⲩⲧⲉ — 𐌰𐌱𐌲 Gothic — 𓀀𓁐 hieroglyphs",
    "Mathematical: ∀x∈ℝ, ∃y: x² + y² ≥ 2xy; ∑ᵢ aᵢ = ∫₀¹ f(t) dt ≈ π/4 ± ε.",
    "Currency: $100, €50, £20, ¥1000, ₹500, ₩3000, ₿0.01, ₽99",
    "Arrows and boxes: ← ↑ → ↓ ⇒ ⇔ ┌─┬─┐ │ │ │ └─┴─┘ ░▒▓█",
    "Quotes: “double” ‘single’ «guillemets» „Gänsefüßchen“ 「括弧」",
    "Dashes and dots: en – em — ellipsis … bullet • middle · prime ′ ″",
    "Ligatures and variants: ﬁ ﬂ ﬀ Ⅻ ① ⑳ ㊙ ㍿ ℡ ™ © ®",
    "Combining: e\xCC\x81 a\xCC\x80 o\xCC\x88 n\xCC\x83 Z\xCD\x91\xCD\x8C\xCC\xBE a\xCC\x8A\xCC\x81",
    "Fullwidth: ＨＥＬＬＯ　ＷＯＲＬＤ！　１２３４５",
    "Superscripts: x¹ x² x³ xⁿ H₂O CO₂ E=mc²",
    "Braille: ⠓⠑⠇⠇⠕ ⠺⠕⠗⠇⠙",
    "Music: 𝄞 𝄢 ♩ ♪ ♫ ♬ ♭ ♮ ♯",
    "Math alphanumerics: 𝐀𝐁𝐂 𝑎𝑏𝑐 𝔸𝔹ℂ 𝕒𝕓𝕔 𝟘𝟙𝟚",
    "Old scripts: ᚠᚢᚦᚨᚱᚲ ᚷᚹ 𐎀𐎁𐎂 𒀀𒀁 𐤀𐤁𐤂",
    "CJK extension B: 𠀀𠀁𠀂 𪜀 𫝀 𬺰 and compatibility 﨑",
    "Mixed: Hello мир 世界 مرحبا नमस्ते 🌍!",
};

constexpr std::array<std::string_view, 40> kEmoji = {
    "😀", "😂", "🥹", "❤️", "👍", "👍🏽", "👋🏿", "🙏", "🔥", "✨", "🎉", "🦙", "🤖", "🧠", "🚀",
    "👨‍👩‍👧‍👦", "👩🏽‍💻", "🏳️‍🌈", "🏴‍☠️", "🧑‍🤝‍🧑", "🇫🇷", "🇯🇵", "🇧🇷", "🏴󠁧󠁢󠁳󠁣󠁴󠁿", "1️⃣", "#️⃣", "©️", "☺️",
    "⌚", "⭐", "🫠", "🫨", "🪿", "🩷", "🧌", "🫶🏻", "🤌", "🥲", "😶‍🌫️", "❤️‍🔥",
};

constexpr std::array<std::string_view, 30> kCode = {
    "#include <iostream>\nint main() {\n    std::cout << \"Hello, world!\\n\";\n    return 0;\n}\n",
    "def fib(n):\n    if n < 2:\n        return n\n    return fib(n - 1) + fib(n - 2)\n\nprint([fib(i) for i in range(10)])\n",
    "const add = (a, b) => a + b;\nexport default function App() {\n  return <div className=\"app\">{add(1, 2)}</div>;\n}\n",
    "{\"name\": \"locus\", \"version\": \"0.1.0\", \"tags\": [\"gemma\", \"gguf\"], \"nested\": {\"a\": null, \"b\": true}}",
    "SELECT u.id, COUNT(*) AS n FROM users u JOIN orders o ON o.user_id = u.id WHERE o.total > 100 GROUP BY u.id;",
    "for f in *.gguf; do\n\techo \"$f: $(stat -c %s \"$f\")\"\ndone | sort -k2 -n\n",
    "fn main() {\n    let v: Vec<i32> = (1..=10).filter(|x| x % 2 == 0).collect();\n    println!(\"{:?}\", v);\n}\n",
    "<!DOCTYPE html>\n<html lang=\"en\">\n<head><meta charset=\"utf-8\"><title>Test</title></head>\n<body><p>Hi &amp; bye</p></body>\n</html>\n",
    "package main\n\nimport \"fmt\"\n\nfunc main() {\n\tfmt.Println(\"hello\")\n}\n",
    "public class Main {\n\tpublic static void main(String[] args) {\n\t\tSystem.out.println(\"Hi\");\n\t}\n}\n",
    "x = [[1, 2], [3, 4]]\ny = {k: v for k, v in zip('ab', x)}  # dict comprehension\n",
    "template <typename T>\nconcept Addable = requires(T a, T b) { { a + b } -> std::same_as<T>; };\n",
    "$ git log --oneline | head -n 3\nc43570a tensor: thread pool\n3b522f0 mkmodel: default output name\n",
    "if (x != nullptr && *x >= 0x7f) { y <<= 2; z ^= ~w; } else { q->r[i++] = '\\0'; }",
    "  - name: build\n    run: |\n      cmake -S . -B build -G Ninja\n      cmake --build build\n",
    "[section]\nkey = \"value\"\nlist = [1, 2, 3]\n\n[[array]]\nname = 'x'\n",
    "\\documentclass{article}\n\\begin{document}\n$\\sum_{i=1}^{n} i = \\frac{n(n+1)}{2}$\n\\end{document}\n",
    "regex: ^(?:[a-z0-9!#$%&'*+/=?^_`{|}~-]+(?:\\.[a-z0-9!#$%&'*+/=?^_`{|}~-]+)*)@example\\.com$",
    "a_b_c __init__ __name__ == '__main__' snake_case camelCase PascalCase SCREAMING_CASE kebab-case",
    "https://example.com/path/to/page?query=1&lang=en#section-2 mailto:someone@example.org",
    "0x1F 0b1010 0o755 1e-9 3.14159 -42 +7 1_000_000 0xDEADBEEF",
    "int* p = &a; int** pp = &p; auto&& r = std::move(x); a->b.c[0](d);",
    "/* block\n * comment\n */\n// line comment\n# shell comment\n-- sql comment\n<!-- html comment -->",
    "diff --git a/x.cpp b/x.cpp\n@@ -1,3 +1,3 @@\n-old line\n+new line\n context\n",
    "    indented with four spaces\n\tindented with a tab\n        eight spaces\n\t\ttwo tabs\n",
    "console.log(`template ${literal} with ${nested ? `inner ${x}` : ''}`);",
    "SELECT * FROM t WHERE name LIKE '%O''Brien%' ESCAPE '\\';",
    "match x {\n    Some(ref v) if v.len() > 0 => v[0],\n    _ => unreachable!(),\n}\n",
    "λx. λy. x y — (define (square x) (* x x)) — f :: Int -> Int",
    "<|turn>user\nWrite code<turn|>\n<|turn>model\n```python\nprint('hi')\n```<turn|>",
};

constexpr std::array<std::string_view, 34> kSpecial = {
    "<bos>", "<eos>", "<pad>", "<unk>", "<mask>", "<|turn>", "<turn|>", "<|think|>", "<|channel>", "<channel|>",
    "<|tool>", "<tool|>", "<|tool_call>", "<tool_call|>", "<|tool_response>", "<tool_response|>", "<|\"|>",
    "<|image>", "<image|>", "<|audio>", "<audio|>", "<|image|>", "<|audio|>", "<|video|>", "</s>", "<s>",
    "<unused0>", "<unused42>", "<0x41>", "<0xZZ>", "<|turn", "turn|>", "<|", "|>",
};

constexpr std::array<std::string_view, 24> kWords = {
    "the", "of", "and", "to", "in", "model", "token", "Gemma", "llama", "runtime", "local", "first",
    "tokenizer", "merge", "byte", "space", "newline", "unicode", "café", "naïve", "résumé", "über", "日本", "данные",
};

// Concatenation without operator+ on temporaries (which trips a false -Wrestrict in GCC 12 at -O3).
std::string cat(std::initializer_list<std::string_view> parts) {
  std::string out;
  for (const auto p : parts) out.append(p);
  return out;
}

std::string random_code_point_text(Rng& rng, size_t n, bool astral) {
  // Ranges of assigned and unassigned code points, private use and combining marks; never surrogates.
  static constexpr std::array<std::pair<char32_t, char32_t>, 14> kRanges = {{
      {0x20, 0x7E}, {0xA0, 0x24F}, {0x300, 0x36F}, {0x370, 0x52F}, {0x590, 0x6FF}, {0x900, 0xDFF},
      {0xE00, 0xFFF}, {0x1100, 0x11FF}, {0x2000, 0x2BFF}, {0x3000, 0x9FFF}, {0xAC00, 0xD7A3},
      {0xE000, 0xF8FF}, {0xF900, 0xFFFD}, {0x10000, 0x10FFFF},
  }};
  std::string out;
  for (size_t i = 0; i < n; ++i) {
    const auto& [lo, hi] = kRanges[rng.below(astral ? kRanges.size() : kRanges.size() - 1)];
    text::append_utf8(out, static_cast<char32_t>(lo + rng.below(hi - lo + 1)));
  }
  return out;
}

std::string random_bytes(Rng& rng, size_t n) {
  std::string out;
  for (size_t i = 0; i < n; ++i) out.push_back(static_cast<char>(rng.below(256)));
  return out;
}

std::string prose(Rng& rng, size_t min_bytes) {
  std::string out;
  while (out.size() < min_bytes) {
    out += kPhrases[rng.below(kPhrases.size())];
    out += rng.below(5) == 0 ? "\n\n" : " ";
  }
  return out;
}

}  // namespace

std::vector<CorpusText> tokenizer_corpus() {
  std::vector<CorpusText> c;
  Rng rng(20260928);
  const auto add = [&](const char* category, std::string text) { c.push_back({category, std::move(text)}); };

  // ---- edge cases: nothing, every ASCII byte alone, the space mark itself
  add("edge", "");
  for (int b = 0; b < 128; ++b) add("edge", std::string(1, static_cast<char>(b)));
  for (const char* s : {" ", "  ", "a", " a", "a ", "\xE2\x96\x81", "\xE2\x96\x81\xE2\x96\x81", " \xE2\x96\x81 ",
                        "\xE2\x96\x81hello", "hello\xE2\x96\x81world", "\xEF\xBF\xBD", "[EMPTY_0]"}) {
    add("edge", s);
  }

  // ---- scripts and languages: each phrase alone, with leading/trailing spaces, and mixed
  for (const auto p : kPhrases) {
    add("scripts", std::string(p));
    add("scripts", cat({" ", p}));
    add("scripts", cat({p, "\n"}));
  }
  for (int i = 0; i < 150; ++i) {
    std::string s;
    const size_t n = 2 + rng.below(4);
    for (size_t k = 0; k < n; ++k) s += cat({kPhrases[rng.below(kPhrases.size())], rng.below(3) ? " " : "\n"});
    add("scripts", s);
  }

  // ---- emoji, alone, repeated, in text
  for (const auto e : kEmoji) {
    add("emoji", std::string(e));
    add("emoji", cat({e, e, e}));
    add("emoji", cat({"I ", e, " this ", e, "!"}));
  }
  for (int i = 0; i < 80; ++i) {
    std::string s;
    const size_t n = 1 + rng.below(8);
    for (size_t k = 0; k < n; ++k) {
      s += kEmoji[rng.below(kEmoji.size())];
      if (rng.below(3) == 0) s += kWords[rng.below(kWords.size())];
      if (rng.below(4) == 0) s += " ";
    }
    add("emoji", s);
  }

  // ---- code
  for (const auto snippet : kCode) {
    add("code", std::string(snippet));
    add("code", cat({"```\n", snippet, "```"}));
  }
  for (int i = 0; i < 60; ++i) {
    std::string s;
    const size_t n = 2 + rng.below(4);
    for (size_t k = 0; k < n; ++k) s += kCode[rng.below(kCode.size())];
    add("code", s);
  }

  // ---- whitespace: runs of every kind and length
  const std::array<std::string_view, 12> kSpaces = {" ", "\t", "\n", "\r\n", "\r", "\v", "\f", "\xC2\xA0",
                                                     "\xE3\x80\x80", "\xE2\x80\x8B", "\xE2\x80\x83", "\xE2\x80\xA8"};
  for (const auto ws : kSpaces) {
    for (int n : {1, 2, 3, 4, 5, 7, 8, 15, 16, 17, 30, 31, 32, 33, 64, 100, 257}) {
      std::string run;
      for (int k = 0; k < n; ++k) run += ws;
      add("whitespace", run);
      if (n == 3 || n == 31 || n == 100) {
        add("whitespace", cat({"a", run, "b"}));
        add("whitespace", cat({run, "x", run}));
      }
    }
  }
  for (int i = 0; i < 120; ++i) {
    std::string s;
    const size_t n = 1 + rng.below(10);
    for (size_t k = 0; k < n; ++k) {
      const size_t reps = 1 + rng.below(rng.below(4) == 0 ? 70 : 6);
      const auto ws = kSpaces[rng.below(kSpaces.size())];
      for (size_t r = 0; r < reps; ++r) s += ws;
      if (rng.below(2)) s += kWords[rng.below(kWords.size())];
    }
    add("whitespace", s);
  }

  // ---- control characters and invisible formatting
  for (int b = 0; b < 32; ++b) {
    const std::string c(3, static_cast<char>(b));
    add("control", cat({"a", std::string_view(c).substr(0, 1), "b ", c}));
  }
  for (char32_t cp = 0x80; cp < 0xA0; ++cp) {
    std::string s = "x";
    text::append_utf8(s, cp);
    add("control", s);
  }
  for (const char32_t cp : {0x7Fu, 0xADu, 0x200Bu, 0x200Cu, 0x200Du, 0x200Eu, 0x200Fu, 0x202Au, 0x202Eu, 0x2060u,
                            0x2066u, 0x2069u, 0xFEFFu, 0xFFF9u, 0xFFFBu, 0xFFFCu, 0xFFFDu, 0xFFFEu, 0xFFFFu,
                            0xE0001u, 0xE007Fu, 0x1D173u}) {
    std::string s = "text";
    text::append_utf8(s, cp);
    s += "more";
    text::append_utf8(s, cp);
    text::append_utf8(s, cp);
    add("control", s);
  }
  for (int i = 0; i < 40; ++i) {
    std::string s;
    for (size_t k = 0, n = 4 + rng.below(20); k < n; ++k) {
      s.push_back(static_cast<char>(rng.below(3) ? rng.below(32) : 'a' + rng.below(26)));
    }
    add("control", s);
  }

  // ---- invalid UTF-8: every kind of bad sequence, alone and inside text
  const std::array<std::string_view, 24> kBad = {
      "\x80", "\xBF", "\xC0", "\xC1", "\xC2", "\xDF", "\xE0", "\xEF", "\xF0", "\xF4", "\xF5", "\xF8", "\xFE",
      "\xFF", "\xC0\x80", "\xC1\xBF", "\xE0\x80\x80", "\xE0\x9F\xBF", "\xF0\x80\x80\x80", "\xED\xA0\x80",
      "\xED\xBF\xBF", "\xF4\x90\x80\x80", "\xF7\xBF\xBF\xBF", "\xE2\x96",
  };
  for (const auto bad : kBad) {
    add("invalid_utf8", std::string(bad));
    add("invalid_utf8", cat({"a", bad, "b"}));
    add("invalid_utf8", cat({" ", bad, " ", bad, "\n"}));
    add("invalid_utf8", cat({"\xE4\xBD\xA0", bad, "\xE5\xA5\xBD"}));
  }
  for (int i = 0; i < 150; ++i) add("invalid_utf8", random_bytes(rng, 1 + rng.below(40)));
  for (int i = 0; i < 60; ++i) {
    // Valid text with a few bytes cut out or flipped.
    std::string s = prose(rng, 60);
    for (int k = 0; k < 3; ++k) {
      const size_t at = rng.below(s.size());
      if (rng.below(2)) {
        s.erase(at, 1);
      } else {
        s[at] = static_cast<char>(0x80 | rng.below(0x80));
      }
    }
    add("invalid_utf8", s);
  }
  add("invalid_utf8", random_bytes(rng, 4096));

  // ---- special-token text, with and without parse_special the ids differ
  for (const auto sp : kSpecial) {
    add("special_text", std::string(sp));
    add("special_text", cat({"x", sp, "y"}));
    add("special_text", cat({" ", sp, " "}));
    add("special_text", cat({sp, sp, "\n", sp}));
  }
  for (int i = 0; i < 150; ++i) {
    std::string s;
    const size_t n = 1 + rng.below(8);
    for (size_t k = 0; k < n; ++k) {
      s += kSpecial[rng.below(kSpecial.size())];
      if (rng.below(2)) s += kWords[rng.below(kWords.size())];
      if (rng.below(3) == 0) s += rng.below(2) ? " " : "\n";
    }
    add("special_text", s);
  }
  add("special_text", "<<|turn>>");
  add("special_text", "<|turn|>");
  add("special_text", "<|<|turn>turn>");
  add("special_text", "<|tool_response><tool_response|><|tool_response>");
  add("special_text", "<bos><bos>hello");
  add("special_text",
      "<bos><|turn>system\n<|think|>You are helpful.<turn|>\n<|turn>user\nWhat is 2+2?<turn|>\n<|turn>model\n"
      "<|channel>thought\nSimple.<channel|>4<turn|>");
  add("special_text",
      "<|turn>model\n<|tool_call>call:get_weather{location:<|\"|>Paris<|\"|>}<tool_call|>"
      "<|tool_response>response:get_weather{temp:21}<tool_response|>It is 21 °C.<turn|>");

  // ---- numbers
  for (int i = 0; i < 100; ++i) {
    std::string s;
    const size_t n = 1 + rng.below(6);
    for (size_t k = 0; k < n; ++k) {
      switch (rng.below(5)) {
        case 0: s += std::to_string(rng.next() % 1000000007ull); break;
        case 1: s += cat({std::to_string(rng.below(100)), ".", std::to_string(rng.below(100000))}); break;
        case 2:
          s += cat({"20", std::to_string(10 + rng.below(90)), "-0", std::to_string(1 + rng.below(9)), "-1",
                    std::to_string(rng.below(10))});
          break;
        case 3: s += std::to_string(rng.next()); break;
        default: s += cat({"-", std::to_string(rng.below(1000)), "e", std::to_string(rng.below(40))}); break;
      }
      s += rng.pick(std::array<std::string_view, 6>{" ", ", ", " + ", "\n", "", " × "});
    }
    add("numbers", s);
  }

  // ---- random code points (byte fallback for characters outside the vocabulary)
  for (int i = 0; i < 250; ++i) add("random_unicode", random_code_point_text(rng, 1 + rng.below(30), true));
  for (int i = 0; i < 60; ++i) add("random_unicode", random_code_point_text(rng, 1 + rng.below(10), false));

  // ---- random mixes of everything above (valid UTF-8)
  for (int i = 0; i < 200; ++i) {
    std::string s;
    const size_t n = 1 + rng.below(10);
    for (size_t k = 0; k < n; ++k) {
      switch (rng.below(7)) {
        case 0: s += kPhrases[rng.below(kPhrases.size())]; break;
        case 1: s += kEmoji[rng.below(kEmoji.size())]; break;
        case 2: s += kCode[rng.below(kCode.size())]; break;
        case 3: s += kSpaces[rng.below(kSpaces.size())]; break;
        case 4: s += kSpecial[rng.below(kSpecial.size())]; break;
        case 5: s += random_code_point_text(rng, 1 + rng.below(5), true); break;
        default: s += kWords[rng.below(kWords.size())]; break;
      }
    }
    add("mixed", s);
  }

  // ---- long inputs: several kilobytes to a quarter of a megabyte
  add("long", prose(rng, 2 * 1024));
  add("long", prose(rng, 16 * 1024));
  {
    std::string s;
    while (s.size() < 8 * 1024) s += kCode[rng.below(kCode.size())];
    add("long", s);
  }
  {
    std::string s;  // one line, no newline at all
    while (s.size() < 32 * 1024) s += cat({kPhrases[rng.below(kPhrases.size())], " "});
    for (char& ch : s) {
      if (ch == '\n') ch = ' ';
    }
    add("long", s);
  }
  add("long", std::string(10000, ' '));
  add("long", std::string(5000, '\n'));
  add("long", std::string(20000, 'a'));
  {
    std::string s;
    for (int k = 0; k < 2000; ++k) s += kEmoji[k % kEmoji.size()];
    add("long", s);
  }
  add("long", random_code_point_text(rng, 3000, true));
  {
    std::string s;
    for (int k = 0; k < 600; ++k) s += cat({kSpecial[k % kSpecial.size()], " ", kWords[k % kWords.size()]});
    add("long", s);
  }
  {
    std::string s;
    while (s.size() < 256 * 1024) {
      s += kPhrases[rng.below(kPhrases.size())];
      s += kSpaces[rng.below(kSpaces.size())];
      if (rng.below(10) == 0) s += kCode[rng.below(kCode.size())];
      if (rng.below(20) == 0) s += kEmoji[rng.below(kEmoji.size())];
    }
    add("long", s);
  }
  return c;
}

}  // namespace locus::parity
