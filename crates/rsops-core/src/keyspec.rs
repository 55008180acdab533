//! Master key specifications (`--age`, `--pgp`, … and `.sops.yaml` key
//! fields) parsed into [`MasterKey`] values, through the key-kind registry.
//!
//! Validation is syntactic only: nothing here contacts a key backend.

use rsops_keys::{KeyKind, KeyOptions, MasterKey};

pub use rsops_keys::kinds::kms::parse_encryption_context as encryption_context;
pub use rsops_keys::KeySpecError;

/// Keys of `kind` from a comma-separated list, qualified by `options`.
pub fn parse(
    kind: KeyKind,
    spec: &str,
    options: &KeyOptions,
) -> Result<Vec<MasterKey>, KeySpecError> {
    kind.parse_spec(spec, options)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    proptest! {
        #[test]
        fn every_kind_parses_any_text_without_panicking(spec in ".{0,200}") {
            let options = KeyOptions { encryption_context: Vec::new(), aws_profile: "p".into() };
            for kind in KeyKind::ALL {
                let _ = parse(*kind, &spec, &options);
            }
            let _ = encryption_context(&spec);
        }
    }
}
