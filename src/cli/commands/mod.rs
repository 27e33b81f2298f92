//! One file per subcommand: parse its arguments, call the `Trail` façade, print.

pub mod fork;
pub mod init;
pub mod log;
pub mod record;
pub mod reindex;
pub mod rollback;
pub mod show;
pub mod signers;
pub mod switch;
pub mod trails;
pub mod verify;
pub mod view;
