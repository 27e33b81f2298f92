//! Words quoted for a POSIX shell: the one helper behind every command atom
//! prints for the user to paste (`atom signers add NAME 'KEY'`, `atom fork
//! restored --from X`), so a name from a remote or a record runs nothing.

use std::borrow::Cow;

/// `word` as one shell word: as is when it is made of
/// `[A-Za-z0-9@%+=:,./_-]` only, else in single quotes with each `'` written
/// as `'\''`.
pub fn quote(word: &str) -> Cow<'_, str> {
    let plain = |c: char| {
        c.is_ascii_alphanumeric()
            || matches!(c, '@' | '%' | '+' | '=' | ':' | ',' | '.' | '/' | '_' | '-')
    };
    if !word.is_empty() && word.chars().all(plain) {
        Cow::Borrowed(word)
    } else {
        Cow::Owned(format!("'{}'", word.replace('\'', r"'\''")))
    }
}

#[cfg(test)]
mod tests {
    use super::quote;

    #[test]
    fn plain_words_stay_and_the_rest_is_single_quoted() {
        assert_eq!(quote("alice@example.org"), "alice@example.org");
        assert_eq!(quote("a1b2c3d4e5f6"), "a1b2c3d4e5f6");
        assert_eq!(quote(""), "''");
        assert_eq!(quote("two words"), "'two words'");
        assert_eq!(quote("x;touch${IFS}pwned"), "'x;touch${IFS}pwned'");
        assert_eq!(quote("it's"), r"'it'\''s'");
        assert_eq!(quote("$(id)`id`"), "'$(id)`id`'");
        assert_eq!(quote("-n"), "-n");
    }
}
