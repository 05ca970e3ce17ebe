#include "text/clean_spaces.h"

#include <gtest/gtest.h>

namespace locus::text {
namespace {

std::string cleaned(std::string s) {
  clean_spaces(s);
  return s;
}

TEST(CleanSpaces, DropsTheSpaceBeforeSentencePunctuation) {
  EXPECT_EQ(cleaned("Hello , world . Why ? No !"), "Hello, world. Why? No!");
  EXPECT_EQ(cleaned(" ."), ".");
  EXPECT_EQ(cleaned("a  ."), "a .");  // only the space right before
  EXPECT_EQ(cleaned("a ; b : c"), "a ; b : c");
}

TEST(CleanSpaces, JoinsALoneApostropheAndUsesUpTheSpaceAfterIt) {
  EXPECT_EQ(cleaned("ok ' yes"), "ok'yes");
  EXPECT_EQ(cleaned("a ' ' b"), "a'' b");  // the used-up space is gone; the second has no space before it
  EXPECT_EQ(cleaned("' x"), "' x");         // the first byte is never joined to
}

TEST(CleanSpaces, JoinsSomeContractionsOnly) {
  EXPECT_EQ(cleaned("it 's I 'm we 're you 've"), "it's I'm we're you've");
  EXPECT_EQ(cleaned("don 't I 'd we 'll"), "don 't I 'd we 'll");
  EXPECT_EQ(cleaned("x 'r"), "x 'r");
}

TEST(CleanSpaces, MatchesLlamaCppOnAMixedSentence) {
  // llama.cpp's detokenize of Gemma 4 ids for this text gives exactly this (checked with the oracle).
  EXPECT_EQ(cleaned("Hello , world . It 's ok ' yes"), "Hello, world. It's ok'yes");
  EXPECT_EQ(cleaned(""), "");
}

}  // namespace
}  // namespace locus::text
