//! Test cases, one module per area of the command line.

mod concurrency;
mod import;
mod index;
mod store;
mod trails;
mod verify;
