//! Writes land in the file the user meant: through a symbolic link (the
//! link stays a link), into a FIFO as a stream (it stays a FIFO), and never
//! over a directory or through a link to nothing.

use std::fs;
use std::io::Read;
use std::os::unix::fs::FileTypeExt;
use std::path::Path;

use crate::common::{ok, Scratch, DEMO_RECIPIENT};

/// The encrypted form of `a: MARKER-plain` in `real.yaml`.
fn encrypted(s: &Scratch) -> std::path::PathBuf {
    s.write("plain.yaml", b"a: MARKER-plain\n");
    let out = s.rsops(&["encrypt", "--age", DEMO_RECIPIENT, "plain.yaml"]);
    s.write("real.yaml", &ok(&out, "encrypt"))
}

#[test]
fn in_place_writes_go_through_a_symbolic_link() {
    let s = Scratch::new();
    s.write("real.yaml", b"a: MARKER-plain\n");
    std::os::unix::fs::symlink("real.yaml", s.path("link.yaml")).unwrap();
    ok(
        &s.rsops(&["encrypt", "-i", "--age", DEMO_RECIPIENT, "link.yaml"]),
        "encrypt -i through a link",
    );
    let link = fs::symlink_metadata(s.path("link.yaml")).unwrap();
    assert!(link.file_type().is_symlink(), "the link was replaced");
    let real = fs::read_to_string(s.path("real.yaml")).unwrap();
    assert!(
        !real.contains("MARKER-plain"),
        "the target is still plaintext"
    );
    assert!(real.contains("ENC[AES256_GCM"), "{real}");
    ok(
        &s.rsops(&["decrypt", "-i", "link.yaml"]),
        "decrypt -i through a link",
    );
    assert_eq!(
        fs::read_to_string(s.path("real.yaml")).unwrap(),
        "a: MARKER-plain\n"
    );
    assert!(fs::symlink_metadata(s.path("link.yaml"))
        .unwrap()
        .file_type()
        .is_symlink());
}

#[test]
fn output_into_a_fifo_is_streamed_and_the_fifo_stays() {
    let s = Scratch::new();
    encrypted(&s);
    let fifo = s.path("out.fifo");
    nix::unistd::mkfifo(&fifo, nix::sys::stat::Mode::from_bits_truncate(0o600)).unwrap();
    let reader = {
        let fifo = fifo.clone();
        std::thread::spawn(move || {
            let mut got = String::new();
            fs::File::open(&fifo)
                .and_then(|mut f| f.read_to_string(&mut got))
                .map(|_| got)
        })
    };
    ok(
        &s.rsops(&["decrypt", "--output", "out.fifo", "real.yaml"]),
        "decrypt --output FIFO",
    );
    assert_eq!(reader.join().unwrap().unwrap(), "a: MARKER-plain\n");
    assert!(fs::symlink_metadata(&fifo).unwrap().file_type().is_fifo());
}

/// Runs a decrypt to `output`, which must fail with exit 3 and leave no
/// plaintext anywhere in the directory.
fn refused(s: &Scratch, output: &str) -> String {
    let out = s.rsops(&["decrypt", "--output", output, "real.yaml"]);
    assert_eq!(out.status.code(), Some(3), "{out:?}");
    assert!(out.stdout.is_empty());
    let err = String::from_utf8_lossy(&out.stderr).into_owned();
    assert!(!err.contains("MARKER-plain"), "{err}");
    for entry in fs::read_dir(s.dir.path()).unwrap() {
        let path = entry.unwrap().path();
        if path.is_file() && path.file_name() != Some("plain.yaml".as_ref()) {
            let text = fs::read(&path).unwrap();
            assert!(
                !String::from_utf8_lossy(&text).contains("MARKER-plain"),
                "plaintext left in {}",
                path.display()
            );
        }
    }
    err
}

#[test]
fn a_link_to_nothing_and_a_directory_are_refused() {
    let s = Scratch::new();
    encrypted(&s);
    std::os::unix::fs::symlink("missing.yaml", s.path("dangling.yaml")).unwrap();
    let err = refused(&s, "dangling.yaml");
    assert!(
        err.contains("symbolic link to a file that does not exist"),
        "{err}"
    );
    assert!(!Path::new(&s.path("missing.yaml")).exists());
    fs::create_dir(s.path("dir")).unwrap();
    let err = refused(&s, "dir");
    assert!(err.contains("it is a directory"), "{err}");
}
