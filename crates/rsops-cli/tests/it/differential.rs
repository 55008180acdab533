//! Differential tests against the reference sops: every input is encrypted
//! by both tools with the demo age key, and each ciphertext is decrypted by
//! both. The two tools must agree on accepting or refusing the input (and
//! on the exit code), and the four decryptions (sops→sops, sops→rsops,
//! rsops→sops, rsops→rsops) must print the same bytes.
//!
//! Inputs are the hand-written specification examples in
//! `testdata/differential/` and generated YAML, JSON, dotenv and INI
//! documents (`gen.rs`, seeded, so a run is repeatable). Differences that
//! are deliberate are listed in [`KNOWN`], each keyed to its entry of
//! `docs/compatibility.md`; anything else fails the test.
//!
//! `RSOPS_DIFFERENTIAL_CASES` sets the number of generated documents per
//! format (default 6); `RSOPS_DIFFERENTIAL_SEED` the seed (a number).

#[path = "differential/gen.rs"]
mod gen;

use std::path::Path;

use proptest::strategy::{Strategy, ValueTree};
use proptest::test_runner::{Config, RngAlgorithm, TestRng, TestRunner};

use crate::common::{sops, Scratch, DEMO_RECIPIENT};

/// Fixtures whose results differ on purpose: file name → the entry of
/// `docs/compatibility.md` ("Formats") that explains it. An entry whose
/// fixture no longer differs fails the test (the list stays honest).
const KNOWN: &[(&str, &str)] = &[
    ("yaml12_directive.yaml", "F-yaml-1.2"),
    ("flow_key_on_next_line.yaml", "F-yaml-1.2"),
    ("flow_key_colon_comma.yaml", "F-odd-keys"),
    ("flow_question_key.yaml", "F-odd-keys"),
    ("anchor_with_colon.yaml", "F-odd-keys"),
    ("truncated.json", "F-json-truncated"),
    ("json_above_2_53.json", "F-sops-3.13-json-numbers"),
    ("nested_list_foot_comment.yaml", "F-sops-comment-aad"),
    ("binary_key.yaml", "F-binary-key"),
];

/// What one tool did with one input.
#[derive(Debug)]
struct Run {
    code: Option<i32>,
    stdout: Vec<u8>,
    stderr: String,
}

fn run(s: &Scratch, program: &Path, args: &[&str]) -> Run {
    let out = s.sops(program, args);
    Run {
        code: out.status.code(),
        stdout: out.stdout,
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    }
}

/// Runs one input through both tools: `Ok(true)` when both encrypted and
/// decrypted it alike, `Ok(false)` when both refused it alike; `Err`
/// describes the first difference.
fn compare(sops_bin: &Path, ext: &str, input: &[u8]) -> Result<bool, String> {
    let s = Scratch::new();
    let rsops_bin = Path::new(env!("CARGO_BIN_EXE_rsops"));
    let name = format!("in.{ext}");
    s.write(&name, input);
    let enc = ["encrypt", "--age", DEMO_RECIPIENT, name.as_str()];
    let by_sops = run(&s, sops_bin, &enc);
    let by_rsops = run(&s, rsops_bin, &enc);
    let sops_ok = by_sops.code == Some(0);
    if sops_ok != (by_rsops.code == Some(0)) || by_sops.code != by_rsops.code {
        return Err(format!(
            "encrypt: sops exit {:?} ({}), rsops exit {:?} ({})",
            by_sops.code,
            by_sops.stderr.trim(),
            by_rsops.code,
            by_rsops.stderr.trim()
        ));
    }
    if !sops_ok {
        return Ok(false);
    }
    let sops_enc = format!("sops.enc.{ext}");
    let rsops_enc = format!("rsops.enc.{ext}");
    s.write(&sops_enc, &by_sops.stdout);
    s.write(&rsops_enc, &by_rsops.stdout);
    let mut outputs = Vec::new();
    for (file, tool, bin) in [
        (&sops_enc, "sops", sops_bin),
        (&sops_enc, "rsops", rsops_bin),
        (&rsops_enc, "sops", sops_bin),
        (&rsops_enc, "rsops", rsops_bin),
    ] {
        let r = run(&s, bin, &["decrypt", file.as_str()]);
        if r.code != Some(0) {
            return Err(format!(
                "{tool} cannot decrypt {file}: exit {:?}: {}",
                r.code,
                r.stderr.trim()
            ));
        }
        outputs.push((format!("{file} decrypted by {tool}"), r.stdout));
    }
    let (first_name, first) = &outputs[0];
    for (what, out) in &outputs[1..] {
        if out != first {
            return Err(format!(
                "{what} differs from {first_name}:\n--- {first_name}\n{:?}\n--- {what}\n{:?}",
                String::from_utf8_lossy(first),
                String::from_utf8_lossy(out)
            ));
        }
    }
    Ok(true)
}

fn fixtures_dir() -> std::path::PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../testdata/differential")
}

#[test]
fn specification_examples_behave_like_sops() {
    let Some(sops_bin) = sops() else { return };
    let mut files: Vec<_> = std::fs::read_dir(fixtures_dir())
        .expect("testdata/differential")
        .map(|e| e.expect("entry").path())
        .filter(|p| p.extension().is_some_and(|e| e == "yaml" || e == "json"))
        .collect();
    files.sort();
    assert!(files.len() >= 20, "fixtures missing");
    let mut failures = Vec::new();
    for path in &files {
        let name = path.file_name().and_then(|n| n.to_str()).unwrap_or("");
        let ext = path.extension().and_then(|e| e.to_str()).unwrap_or("");
        let input = std::fs::read(path).expect("read fixture");
        let known = KNOWN.iter().find(|(f, _)| *f == name);
        match (compare(&sops_bin, ext, &input), known) {
            (Ok(_), None) | (Err(_), Some(_)) => {}
            (Ok(_), Some((_, entry))) => failures.push(format!(
                "{name}: listed as a known difference ({entry}) but both tools agree now"
            )),
            (Err(e), None) => failures.push(format!("{name}: {e}")),
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n\n"));
}

/// The number of generated documents per format.
fn cases() -> u32 {
    std::env::var("RSOPS_DIFFERENTIAL_CASES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(6)
}

/// The seed of the generators (fixed unless set, so CI runs repeat).
fn seed() -> [u8; 32] {
    let n: u64 = std::env::var("RSOPS_DIFFERENTIAL_SEED")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(0x005e_ed0f_d1ff);
    let mut seed = [0u8; 32];
    seed[..8].copy_from_slice(&n.to_le_bytes());
    seed
}

/// Generates `cases()` documents with `strategy` and compares each; on a
/// difference, shrinks it a little and fails with the smallest input found.
fn generated(ext: &str, strategy: impl Strategy<Value = String>) {
    let Some(sops_bin) = sops() else { return };
    let config = Config {
        cases: cases(),
        rng_algorithm: RngAlgorithm::ChaCha,
        ..Config::default()
    };
    let mut runner =
        TestRunner::new_with_rng(config, TestRng::from_seed(RngAlgorithm::ChaCha, &seed()));
    let mut accepted = 0;
    for _ in 0..cases() {
        let mut tree = strategy.new_tree(&mut runner).expect("generate");
        let first = match compare(&sops_bin, ext, tree.current().as_bytes()) {
            Ok(true) => {
                accepted += 1;
                continue;
            }
            Ok(false) => continue,
            Err(e) => e,
        };
        // A few shrinking steps (each costs six processes).
        let mut smallest = (tree.current(), first);
        for _ in 0..24 {
            if !tree.simplify() {
                break;
            }
            match compare(&sops_bin, ext, tree.current().as_bytes()) {
                Err(e) => smallest = (tree.current(), e),
                Ok(_) => {
                    if !tree.complicate() {
                        break;
                    }
                }
            }
        }
        panic!(
            "{ext}: sops and rsops differ on\n{:?}\n{}",
            smallest.0, smallest.1
        );
    }
    // The generators make valid documents: most must be encrypted (a
    // run where both tools refuse everything proves nothing).
    assert!(
        accepted * 2 >= cases(),
        "{ext}: only {accepted} of {} generated documents were accepted",
        cases()
    );
}

#[test]
fn generated_yaml_behaves_like_sops() {
    generated("yaml", gen::yaml_document());
}

#[test]
fn generated_json_behaves_like_sops() {
    generated("json", gen::json_document());
}

#[test]
fn generated_dotenv_behaves_like_sops() {
    generated("env", gen::dotenv_document());
}

#[test]
fn generated_ini_behaves_like_sops() {
    generated("ini", gen::ini_document());
}
