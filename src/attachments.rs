//! Reading an attachment back (`atom cat`): the bytes of
//! `attachments/<name>` in the atom's commit, read from git (the index holds
//! no file contents) and checked against the sha256 the record lists, so
//! what comes out is what was recorded.

use crate::canonical;
use crate::model::Attachment;
use crate::trail::{Trail, TrailError};
use crate::AtomId;

/// Errors of reading an attachment.
#[derive(Debug, thiserror::Error)]
pub enum AttachmentError {
    /// The revision did not resolve, or the store failed.
    #[error(transparent)]
    Trail(#[from] TrailError),
    /// The atom has no attachments.
    #[error("{atom} has no attachments")]
    None {
        /// The atom.
        atom: AtomId,
    },
    /// The atom has several attachments and none was named.
    #[error("{atom} has {} attachments; name the one to print", names.len())]
    NameNeeded {
        /// The atom.
        atom: AtomId,
        /// Its attachments' names.
        names: Vec<String>,
    },
    /// The atom has no attachment of that name.
    #[error("{atom} has no attachment named {name:?}")]
    NoSuchName {
        /// The atom.
        atom: AtomId,
        /// The name asked for.
        name: String,
        /// Its attachments' names.
        names: Vec<String>,
    },
    /// The record lists the attachment but the commit's tree does not hold
    /// it, or holds other bytes: the atom was changed outside atom.
    #[error("{atom}: attachment {name:?} {reason}")]
    Damaged {
        /// The atom.
        atom: AtomId,
        /// The attachment.
        name: String,
        /// What is wrong.
        reason: String,
    },
}

/// One attachment with its bytes.
#[derive(Debug, Clone)]
pub struct AttachmentContent {
    /// The atom it belongs to.
    pub atom: AtomId,
    /// Name, size and sha256, as the record lists them.
    pub attachment: Attachment,
    /// The content.
    pub bytes: Vec<u8>,
}

impl Trail {
    /// The attachment `name` of the atom `rev` names (any revision
    /// [`Trail::resolve`] takes); without `name`, its only attachment.
    pub fn attachment(
        &self,
        rev: &str,
        name: Option<&str>,
    ) -> Result<AttachmentContent, AttachmentError> {
        let commit = self.resolve(rev)?;
        let record = self.view(commit)?.record;
        let atom = record.atom_id.clone();
        let names = || record.attachments.iter().map(|a| a.name.clone()).collect();
        let attachment = match (name, record.attachments.as_slice()) {
            (_, []) => return Err(AttachmentError::None { atom }),
            (None, [only]) => only.clone(),
            (None, _) => {
                return Err(AttachmentError::NameNeeded {
                    atom,
                    names: names(),
                })
            }
            (Some(name), all) => match all.iter().find(|a| a.name == name) {
                Some(a) => a.clone(),
                None => {
                    return Err(AttachmentError::NoSuchName {
                        atom,
                        name: name.to_owned(),
                        names: names(),
                    })
                }
            },
        };
        let damaged = |reason: &str| AttachmentError::Damaged {
            atom: atom.clone(),
            name: attachment.name.clone(),
            reason: reason.to_owned(),
        };
        let bytes = self
            .git()
            .read_attachment(commit, &attachment.name)
            .map_err(TrailError::from)?
            .ok_or_else(|| damaged("is listed in the record but not in the commit"))?;
        if canonical::sha256_hex(&bytes) != attachment.sha256 {
            return Err(damaged("does not match the sha256 its record lists"));
        }
        Ok(AttachmentContent {
            atom,
            attachment,
            bytes,
        })
    }
}
