//! Test cases, one module per area of the command line.

mod concurrency;
mod index;
mod mcp;
mod store;
mod trails;
mod verify;
