//! The one date grammar of the command line (`log --since/--until`,
//! `record --at`): what [`atom::model::parse_date`] accepts, a bad value
//! being one usage error that names the accepted forms.

use chrono::{DateTime, Utc};

use crate::cli::error::CliError;

/// Parse the value of `flag` as a time (exit 2 when it is none).
pub fn parse(flag: &'static str, s: &str) -> Result<DateTime<Utc>, CliError> {
    atom::model::parse_date(flag, s).map_err(|e| {
        CliError::usage(
            e.to_string(),
            format!("e.g. {flag} 2024-11-27, {flag} yesterday, {flag} 3d"),
        )
    })
}

/// [`parse`], as a record timestamp (`2024-11-27T10:23:45Z`).
pub fn parse_timestamp(flag: &'static str, s: &str) -> Result<String, CliError> {
    parse(flag, s).map(atom::model::format_timestamp)
}
