//! Which leaves are encrypted: the six partial-encryption rules.

use regex::Regex;

/// The six rule kinds, named as in the metadata and `.sops.yaml`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SelectionKind {
    /// Leaves below a key ending with the suffix stay in clear.
    UnencryptedSuffix,
    /// Only leaves below a key ending with the suffix are encrypted.
    EncryptedSuffix,
    /// Leaves below a key matching the regex stay in clear.
    UnencryptedRegex,
    /// Only leaves below a key matching the regex are encrypted.
    EncryptedRegex,
    /// Leaves after a comment matching the regex stay in clear.
    UnencryptedCommentRegex,
    /// Only leaves after a comment matching the regex are encrypted.
    EncryptedCommentRegex,
}

impl SelectionKind {
    /// All kinds, in the order sops checks them.
    pub const ALL: [SelectionKind; 6] = [
        SelectionKind::UnencryptedSuffix,
        SelectionKind::EncryptedSuffix,
        SelectionKind::UnencryptedRegex,
        SelectionKind::EncryptedRegex,
        SelectionKind::UnencryptedCommentRegex,
        SelectionKind::EncryptedCommentRegex,
    ];

    /// The metadata / config field name (`unencrypted_suffix`, ...).
    pub fn field_name(self) -> &'static str {
        match self {
            SelectionKind::UnencryptedSuffix => "unencrypted_suffix",
            SelectionKind::EncryptedSuffix => "encrypted_suffix",
            SelectionKind::UnencryptedRegex => "unencrypted_regex",
            SelectionKind::EncryptedRegex => "encrypted_regex",
            SelectionKind::UnencryptedCommentRegex => "unencrypted_comment_regex",
            SelectionKind::EncryptedCommentRegex => "encrypted_comment_regex",
        }
    }

    fn is_regex(self) -> bool {
        !matches!(
            self,
            SelectionKind::UnencryptedSuffix | SelectionKind::EncryptedSuffix
        )
    }

    /// Whether the rule looks at comments rather than keys.
    pub fn is_comment_rule(self) -> bool {
        matches!(
            self,
            SelectionKind::UnencryptedCommentRegex | SelectionKind::EncryptedCommentRegex
        )
    }
}

/// The suffix sops uses when no rule is set.
pub const DEFAULT_UNENCRYPTED_SUFFIX: &str = "_unencrypted";

/// One selection rule with its pattern (compiled when it is a regex).
#[derive(Debug, Clone)]
pub struct Selection {
    kind: SelectionKind,
    pattern: String,
    regex: Option<Regex>,
}

/// A selection regex did not compile.
#[derive(Debug, thiserror::Error)]
#[error("can not compile regexp {pattern:?} of {field}: {reason}")]
pub struct SelectionError {
    /// The field the regex came from.
    pub field: &'static str,
    /// The regex text (a rule, not a secret).
    pub pattern: String,
    /// The compiler's message.
    pub reason: String,
}

impl Selection {
    /// A rule of `kind` with `pattern`.
    pub fn new(kind: SelectionKind, pattern: &str) -> Result<Selection, SelectionError> {
        let regex = if kind.is_regex() {
            Some(Regex::new(pattern).map_err(|e| SelectionError {
                field: kind.field_name(),
                pattern: pattern.to_owned(),
                reason: e.to_string(),
            })?)
        } else {
            None
        };
        Ok(Selection {
            kind,
            pattern: pattern.to_owned(),
            regex,
        })
    }

    /// sops's default: `unencrypted_suffix: _unencrypted`.
    pub fn default_rule() -> Selection {
        Selection {
            kind: SelectionKind::UnencryptedSuffix,
            pattern: DEFAULT_UNENCRYPTED_SUFFIX.to_owned(),
            regex: None,
        }
    }

    /// The rule's kind.
    pub fn kind(&self) -> SelectionKind {
        self.kind
    }

    /// The rule's pattern as written.
    pub fn pattern(&self) -> &str {
        &self.pattern
    }

    /// Whether `text` (a key or a comment) matches the rule's pattern.
    pub fn matches(&self, text: &str) -> bool {
        match &self.regex {
            Some(re) => re.is_match(text),
            None => text.ends_with(self.pattern.as_str()),
        }
    }

    /// The decision for a leaf, given whether any key on its path matched
    /// (key rules) or how many comments in its stack matched (comment rules,
    /// not counting the leaf itself when it is a comment).
    pub fn encrypts(&self, any_key_matched: bool, matching_comments: usize) -> bool {
        match self.kind {
            SelectionKind::UnencryptedSuffix | SelectionKind::UnencryptedRegex => !any_key_matched,
            SelectionKind::EncryptedSuffix | SelectionKind::EncryptedRegex => any_key_matched,
            SelectionKind::UnencryptedCommentRegex => matching_comments == 0,
            SelectionKind::EncryptedCommentRegex => matching_comments > 0,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn suffix_rules_test_the_end_of_keys() {
        let s = Selection::new(SelectionKind::UnencryptedSuffix, "_pub").unwrap();
        assert!(s.matches("key_pub"));
        assert!(!s.matches("key_pub2"));
        assert!(s.encrypts(false, 0));
        assert!(!s.encrypts(true, 0));
    }

    #[test]
    fn regexes_are_unanchored() {
        let s = Selection::new(SelectionKind::EncryptedRegex, "data").unwrap();
        assert!(s.matches("metadata"));
        assert!(s.encrypts(true, 0));
        assert!(!s.encrypts(false, 0));
    }

    #[test]
    fn comment_rules_count_comments() {
        let e = Selection::new(SelectionKind::EncryptedCommentRegex, "sops:enc").unwrap();
        assert!(e.encrypts(false, 1));
        assert!(!e.encrypts(true, 0));
        let u = Selection::new(SelectionKind::UnencryptedCommentRegex, "sops:enc").unwrap();
        assert!(!u.encrypts(false, 2));
        assert!(u.encrypts(false, 0));
    }

    #[test]
    fn bad_regex_is_an_error() {
        assert!(Selection::new(SelectionKind::EncryptedRegex, "(").is_err());
        assert!(Selection::new(SelectionKind::EncryptedSuffix, "(").is_ok());
    }
}
