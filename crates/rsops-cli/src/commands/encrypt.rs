//! `rsops encrypt` (and legacy `-e`): creation rules, key flags and
//! selection flags merged as sops merges them (CONFIG.md §3.4). With `-i`,
//! several files in one process, in parallel (see `decrypt::for_each_file`).

use std::io::Write;

use rsops_core::config::{rule_match_path, SelectionFields};
use rsops_core::file::{self, EncryptOptions, StreamError};
use rsops_core::keyspec;
use rsops_core::selection::{Selection, SelectionKind};
use rsops_format::{store, EmitOptions, Format};
use rsops_keys::{KeyService, MasterKey};

use super::decrypt::{drop_in_background, LazyService, BACKGROUND_DROP_MIN_INPUT};
use super::{core_failure, deliver, dump_failure, read_failure, stores};
use crate::args::{CommonArgs, KeyArgs, OutputArgs};
use crate::exit::{self, CmdResult, Failure};
use crate::io::Sensitivity;

/// What `encrypt` needs from the command line.
pub struct EncryptRequest<'a> {
    /// The file (stdin when `None`).
    pub file: Option<&'a str>,
    /// Shared flags.
    pub common: &'a CommonArgs,
    /// Output flags.
    pub output: &'a OutputArgs,
    /// Key flags.
    pub keys: &'a KeyArgs,
    /// Selection flags (the comment rules only exist in legacy mode).
    pub selection: SelectionFields,
    /// `--mac-only-encrypted`.
    pub mac_only_encrypted: bool,
}

/// Runs `encrypt` on `req.file` (or stdin).
pub fn run(req: &EncryptRequest<'_>) -> CmdResult {
    super::check_output_flags(req.output, req.file)?;
    if req.file.is_none() && req.common.filename_override.is_none() {
        return Err(Failure::new(
            exit::CONFLICTING_PARAMETERS,
            "Error: --filename-override is required when encrypting from standard input (it selects the creation rule and the file type)",
        ));
    }
    let session = Session::new(req)?;
    session.encrypt_file(req.file, crate::io::Commit::Now)
}

/// Runs `encrypt -i` on several files: in parallel, each with its own new
/// data key and creation rule, each written in place; one line per failing
/// file, and the exit code of the first failing file (in argument order).
/// Without `-i`, several files are refused (exit 8).
pub fn run_many(req: &EncryptRequest<'_>, files: &[String]) -> CmdResult {
    super::decrypt::check_many(req.output, files.len())?;
    let session = Session::new(req)?;
    super::decrypt::for_each_file(files, |file, commit| {
        session.encrypt_file(Some(file), commit)
    })
}

/// What is shared by every file of one `encrypt` run.
struct Session<'r> {
    req: &'r EncryptRequest<'r>,
    loaded: Option<crate::config::Loaded>,
    opts: EmitOptions,
    service: LazyService<'r>,
}

impl<'r> Session<'r> {
    /// Loads the configuration.
    fn new(req: &'r EncryptRequest<'r>) -> CmdResult<Session<'r>> {
        // With RSOPS_CONFIG_FROM_FILE_DIR the search starts at the file.
        let name = req.common.filename_override.as_deref().or(req.file);
        let loaded = crate::config::load_for_file(
            req.common.config.as_deref(),
            name.map(std::path::Path::new),
        )?;
        let opts = crate::config::emit_options(loaded.as_ref(), req.common.indent)?;
        Ok(Session {
            req,
            loaded,
            opts,
            service: LazyService::new(req.common),
        })
    }

    /// Encrypts one file (or stdin) with a new data key and writes the
    /// result where the flags say (a file committed as `commit` says).
    fn encrypt_file(&self, file: Option<&str>, commit: crate::io::Commit<'_>) -> CmdResult {
        let req = self.req;
        let (input_format, output_format) = stores(req.common, file);

        let match_name = req
            .common
            .filename_override
            .as_deref()
            .or(file)
            .unwrap_or_default();
        let rule = match &self.loaded {
            Some(l) => {
                let abs = std::path::absolute(match_name).unwrap_or_else(|_| match_name.into());
                let path = rule_match_path(&l.dir, &abs);
                l.config
                    .creation_rule(&path)
                    .map_err(|e| Failure::new(exit::GENERIC, e.to_string()))?
            }
            None => None,
        };

        let cli_keys = keys_from_flags(req.keys)?;
        let key_groups = if !cli_keys.is_empty() {
            vec![cli_keys]
        } else {
            rule.map(|r| r.key_groups.clone()).unwrap_or_default()
        };
        if key_groups.iter().all(|g| g.is_empty()) {
            return Err(Failure::new(
                exit::GENERIC,
                "config file not found, or has no creation rules, and no keys provided through command line options: pass --age/--pgp (or SOPS_AGE_RECIPIENTS) or add a creation rule to .sops.yaml",
            ));
        }

        if req.selection.count_set() > 1 {
            return Err(Failure::new(
                exit::CONFLICTING_PARAMETERS,
                "Error: cannot use more than one of encrypted_suffix, unencrypted_suffix, encrypted_regex, unencrypted_regex, encrypted_comment_regex, or unencrypted_comment_regex",
            ));
        }
        let fields = match rule {
            Some(r) => r.selection.merged_over(&req.selection),
            None => req.selection.clone(),
        };
        if fields.count_set() > 1 {
            return Err(Failure::new(
                exit::CONFLICTING_PARAMETERS,
                "Error: cannot use more than one of encrypted_suffix, unencrypted_suffix, encrypted_regex, unencrypted_regex, encrypted_comment_regex, or unencrypted_comment_regex",
            ));
        }
        let binary = input_format == Format::Binary;
        let selection = if binary {
            if fields.count_set() > 0 {
                crate::warn("Using an encrypted regex or suffix does not make sense with the binary store; it is ignored");
            }
            None
        } else {
            Some(selection_of(&fields)?.unwrap_or_else(Selection::default_rule))
        };
        let mac_only_encrypted =
            !binary && (req.mac_only_encrypted || rule.is_some_and(|r| r.mac_only_encrypted));
        let shamir_threshold = req
            .keys
            .shamir_secret_sharing_threshold
            .filter(|t| *t != 0)
            .or(rule.map(|r| r.shamir_threshold))
            .unwrap_or(0);

        let opts = EncryptOptions {
            key_groups,
            shamir_threshold,
            selection,
            mac_only_encrypted,
        };
        let input = crate::io::read_input(file)?;
        if store::can_stream(input_format, output_format, &input) {
            let job = Streamed {
                input: &input,
                input_format,
                output_format,
                emit: &self.opts,
                opts: &opts,
                service: self.service.get()?,
            };
            return match output_target(req.output, file) {
                Some(path) => job.to_file(path, commit),
                None => job.to_stdout(),
            };
        }
        let mut docs =
            store::load_plain_with(input_format, &input, &self.opts, crate::parallel::threads())
                .map_err(|e| read_failure(e, input_format))?;
        drop(input);
        if store::has_metadata(output_format, &docs) {
            return Err(already_encrypted());
        }
        let service = self.service.get()?;
        let md = file::encrypt(&mut docs, &opts, service, time::OffsetDateTime::now_utc())
            .map_err(|e| core_failure(e, true))?;
        let out =
            store::emit_encrypted_in_place(output_format, &mut docs, md.to_tree(), &self.opts)
                .map_err(dump_failure)?;
        if out.len() >= BACKGROUND_DROP_MIN_INPUT {
            drop_in_background(docs);
        }
        deliver(req.output, file, &out, Sensitivity::Encrypted, commit)
    }
}

/// The failure for a plaintext file that already has sops metadata.
fn already_encrypted() -> Failure {
    Failure::new(
        exit::FILE_ALREADY_ENCRYPTED,
        "The file you have provided contains a top-level entry called 'sops' (or, for dotenv, a key starting with 'sops_'): it is already encrypted, or uses a reserved key. Decrypt it first, or rename that key.",
    )
}

/// The file the result goes to (as [`deliver`] chooses it); `None` for
/// standard output.
fn output_target<'a>(output: &'a OutputArgs, file: Option<&'a str>) -> Option<&'a str> {
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
    /// Encrypts into `out`.
    fn run(&self, out: &mut dyn Write) -> Result<(), StreamError> {
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
    fn failure(&self, e: StreamError) -> Failure {
        match e {
            StreamError::Read(e) => read_failure(e, self.input_format),
            StreamError::AlreadyEncrypted => already_encrypted(),
            StreamError::Core(e) => core_failure(e, true),
            StreamError::Dump(e) => dump_failure(e),
            StreamError::Io(e) => Failure::new(
                exit::COULD_NOT_WRITE_OUTPUT_FILE,
                format!("Could not write to stdout: {e}"),
            ),
        }
    }

    /// Streams into a temporary file next to `path`, renamed over it only
    /// when everything succeeded: on any error `path` is left untouched.
    fn to_file(&self, path: &str, commit: crate::io::Commit<'_>) -> CmdResult {
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

/// Buffered standard output.
type StdoutBuf = std::io::BufWriter<std::io::StdoutLock<'static>>;

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
                let mut out = std::io::BufWriter::with_capacity(1 << 16, std::io::stdout().lock());
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
                .map_err(|e| Failure::new(exit::GENERIC, e.to_string()));
        }
    }
    Ok(None)
}

/// The master keys given by flags (or their environment variables), in
/// sops's order: kms, gcp_kms, hckms, azure_kv, pgp, hc_vault, age.
pub fn keys_from_flags(k: &KeyArgs) -> CmdResult<Vec<MasterKey>> {
    let bad = |e: keyspec::KeySpecError| Failure::new(exit::GENERIC, e.to_string());
    let nonempty = |o: &Option<String>| o.clone().filter(|s| !s.trim().is_empty());
    let mut keys = Vec::new();
    let context = match nonempty(&k.encryption_context) {
        Some(spec) => keyspec::encryption_context(&spec).ok_or_else(|| {
            Failure::new(
                exit::INVALID_KMS_ENCRYPTION_CONTEXT_FORMAT,
                "Invalid KMS encryption context format: use key:value pairs separated by commas",
            )
        })?,
        None => Vec::new(),
    };
    if let Some(s) = nonempty(&k.kms) {
        keys.extend(keyspec::kms_arns(
            &s,
            &context,
            k.aws_profile.as_deref().unwrap_or(""),
        ));
    }
    if let Some(s) = nonempty(&k.gcp_kms) {
        keys.extend(keyspec::gcp_kms_ids(&s));
    }
    if let Some(s) = nonempty(&k.hckms) {
        keys.extend(keyspec::hckms_ids(&s).map_err(bad)?);
    }
    if let Some(s) = nonempty(&k.azure_kv) {
        keys.extend(keyspec::azure_kv_urls(&s).map_err(bad)?);
    }
    if let Some(s) = nonempty(&k.pgp) {
        keys.extend(keyspec::pgp_fingerprints(&s));
    }
    if let Some(s) = nonempty(&k.hc_vault_transit) {
        keys.extend(keyspec::hc_vault_uris(&s).map_err(bad)?);
    }
    if let Some(s) = nonempty(&k.age) {
        keys.extend(keyspec::age_recipients(&s).map_err(bad)?);
    }
    Ok(keys)
}
