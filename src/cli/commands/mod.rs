//! One file per subcommand: parse its arguments, call the `Trail` façade, print.

pub mod init;
pub mod log;
pub mod record;
pub mod reindex;
pub mod show;
pub mod view;
