// Tests only: a test binary that compiles counting_new.cpp replaces the global operator new with one that counts
// allocations, so a test can check that a hot path allocates nothing. counting_new.cpp is a translation unit of
// its own so that the compiler does not inline the replaced operator new into the code under test.
#pragma once

// Allocations made so far in this binary.
long allocations_so_far();
