//! `atom`: a tamper-evident, shareable audit trail of what AI agents and
//! people did.
//!
//! Every operation worth remembering becomes an ATOM record ([`Atom`]), stored
//! as a signed commit in a bare git repository: the previous atom is the
//! commit's parent, so git's content addressing makes the chain tamper-evident
//! and stock git can read, verify, push and clone it. [`Trail`] is the façade
//! that commands use.
#![deny(missing_docs)]

pub mod agents;
mod append;
pub mod attachments;
pub mod branches;
pub mod canonical;
pub mod custody;
pub mod hooks;
pub mod import;
pub mod index;
pub mod links;
pub mod mcp;
pub mod mirror;
pub mod model;
mod revisions;
mod screen;
pub mod secrets;
pub mod shell;
pub mod signers;
pub mod signing;
pub mod status;
pub mod store;
pub mod sync;
pub mod tlog;
pub mod trail;
pub mod transparency;
pub mod verify;

pub use model::{Atom, AtomId, Attachment, InvalidField};
pub use trail::{AtomView, Draft, InitReport, Trail, TrailError};
