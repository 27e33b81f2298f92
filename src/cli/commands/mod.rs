//! One file per subcommand: parse its arguments, call the `Trail` façade, print.

pub mod clone;
pub mod completions;
pub mod export;
pub mod fork;
pub mod hook;
pub mod hooks;
pub mod import;
pub mod init;
pub mod log;
pub mod pull;
pub mod push;
pub mod query;
pub mod record;
pub mod reindex;
pub mod remote;
pub mod rollback;
pub mod search;
pub mod show;
pub mod signers;
pub mod stats;
pub mod switch;
pub mod trace;
pub mod trails;
pub mod verify;
pub mod view;
