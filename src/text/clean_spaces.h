// The clean-up llama.cpp applies to whole-sequence detokenization for BPE vocabularies, Gemma 4's included
// (Hugging Face's clean_up_tokenization_spaces). Three passes, in this order:
//   1. a space directly before '?', '!', '.' or ',' goes;
//   2. " ' " becomes "'" (both spaces go); the space that followed is used up, so in " ' ' " only the first
//      apostrophe is joined;
//   3. a space goes before "'s", "'m", "'re" and "'ve" (not before "'t", "'d" or "'ll").
// Per-token pieces are never cleaned, so streamed text can differ from the whole-sequence decode here.
#pragma once

#include <string>

namespace locus::text {

void clean_spaces(std::string& text);

}  // namespace locus::text
