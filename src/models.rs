//! models (in progress).
