//! The sops conformance corpus (`../shared/conformance/cases`, beside the
//! project), which the stores' unit tests read.

/// The corpus directory, without a trailing `/`.
pub(crate) const CASES: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/../../../shared/conformance/cases"
);

/// The file `rel` (`case/file`) of the corpus.
pub(crate) fn read(rel: &str) -> Vec<u8> {
    let path = format!("{CASES}/{rel}");
    std::fs::read(&path).unwrap_or_else(|e| panic!("{path}: {e}"))
}
