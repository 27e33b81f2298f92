//! Test cases, one module per area of the command line.

mod concurrency;
mod crash;
mod durability;
mod hooks;
mod hostile;
mod import;
mod index;
mod mcp;
mod mirror;
mod secrets;
mod store;
mod sync;
mod terminal;
mod trails;
mod trust;
mod verify;
mod verify_merges;
