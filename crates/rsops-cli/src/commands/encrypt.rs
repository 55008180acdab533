//! `rsops encrypt` (and legacy `-e`): creation rules, key flags and
//! selection flags merged as sops merges them. With `-i`,
//! several files in one process, in parallel (see `decrypt::for_each_file`).

use std::io::Write;
use std::path::{Path, PathBuf};

use rsops_core::config::{CreationRule, SelectionFields};
use rsops_core::file::{self, EncryptOptions, StreamError};
use rsops_core::selection::{Selection, SelectionKind};
use rsops_format::{store, EmitOptions, Format, SecretBytes};
use rsops_keys::KeyService;

use super::decrypt::{drop_in_background, LazyService, BACKGROUND_DROP_MIN_INPUT};
use super::{deliver, stores};
use crate::error::{CmdResult, Error};
use crate::io::Sensitivity;
use crate::settings::{EncryptSettings, NewKeys, Output};

/// Runs `encrypt` on the file (or stdin).
pub fn run(req: &EncryptSettings) -> CmdResult {
    let file = req.files.first().map(PathBuf::as_path);
    super::check_output_flags(&req.output, file)?;
    if file.is_none() && req.common.filename_override.is_none() {
        return Err(Error::StdinNeedsFilenameOverride);
    }
    let session = Session::new(req, file)?;
    session.encrypt_file(file, crate::io::Commit::Now)
}

/// Runs `encrypt -i` on several files: in parallel, each with its own new
/// data key and creation rule, each written in place; one line per failing
/// file, and the exit code of the first failing file (in argument order).
/// Without `-i`, several files are refused (exit 8).
pub fn run_many(req: &EncryptSettings) -> CmdResult {
    super::decrypt::check_many(&req.output, req.files.len())?;
    let session = Session::new(req, req.files.first().map(PathBuf::as_path))?;
    super::decrypt::for_each_file(&req.files, |file, commit| {
        session.encrypt_file(Some(file), commit)
    })
}

/// What is shared by every file of one `encrypt` run.
struct Session<'r> {
    req: &'r EncryptSettings,
    loaded: Option<crate::config::Loaded>,
    opts: EmitOptions,
    service: LazyService<'r>,
}

impl<'r> Session<'r> {
    /// Loads the configuration.
    fn new(req: &'r EncryptSettings, file: Option<&Path>) -> CmdResult<Session<'r>> {
        // With RSOPS_CONFIG_FROM_FILE_DIR the search starts at the file.
        let name = req.common.filename_override.as_deref().or(file);
        let loaded = crate::config::load_for_file(req.common.config.as_deref(), name)?;
        let opts = crate::config::emit_options(loaded.as_ref(), req.common.indent)?;
        Ok(Session {
            req,
            loaded,
            opts,
            service: LazyService::new(&req.common),
        })
    }

    /// Encrypts one file (or stdin) with a new data key and writes the
    /// result where the flags say.
    fn encrypt_file(&self, file: Option<&Path>, commit: crate::io::Commit<'_>) -> CmdResult {
        let req = self.req;
        let (input_format, output_format) = stores(&req.common, file);

        let match_name = req
            .common
            .filename_override
            .as_deref()
            .or(file)
            .unwrap_or(Path::new(""));
        let rule = crate::config::creation_rule(self.loaded.as_ref(), match_name)?;
        let opts = options(
            rule,
            &req.keys,
            &req.selection,
            req.mac_only_encrypted,
            (input_format == Format::Binary).then_some(Binary::Warn),
        )?;
        let input = SecretBytes::from(crate::io::read_input(file)?);
        if store::can_stream(input_format, output_format, &input) {
            let job = Streamed {
                input: &input,
                input_format,
                output_format,
                emit: &self.opts,
                opts: &opts,
                service: self.service.get()?,
            };
            return match output_target(&req.output, file) {
                Some(path) => job.to_file(path, commit),
                None => job.to_stdout(),
            };
        }
        let mut docs =
            store::load_plain_with(input_format, &input, &self.opts, crate::parallel::threads())
                .map_err(|e| Error::unmarshal(e, input_format))?;
        drop(input);
        if store::has_metadata(output_format, &docs) {
            return Err(Error::AlreadyEncrypted);
        }
        let service = self.service.get()?;
        let md = file::encrypt(&mut docs, &opts, service, time::OffsetDateTime::now_utc())
            .map_err(Error::encrypting)?;
        let out =
            store::emit_encrypted_in_place(output_format, &mut docs, md.to_tree(), &self.opts)
                .map_err(Error::Dump)?;
        if out.len() >= BACKGROUND_DROP_MIN_INPUT {
            drop_in_background(docs);
        }
        deliver(&req.output, file, &out, Sensitivity::Encrypted, commit)
    }
}

/// The file the result goes to (as [`deliver`] chooses it); `None` for
/// standard output.
fn output_target<'a>(output: &'a Output, file: Option<&'a Path>) -> Option<&'a Path> {
    match file {
        Some(f) if output.in_place => Some(f),
        _ => output.output.as_deref(),
    }
}

/// One YAML/JSON file encrypted while it is written
/// ([`file::encrypt_streaming`]): neither the whole tree nor the whole
/// output is held in memory.
struct Streamed<'a> {
    input: &'a [u8],
    input_format: Format,
    output_format: Format,
    emit: &'a EmitOptions,
    opts: &'a EncryptOptions,
    service: &'a dyn KeyService,
}

impl Streamed<'_> {
    /// Encrypts into `out` (written by the worker threads in turn).
    fn run(&self, out: &mut (dyn Write + Send)) -> Result<(), StreamError> {
        file::encrypt_streaming(
            self.input,
            self.input_format,
            self.output_format,
            self.emit,
            self.opts,
            self.service,
            time::OffsetDateTime::now_utc(),
            crate::parallel::threads(),
            out,
        )
    }

    /// The sops failure for a streaming error (write errors here are those
    /// of standard output).
    fn failure(&self, e: StreamError) -> Error {
        match e {
            StreamError::Read(e) => Error::unmarshal(e, self.input_format),
            StreamError::AlreadyEncrypted => Error::AlreadyEncrypted,
            StreamError::Core(e) => Error::encrypting(e),
            StreamError::Dump(e) => Error::Dump(e),
            StreamError::Io(e) => Error::WriteStdout(e),
        }
    }

    /// Streams into a temporary file next to `path`, renamed over it only
    /// when everything succeeded: on any error `path` is left untouched.
    fn to_file(&self, path: &Path, commit: crate::io::Commit<'_>) -> CmdResult {
        let mut failure = None;
        let written = crate::io::write_atomic_with(path, Sensitivity::Encrypted, commit, |w| {
            self.run(w).map_err(|e| match e {
                StreamError::Io(io) => io,
                other => {
                    failure = Some(self.failure(other));
                    std::io::Error::other("encryption failed")
                }
            })
        });
        match failure {
            Some(f) => Err(f),
            None => written,
        }
    }

    /// Streams to standard output. The first [`HOLD_BACK`] bytes are held
    /// back, so that an output of that size is written only once complete
    /// and a failure writes nothing (as before streaming); a larger output
    /// goes out as it is produced, and a failure after that leaves the
    /// part already written on stdout (with the error and its exit code).
    fn to_stdout(&self) -> CmdResult {
        let mut out = HeldStdout::new();
        self.run(&mut out).map_err(|e| self.failure(e))?;
        out.commit().map_err(|e| self.failure(StreamError::Io(e)))
    }
}

/// How much streamed output [`HeldStdout`] keeps back.
const HOLD_BACK: usize = 1 << 20;

/// Buffered standard output (not its lock, which cannot move between the
/// threads that write in turn).
type StdoutBuf = std::io::BufWriter<std::io::Stdout>;

/// Standard output that keeps back the first [`HOLD_BACK`] bytes until
/// [`HeldStdout::commit`], then passes everything through.
struct HeldStdout {
    held: Vec<u8>,
    out: Option<StdoutBuf>,
}

impl HeldStdout {
    fn new() -> Self {
        HeldStdout {
            held: Vec::new(),
            out: None,
        }
    }

    /// Standard output, opened (with what was held back written first)
    /// when the output no longer fits the held-back part.
    fn passing(&mut self) -> std::io::Result<&mut StdoutBuf> {
        let out = match self.out.take() {
            Some(out) => out,
            None => {
                let mut out = std::io::BufWriter::with_capacity(1 << 16, std::io::stdout());
                out.write_all(&self.held)?;
                self.held = Vec::new();
                out
            }
        };
        Ok(self.out.insert(out))
    }

    /// Writes what is held back and flushes: the output is complete.
    fn commit(mut self) -> std::io::Result<()> {
        self.passing()?.flush()
    }
}

impl Write for HeldStdout {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        if self.out.is_none() && self.held.len() + buf.len() <= HOLD_BACK {
            self.held.extend_from_slice(buf);
            return Ok(buf.len());
        }
        self.passing()?.write(buf)
    }

    /// Flushes only what already passes through: held-back output waits
    /// for [`HeldStdout::commit`].
    fn flush(&mut self) -> std::io::Result<()> {
        match self.out.as_mut() {
            Some(out) => out.flush(),
            None => Ok(()),
        }
    }
}

/// A file of the binary store, whose selection rules are ignored.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Binary {
    /// Warn when a selection rule is set (`encrypt`).
    Warn,
    /// Ignore it silently (`edit` of a new file).
    Quiet,
}

/// How a new file is encrypted (`encrypt`, and `edit` of a new file): the
/// keys of the flags, else those of the creation rule; the selection of
/// the flags over the rule's (ignored for the binary store); `--mac-only-encrypted` or the rule's; the flags' Shamir
/// threshold, else the rule's.
pub(crate) fn options(
    rule: Option<&CreationRule>,
    keys: &NewKeys,
    selection: &SelectionFields,
    mac_only_encrypted: bool,
    binary: Option<Binary>,
) -> CmdResult<EncryptOptions> {
    let cli_keys = keys.master_keys()?;
    let key_groups = match rule {
        _ if !cli_keys.is_empty() => vec![cli_keys],
        // A rule without keys (none, `key_groups: []`, `key_groups: [{}]`)
        // is one empty group, which wrapping the data key refuses as sops
        // does (`Could not generate data key: [empty key group provided]`).
        Some(r) if r.key_groups.is_empty() => vec![Vec::new()],
        Some(r) => r.key_groups.clone(),
        None => return Err(Error::NoKeys),
    };
    if selection.count_set() > 1 {
        return Err(Error::SelectionConflict);
    }
    let fields = match rule {
        Some(r) => r.selection.merged_over(selection),
        None => selection.clone(),
    };
    if fields.count_set() > 1 {
        return Err(Error::SelectionConflict);
    }
    let selection = if let Some(binary) = binary {
        if binary == Binary::Warn && fields.count_set() > 0 {
            crate::warn("Using an encrypted regex or suffix does not make sense with the binary store; it is ignored");
        }
        None
    } else {
        Some(selection_of(&fields)?.unwrap_or_else(Selection::default_rule))
    };
    Ok(EncryptOptions {
        key_groups,
        shamir_threshold: keys
            .shamir_threshold
            .filter(|t| *t != 0)
            .or(rule.map(|r| r.shamir_threshold))
            .unwrap_or(0),
        selection,
        mac_only_encrypted: binary.is_none()
            && (mac_only_encrypted || rule.is_some_and(|r| r.mac_only_encrypted)),
    })
}

/// The one selection rule the fields set, compiled.
pub fn selection_of(fields: &SelectionFields) -> CmdResult<Option<Selection>> {
    let pairs = [
        (SelectionKind::UnencryptedSuffix, &fields.unencrypted_suffix),
        (SelectionKind::EncryptedSuffix, &fields.encrypted_suffix),
        (SelectionKind::UnencryptedRegex, &fields.unencrypted_regex),
        (SelectionKind::EncryptedRegex, &fields.encrypted_regex),
        (
            SelectionKind::UnencryptedCommentRegex,
            &fields.unencrypted_comment_regex,
        ),
        (
            SelectionKind::EncryptedCommentRegex,
            &fields.encrypted_comment_regex,
        ),
    ];
    for (kind, value) in pairs {
        if let Some(pattern) = value.as_deref().filter(|p| !p.is_empty()) {
            return Selection::new(kind, pattern)
                .map(Some)
                .map_err(Error::Selection);
        }
    }
    Ok(None)
}
