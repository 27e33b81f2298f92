//! Test cases, one module per area of the command line.

mod canonical;
mod cli;
mod concurrency;
mod crash;
mod custody;
mod durability;
mod hooks;
mod hostile;
mod import;
mod index;
mod mcp;
mod mirror;
mod read_only;
mod remote_input;
mod revisions;
mod secrets;
mod selection;
mod store;
mod sync;
mod terminal;
mod trails;
mod transparency;
mod trust;
mod verify;
mod verify_merges;
mod witness;
