//! The ```console examples of the documentation, run: every `$ ` line with
//! `sh -c` in one scratch directory per block (a `.sops.yaml` for the demo
//! key, `SOPS_AGE_KEY_FILE` set, `rsops` on PATH), its stdout compared with
//! the lines that follow it; a line `...` stands for any lines.

use std::path::Path;

use crate::common::{Scratch, DEMO_RECIPIENT};

/// The documents whose console examples run offline.
const DOCS: &[&str] = &["migrate-from-sops.md"];

/// The console blocks of `text`: (command, expected stdout) pairs.
fn blocks(text: &str) -> Vec<Vec<(String, Vec<String>)>> {
    let mut out = Vec::new();
    let mut current: Option<Vec<(String, Vec<String>)>> = None;
    for line in text.lines() {
        match (&mut current, line) {
            (None, "```console") => current = Some(Vec::new()),
            (Some(_), "```") => out.extend(current.take()),
            (Some(block), l) => match l.strip_prefix("$ ") {
                Some(cmd) => block.push((cmd.to_owned(), Vec::new())),
                None => block
                    .last_mut()
                    .expect("a console block starts with a `$ ` line")
                    .1
                    .push(l.to_owned()),
            },
            (None, _) => {}
        }
    }
    out
}

/// Whether `got` matches `want`, where one `...` line matches any lines.
fn matches(want: &[String], got: &[&str]) -> bool {
    match want.iter().position(|l| l == "...") {
        None => want.iter().map(String::as_str).eq(got.iter().copied()),
        Some(i) => {
            let (head, tail) = (&want[..i], &want[i + 1..]);
            got.len() >= head.len() + tail.len()
                && head
                    .iter()
                    .map(String::as_str)
                    .eq(got[..head.len()].iter().copied())
                && tail
                    .iter()
                    .map(String::as_str)
                    .eq(got[got.len() - tail.len()..].iter().copied())
        }
    }
}

#[test]
fn the_docs_console_examples_produce_what_they_show() {
    let mut ran = 0;
    for doc in DOCS {
        let path = Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("../../docs")
            .join(doc);
        let text = std::fs::read_to_string(&path).expect("read doc");
        for block in blocks(&text) {
            let s = Scratch::new();
            s.write(
                ".sops.yaml",
                format!("creation_rules:\n  - age: {DEMO_RECIPIENT}\n").as_bytes(),
            );
            let bin = s.path("bin");
            super::ecosystem::install_as(&bin, "rsops");
            let search = std::env::join_paths(std::iter::once(bin).chain(std::env::split_paths(
                &std::env::var_os("PATH").unwrap_or_default(),
            )))
            .expect("PATH");
            for (cmd, want) in block {
                let out = s.run_env(
                    Path::new("sh"),
                    &["-c", &cmd],
                    Some(&super::common::demo_key_file()),
                    &[("PATH", search.as_os_str())],
                    None,
                );
                let stdout = String::from_utf8_lossy(&out.stdout);
                assert!(
                    out.status.success(),
                    "{doc}: `{cmd}` failed: {}",
                    String::from_utf8_lossy(&out.stderr)
                );
                let got: Vec<&str> = stdout.lines().collect();
                assert!(
                    matches(&want, &got),
                    "{doc}: `{cmd}` printed\n{stdout}\ninstead of\n{}",
                    want.join("\n")
                );
                ran += 1;
            }
        }
    }
    assert!(ran >= 10, "only {ran} example commands found");
}

#[test]
fn the_example_matcher_is_strict() {
    let w = |v: &[&str]| v.iter().map(|s| (*s).to_owned()).collect::<Vec<_>>();
    assert!(matches(&w(&["a", "...", "z"]), &["a", "b", "c", "z"]));
    assert!(!matches(&w(&["a", "...", "z"]), &["a", "b"]));
    assert!(!matches(&w(&["a"]), &["a", "b"]));
    assert!(matches(&w(&[]), &[]));
}
