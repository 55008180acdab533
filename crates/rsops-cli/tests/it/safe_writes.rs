//! Writes land in the file the user meant: through a symbolic link (the
//! link stays a link), into a FIFO as a stream (it stays a FIFO), and never
//! over a directory or through a link to nothing.

use std::fs;
use std::io::Read;
use std::os::unix::fs::{FileTypeExt, MetadataExt, PermissionsExt};
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

/// Whether the tests run as root (they then run rsops as `nobody` where a
/// permission must bite).
fn is_root() -> bool {
    nix::unistd::geteuid().is_root()
}

/// The uid and gid of `nobody` (65534 on Linux).
const NOBODY: u32 = 65534;

/// Runs rsops with `args` in the scratch directory as `nobody` when the
/// tests run as root (so that directory permissions apply), else as the
/// current user.
fn rsops_unprivileged(s: &Scratch, args: &[&str]) -> std::process::Output {
    use std::os::unix::process::CommandExt;
    let mut cmd = s.rsops_command();
    if is_root() {
        // The scratch directory (0700) must be reachable for `nobody`.
        fs::set_permissions(s.dir.path(), fs::Permissions::from_mode(0o755)).unwrap();
        cmd.uid(NOBODY).gid(NOBODY);
    }
    cmd.args(args).output().unwrap()
}

/// Decrypts `name` and returns the plaintext (asserting success).
fn decrypted(s: &Scratch, name: &str) -> String {
    String::from_utf8(ok(&s.rsops(&["decrypt", name]), "decrypt")).unwrap()
}

#[test]
fn hard_links_stay_links_to_the_same_file() {
    let s = Scratch::new();
    s.write("a.yaml", b"a: MARKER-plain\n");
    fs::hard_link(s.path("a.yaml"), s.path("b.yaml")).unwrap();
    let ino = fs::metadata(s.path("a.yaml")).unwrap().ino();
    ok(
        &s.rsops(&["encrypt", "-i", "--age", DEMO_RECIPIENT, "a.yaml"]),
        "encrypt -i of a hard-linked file",
    );
    for name in ["a.yaml", "b.yaml"] {
        let meta = fs::metadata(s.path(name)).unwrap();
        assert_eq!((meta.ino(), meta.nlink()), (ino, 2), "{name}");
        let text = fs::read_to_string(s.path(name)).unwrap();
        assert!(text.contains("ENC[AES256_GCM"), "{name}: {text}");
    }
    // Shorter content than before: the old tail is cut off.
    ok(&s.rsops(&["decrypt", "-i", "b.yaml"]), "decrypt -i");
    assert_eq!(
        fs::read_to_string(s.path("a.yaml")).unwrap(),
        "a: MARKER-plain\n"
    );
    assert_eq!(fs::metadata(s.path("a.yaml")).unwrap().ino(), ino);
    // Nothing else was created next to them.
    let names: Vec<_> = fs::read_dir(s.dir.path())
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .filter(|n| n.starts_with(".rsops-"))
        .collect();
    assert!(names.is_empty(), "{names:?}");
}

#[test]
fn mode_owner_and_group_are_kept() {
    let s = Scratch::new();
    let file = s.write("f.yaml", b"a: MARKER-plain\n");
    fs::set_permissions(&file, fs::Permissions::from_mode(0o640)).unwrap();
    let (uid, gid) = if is_root() {
        nix::unistd::chown(
            &file,
            Some(nix::unistd::Uid::from_raw(NOBODY)),
            Some(nix::unistd::Gid::from_raw(NOBODY)),
        )
        .unwrap();
        (NOBODY, NOBODY)
    } else {
        let meta = fs::metadata(&file).unwrap();
        (meta.uid(), meta.gid())
    };
    ok(
        &s.rsops(&["encrypt", "-i", "--age", DEMO_RECIPIENT, "f.yaml"]),
        "encrypt -i",
    );
    let meta = fs::metadata(&file).unwrap();
    assert_eq!(
        (meta.uid(), meta.gid(), meta.mode() & 0o7777),
        (uid, gid, 0o640)
    );
    assert!(decrypted(&s, "f.yaml").contains("MARKER-plain"));
}

#[test]
fn a_writable_file_in_a_read_only_directory_is_written_in_place() {
    let s = Scratch::new();
    fs::create_dir(s.path("locked")).unwrap();
    let file = s.write("locked/f.yaml", b"a: MARKER-plain\n");
    if is_root() {
        nix::unistd::chown(
            &file,
            Some(nix::unistd::Uid::from_raw(NOBODY)),
            Some(nix::unistd::Gid::from_raw(NOBODY)),
        )
        .unwrap();
        fs::set_permissions(&file, fs::Permissions::from_mode(0o644)).unwrap();
    } else {
        fs::set_permissions(s.path("locked"), fs::Permissions::from_mode(0o555)).unwrap();
    }
    let ino = fs::metadata(&file).unwrap().ino();
    let out = rsops_unprivileged(
        &s,
        &["encrypt", "-i", "--age", DEMO_RECIPIENT, "locked/f.yaml"],
    );
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{out:?}");
    assert!(
        err.contains("cannot create a temporary file next to locked/f.yaml (the directory is not writable): writing it in place"),
        "{err}"
    );
    assert_eq!(fs::metadata(&file).unwrap().ino(), ino);
    let text = fs::read_to_string(&file).unwrap();
    assert!(text.contains("ENC[AES256_GCM") && !text.contains("MARKER-plain"));
    // A new file cannot be created there: a clear error, nothing written.
    let out = rsops_unprivileged(
        &s,
        &["decrypt", "--output", "locked/new.yaml", "locked/f.yaml"],
    );
    assert_eq!(out.status.code(), Some(3), "{out:?}");
    assert!(!s.path("locked/new.yaml").exists());
    fs::set_permissions(s.path("locked"), fs::Permissions::from_mode(0o755)).unwrap();
    assert!(decrypted(&s, "locked/f.yaml").contains("MARKER-plain"));
}

/// Not root: a group-writable file of another owner is written in place
/// (a new file could not be given that owner), with a note; as root the
/// test runs rsops as `nobody` on a root-owned file.
#[test]
fn a_file_of_another_owner_is_written_in_place_keeping_the_owner() {
    if !is_root() {
        eprintln!("note: needs root to create a file of another owner; skipped");
        return;
    }
    let s = Scratch::new();
    fs::create_dir(s.path("shared")).unwrap();
    fs::set_permissions(s.path("shared"), fs::Permissions::from_mode(0o777)).unwrap();
    let file = s.write("shared/f.yaml", b"a: MARKER-plain\n");
    nix::unistd::chown(&file, None, Some(nix::unistd::Gid::from_raw(NOBODY))).unwrap();
    fs::set_permissions(&file, fs::Permissions::from_mode(0o664)).unwrap();
    let out = rsops_unprivileged(
        &s,
        &["encrypt", "-i", "--age", DEMO_RECIPIENT, "shared/f.yaml"],
    );
    assert!(out.status.success(), "{out:?}");
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("shared/f.yaml belongs to another user or group that a new file cannot be given: writing it in place"),
        "{err}"
    );
    let meta = fs::metadata(&file).unwrap();
    assert_eq!(
        (meta.uid(), meta.gid(), meta.mode() & 0o777),
        (0, NOBODY, 0o664)
    );
    assert!(decrypted(&s, "shared/f.yaml").contains("MARKER-plain"));
}
