//! The integration tests: the real `atom` binary, cross-checked with stock git,
//! ssh-keygen and Python. One test binary, so one link step.

mod cases;
mod common;
