// libFuzzer target for the GGUF reader. Any input must either parse or throw GgufError; a crash, a sanitizer
// report, another exception, a hang or a large allocation is a bug. Inputs that parse must also encode back:
// the header write_gguf would write must equal the input's header whenever the input's padding is zeros.
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <vector>

#include "gguf/file.h"
#include "gguf/writer.h"

using locus::gguf::GgufContent;
using locus::gguf::GgufError;

namespace {

[[noreturn]] void bug(const char* what) {
  std::fprintf(stderr, "gguf_fuzz: %s\n", what);
  std::abort();
}

// The bytes between the end of the tensor infos and the data section, which a writer fills with zeros.
bool padding_is_zero(const uint8_t* data, size_t header_end, size_t data_offset) {
  for (size_t i = header_end; i < data_offset; ++i) {
    if (data[i] != 0) return false;
  }
  return true;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  GgufContent content;
  try {
    content = locus::gguf::parse_gguf(data, size, "fuzz.gguf");
  } catch (const GgufError&) {
    return 0;
  }
  if (content.data_offset > size) bug("data_offset past the end of the input");

  std::vector<uint8_t> header;
  try {
    header = locus::gguf::encode_gguf_header(content);
  } catch (const GgufError& e) {
    std::fprintf(stderr, "%s\n", e.what());
    bug("parsed content does not encode");
  }
  if (header.size() != content.data_offset) bug("encoded header size differs from the data offset");
  // Find where the tensor infos end in the encoded header: its trailing zeros are at most the padding.
  size_t infos_end = header.size();
  while (infos_end > 0 && header[infos_end - 1] == 0 && header.size() - infos_end < content.alignment) --infos_end;
  if (padding_is_zero(data, infos_end, content.data_offset)) {
    for (size_t i = 0; i < header.size(); ++i) {
      if (header[i] != data[i]) bug("round trip changed the header bytes");
    }
  }

  // The encoded header with the input's data section parses to the same layout.
  header.insert(header.end(), data + content.data_offset, data + size);
  try {
    const GgufContent again = locus::gguf::parse_gguf(header.data(), header.size(), "again.gguf");
    if (again.data_offset != content.data_offset || again.tensors.size() != content.tensors.size() ||
        again.metadata.size() != content.metadata.size()) {
      bug("re-parsed content differs");
    }
  } catch (const GgufError& e) {
    std::fprintf(stderr, "%s\n", e.what());
    bug("re-encoded file does not parse");
  }
  return 0;
}
