//! Integration tests for hedui live in `it/`, built as one test binary.
