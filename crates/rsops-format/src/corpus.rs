//! The sops fixtures (`testdata/sops/cases` of the repository, made by the
//! real sops 3.11 with `scripts/make-fixtures.sh`), which the stores' unit
//! tests read.

/// The cases directory, without a trailing `/`.
pub(crate) const CASES: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../../testdata/sops/cases");

/// The file `rel` (`case/file`) of the fixtures.
pub(crate) fn read(rel: &str) -> Vec<u8> {
    let path = format!("{CASES}/{rel}");
    std::fs::read(&path).unwrap_or_else(|e| panic!("{path}: {e}"))
}
