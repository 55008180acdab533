//! The `ENC[AES256_GCM,...]` value codec and the typed
//! plaintext serialisation of tree values (§3.3).
//!
//! * [`ValueCipher`] holds the AES-256 key schedule of one data key and
//!   encrypts/decrypts value strings; build it once per file (the free
//!   functions [`encrypt`] and [`decrypt`] are thin wrappers for one-off use).
//! * [`encode_scalar`] / [`decode_scalar`] turn tree scalars into the
//!   plaintext bytes sops encrypts and hashes, and back, with Go's parsing
//!   rules (`strconv.Atoi`, `ParseFloat`, `ParseBool`, RFC 3339 times, all
//!   from [`rsops_format::go`]).
//!
//! Value strings are parsed by hand (no regex) with the semantics of the sops
//! regular expression `^ENC\[AES256_GCM,data:(.+),iv:(.+),tag:(.+),type:(.+)\]`.
//! Error messages never contain plaintext, keys or the value string itself.

use std::fmt;
use std::str::FromStr;

use aes::Aes256;
use aes_gcm::aead::generic_array::typenum;
use aes_gcm::aead::generic_array::GenericArray;
use aes_gcm::aead::AeadInPlace;
use aes_gcm::{AesGcm, KeyInit};
use base64::alphabet;
use base64::engine::general_purpose::{GeneralPurpose, GeneralPurposeConfig};
use base64::engine::{DecodePaddingMode, Engine as _};
use rand::RngCore;
use rsops_format::go;
use rsops_format::Value;
use zeroize::Zeroizing;

/// AES-256-GCM with the 32-byte nonce sops uses.
type Gcm32 = AesGcm<Aes256, typenum::U32>;

/// Length of the IV sops writes.
const IV_LEN: usize = 32;
/// Longest IV a value may carry. Go's sops decrypts with
/// `cipher.NewGCMWithNonceSize(len(iv))`, so any non-empty length works
/// there; rsops accepts 1 to 64 bytes and refuses the rest
/// ([`CipherError::InvalidIvLength`]).
pub const MAX_IV_LEN: usize = 64;
/// Length of the GCM tag.
const TAG_LEN: usize = 16;
/// Start of every encrypted value.
const PREFIX: &str = "ENC[AES256_GCM,";
/// Start of every encrypted value up to the data field.
const DATA_PREFIX: &str = "ENC[AES256_GCM,data:";
/// Separator before the IV field.
const IV_MARK: &str = ",iv:";
/// Separator before the tag field.
const TAG_MARK: &str = ",tag:";
/// Separator before the type field.
const TYPE_MARK: &str = ",type:";

/// Base64 as Go's `base64.StdEncoding` decodes it: standard alphabet, padding
/// required, non-zero trailing bits tolerated.
const GO_STD_DECODE: GeneralPurpose = GeneralPurpose::new(
    &alphabet::STANDARD,
    GeneralPurposeConfig::new()
        .with_decode_allow_trailing_bits(true)
        .with_decode_padding_mode(DecodePaddingMode::RequireCanonical),
);

/// The `type:` of an encrypted value.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ValueType {
    /// `str`: a string, bytes unchanged.
    Str,
    /// `int`: a 64-bit signed integer in decimal.
    Int,
    /// `float`: a double in Go `FormatFloat(f, 'f', -1, 64)` form.
    Float,
    /// `bool`: `True` / `False`.
    Bool,
    /// `time`: an RFC 3339 timestamp (YAML only).
    Time,
    /// `comment`: the text of a comment line.
    Comment,
    /// `bytes`: raw bytes; read but never written by sops.
    Bytes,
}

impl ValueType {
    /// The name used in the `type:` field (`str`, `int`, ...).
    pub fn as_str(self) -> &'static str {
        match self {
            ValueType::Str => "str",
            ValueType::Int => "int",
            ValueType::Float => "float",
            ValueType::Bool => "bool",
            ValueType::Time => "time",
            ValueType::Comment => "comment",
            ValueType::Bytes => "bytes",
        }
    }

    /// The type named `name` (exact, case-sensitive), if sops knows it.
    pub fn from_name(name: &str) -> Option<ValueType> {
        match name {
            "str" => Some(ValueType::Str),
            "int" => Some(ValueType::Int),
            "float" => Some(ValueType::Float),
            "bool" => Some(ValueType::Bool),
            "time" => Some(ValueType::Time),
            "comment" => Some(ValueType::Comment),
            "bytes" => Some(ValueType::Bytes),
            _ => None,
        }
    }
}

impl fmt::Display for ValueType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for ValueType {
    type Err = CipherError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        ValueType::from_name(s).ok_or_else(|| CipherError::UnknownType(shorten(s)))
    }
}

/// Why a value could not be encrypted, decrypted or parsed back.
///
/// No variant carries plaintext, key material or the encrypted string.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CipherError {
    /// The string is not of the form `ENC[AES256_GCM,data:…,iv:…,tag:…,type:…]`.
    #[error("input string does not match sops' data format")]
    Malformed,
    /// A field of the value string is not valid standard base64.
    #[error("error base64-decoding {field} of an encrypted value")]
    Base64 {
        /// `data`, `iv` or `tag`.
        field: &'static str,
    },
    /// The IV decodes to a length rsops does not decrypt: zero (which Go
    /// refuses too) or more than [`MAX_IV_LEN`] bytes.
    #[error("unsupported IV length {0} in an encrypted value (1 to 64 bytes are supported)")]
    InvalidIvLength(usize),
    /// GCM authentication failed: wrong key, wrong AAD or tampered value.
    #[error("could not decrypt with AES_GCM: message authentication failed")]
    Authentication,
    /// The `type:` field names no type sops knows.
    #[error("unknown datatype {0:?}")]
    UnknownType(String),
    /// The decrypted bytes are not a valid value of their declared type
    /// (e.g. `type:int` with a number that does not fit 64 bits).
    #[error("decrypted value is not a valid {0}")]
    InvalidPlaintext(ValueType),
    /// The plaintext exceeds the AES-GCM length limit (about 64 GiB).
    #[error("plaintext too long for AES-GCM")]
    TooLong,
}

/// A user-supplied label (a type name) cut to a length fit for a message.
fn shorten(s: &str) -> String {
    s.chars().take(32).collect()
}

/// A decrypted value: plaintext bytes (wiped on drop), declared type and IV.
pub struct Decrypted {
    /// The plaintext bytes, as encrypted (see [`decode_scalar`]).
    pub plaintext: Zeroizing<Vec<u8>>,
    /// The declared type of the value.
    pub ty: ValueType,
    /// The IV the value was encrypted with (reusable to re-encrypt an
    /// unchanged value to the same string).
    pub iv: Vec<u8>,
}

impl fmt::Debug for Decrypted {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Decrypted")
            .field(
                "plaintext",
                &format_args!("<{} bytes>", self.plaintext.len()),
            )
            .field("ty", &self.ty)
            .field("iv_len", &self.iv.len())
            .finish()
    }
}

/// 32 fresh random bytes for a value IV, from the thread's CSPRNG
/// (`rand::thread_rng`: ChaCha12 seeded from, and periodically reseeded by,
/// the operating system's generator). Drawing from the OS for every value
/// costs a system call each: a tenth of the time of encrypting a large file.
pub fn random_iv() -> [u8; 32] {
    let mut iv = [0u8; IV_LEN];
    rand::thread_rng().fill_bytes(&mut iv);
    iv
}

/// Encrypts plaintext bytes; returns the `ENC[...]` string.
///
/// One-off convenience over [`ValueCipher::encrypt`]; build a
/// [`ValueCipher`] to encrypt many values with the same key.
pub fn encrypt(
    key: &[u8; 32],
    iv: &[u8; 32],
    plaintext: &[u8],
    aad: &[u8],
    ty: ValueType,
) -> Result<String, CipherError> {
    ValueCipher::new(key).encrypt(iv, plaintext, aad, ty)
}

/// Parses and decrypts an `ENC[...]` string (IV length = whatever it decodes
/// to, data‖tag decrypted together, anchored-at-start regex semantics of
/// sops).
///
/// One-off convenience over [`ValueCipher::decrypt`].
pub fn decrypt(key: &[u8; 32], enc: &str, aad: &[u8]) -> Result<Decrypted, CipherError> {
    ValueCipher::new(key).decrypt(enc, aad)
}

/// Whether a string looks like an ENC value (starts with `ENC[AES256_GCM,`).
pub fn is_encrypted(s: &str) -> bool {
    s.starts_with(PREFIX)
}

/// The AES-256-GCM state of one data key, reused for every value of a file.
///
/// The key schedules are wiped when it is dropped (the `zeroize` features of
/// the `aes` and `aes-gcm` crates).
#[derive(Clone)]
pub struct ValueCipher {
    /// GCM with the 32-byte nonce: the path every sops-written value takes.
    gcm: Gcm32,
    /// The key schedule, for GCM with another IV length.
    aes: Aes256,
}

impl fmt::Debug for ValueCipher {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ValueCipher").finish_non_exhaustive()
    }
}

impl ValueCipher {
    /// Expands the data key once.
    pub fn new(key: &[u8; 32]) -> ValueCipher {
        let key = GenericArray::from_slice(key);
        ValueCipher {
            gcm: <Gcm32 as KeyInit>::new(key),
            aes: <Aes256 as KeyInit>::new(key),
        }
    }

    /// Encrypts plaintext bytes with this IV and AAD; returns the `ENC[...]`
    /// string, or [`CipherError::TooLong`] for a plaintext beyond the
    /// AES-GCM limit (about 64 GiB).
    pub fn encrypt(
        &self,
        iv: &[u8; 32],
        plaintext: &[u8],
        aad: &[u8],
        ty: ValueType,
    ) -> Result<String, CipherError> {
        // Values are short: a short plaintext is encrypted in place in a
        // buffer on the stack, a longer one in a heap buffer wiped on drop.
        // Once sealed the buffer holds only ciphertext; it is wiped if
        // sealing fails.
        let mut stack = [0u8; STACK_PLAINTEXT];
        let mut heap = Zeroizing::new(Vec::new());
        let buf: &mut [u8] = if let Some(b) = stack.get_mut(..plaintext.len()) {
            b.copy_from_slice(plaintext);
            b
        } else {
            heap.extend_from_slice(plaintext);
            heap.as_mut_slice()
        };
        self.seal(iv, aad, buf, ty)
    }

    /// [`ValueCipher::encrypt`] with a buffer the caller reuses from value
    /// to value (no buffer to clear per value): its contents are replaced
    /// by the ciphertext, or wiped if sealing fails.
    pub fn encrypt_with(
        &self,
        iv: &[u8; 32],
        plaintext: &[u8],
        aad: &[u8],
        ty: ValueType,
        buf: &mut Vec<u8>,
    ) -> Result<String, CipherError> {
        buf.clear();
        buf.extend_from_slice(plaintext);
        self.seal(iv, aad, buf, ty)
    }

    /// Encrypts `buf` in place and formats the `ENC[...]` string.
    fn seal(
        &self,
        iv: &[u8; 32],
        aad: &[u8],
        buf: &mut [u8],
        ty: ValueType,
    ) -> Result<String, CipherError> {
        let tag = match self
            .gcm
            .encrypt_in_place_detached(GenericArray::from_slice(iv), aad, buf)
        {
            Ok(tag) => tag,
            Err(_) => {
                zeroize::Zeroize::zeroize(buf);
                return Err(CipherError::TooLong);
            }
        };
        format_enc(buf, iv, &tag, ty)
    }

    /// Parses and decrypts an `ENC[...]` string with this AAD.
    ///
    /// The empty string is "not encrypted" and decrypts to
    /// an empty `str` with an empty IV.
    pub fn decrypt(&self, enc: &str, aad: &[u8]) -> Result<Decrypted, CipherError> {
        if enc.is_empty() {
            return Ok(Decrypted {
                plaintext: Zeroizing::new(Vec::new()),
                ty: ValueType::Str,
                iv: Vec::new(),
            });
        }
        let mut iv = IvBuf::default();
        let mut plaintext = Zeroizing::new(Vec::new());
        let ty = self.decrypt_into(enc, aad, &mut iv, &mut plaintext)?;
        Ok(Decrypted {
            plaintext,
            ty,
            iv: iv.as_slice().to_vec(),
        })
    }

    /// [`ValueCipher::decrypt`] of a non-empty value string into buffers
    /// the caller reuses from value to value: the plaintext replaces the
    /// contents of `buf` (which the caller wipes when done with it), the IV
    /// is decoded into `iv` (on the stack for every IV sops writes). Same
    /// checks, in the same order, and the same errors; on an
    /// authentication failure `buf` is wiped.
    pub(crate) fn decrypt_into(
        &self,
        enc: &str,
        aad: &[u8],
        iv: &mut IvBuf,
        buf: &mut Vec<u8>,
    ) -> Result<ValueType, CipherError> {
        let fields = split_enc(enc).ok_or(CipherError::Malformed)?;
        buf.clear();
        decode_b64_into(fields.data, buf, "data")?;
        decode_b64_into(fields.tag, buf, "tag")?;
        iv.decode(fields.iv)?;
        // Go's sops fails on the nonce size before it looks at the tag.
        let iv_len = iv.as_slice().len();
        if iv_len == 0 || iv_len > MAX_IV_LEN {
            return Err(CipherError::InvalidIvLength(iv_len));
        }
        self.open(iv.as_slice(), aad, buf)?;
        ValueType::from_name(fields.ty).ok_or_else(|| CipherError::UnknownType(shorten(fields.ty)))
    }

    /// Decrypts `data ‖ tag` in place (the tag is the last 16 bytes);
    /// on success `buf` holds the plaintext.
    fn open(&self, iv: &[u8], aad: &[u8], buf: &mut Vec<u8>) -> Result<(), CipherError> {
        let tag_start = buf
            .len()
            .checked_sub(TAG_LEN)
            .ok_or(CipherError::Authentication)?;
        let mut tag = [0u8; TAG_LEN];
        tag.copy_from_slice(buf.get(tag_start..).ok_or(CipherError::Authentication)?);
        buf.truncate(tag_start);
        let tag = GenericArray::from_slice(&tag);
        let ok = if iv.len() == IV_LEN {
            self.gcm
                .decrypt_in_place_detached(GenericArray::from_slice(iv), aad, buf, tag)
                .is_ok()
        } else {
            self.open_other_iv_length(iv, aad, buf, tag)?
        };
        if ok {
            Ok(())
        } else {
            zeroize::Zeroize::zeroize(buf);
            Err(CipherError::Authentication)
        }
    }

    /// [`ValueCipher::open`] for an IV that is not 32 bytes long (never
    /// written by sops, but decrypted by Go's sops with a GCM of that nonce
    /// size): the `aes-gcm` crate's GCM for that nonce size, from 1 to
    /// [`MAX_IV_LEN`] bytes. `Ok(false)` when authentication fails.
    fn open_other_iv_length(
        &self,
        iv: &[u8],
        aad: &[u8],
        buf: &mut [u8],
        tag: &GenericArray<u8, typenum::U16>,
    ) -> Result<bool, CipherError> {
        macro_rules! open_with_nonce_sizes {
            ($($n:literal => $size:ident),* $(,)?) => {
                match iv.len() {
                    $($n => AesGcm::<Aes256, typenum::$size>::from(self.aes.clone())
                        .decrypt_in_place_detached(GenericArray::from_slice(iv), aad, buf, tag)
                        .is_ok(),)*
                    other => return Err(CipherError::InvalidIvLength(other)),
                }
            };
        }
        Ok(open_with_nonce_sizes! {
            1 => U1, 2 => U2, 3 => U3, 4 => U4, 5 => U5, 6 => U6, 7 => U7, 8 => U8,
            9 => U9, 10 => U10, 11 => U11, 12 => U12, 13 => U13, 14 => U14, 15 => U15,
            16 => U16, 17 => U17, 18 => U18, 19 => U19, 20 => U20, 21 => U21, 22 => U22,
            23 => U23, 24 => U24, 25 => U25, 26 => U26, 27 => U27, 28 => U28, 29 => U29,
            30 => U30, 31 => U31, 32 => U32, 33 => U33, 34 => U34, 35 => U35, 36 => U36,
            37 => U37, 38 => U38, 39 => U39, 40 => U40, 41 => U41, 42 => U42, 43 => U43,
            44 => U44, 45 => U45, 46 => U46, 47 => U47, 48 => U48, 49 => U49, 50 => U50,
            51 => U51, 52 => U52, 53 => U53, 54 => U54, 55 => U55, 56 => U56, 57 => U57,
            58 => U58, 59 => U59, 60 => U60, 61 => U61, 62 => U62, 63 => U63, 64 => U64,
        })
    }
}

/// Plaintexts up to this length are encrypted in a buffer on the stack.
const STACK_PLAINTEXT: usize = 256;

/// Builds the value string in one allocation of its exact length, each
/// field base64-encoded straight into its place.
fn format_enc(
    ciphertext: &[u8],
    iv: &[u8],
    tag: &[u8],
    ty: ValueType,
) -> Result<String, CipherError> {
    let b64_len = |n: usize| n.div_ceil(3) * 4;
    let len = DATA_PREFIX.len()
        + b64_len(ciphertext.len())
        + IV_MARK.len()
        + b64_len(iv.len())
        + TAG_MARK.len()
        + b64_len(tag.len())
        + TYPE_MARK.len()
        + ty.as_str().len()
        + 1;
    let mut out = Vec::with_capacity(len);
    out.extend_from_slice(DATA_PREFIX.as_bytes());
    push_b64(&mut out, ciphertext)?;
    out.extend_from_slice(IV_MARK.as_bytes());
    push_b64(&mut out, iv)?;
    out.extend_from_slice(TAG_MARK.as_bytes());
    push_b64(&mut out, tag)?;
    out.extend_from_slice(TYPE_MARK.as_bytes());
    out.extend_from_slice(ty.as_str().as_bytes());
    out.push(b']');
    // Base64 and the markers are ASCII.
    String::from_utf8(out).map_err(|_| CipherError::TooLong)
}

/// Appends the padded standard base64 of `bytes` to `out`, encoded in place.
fn push_b64(out: &mut Vec<u8>, bytes: &[u8]) -> Result<(), CipherError> {
    let start = out.len();
    let len = SIMD_STD.encoded_length(bytes.len());
    out.resize(start.checked_add(len).ok_or(CipherError::TooLong)?, 0);
    let written = SIMD_STD
        .encode(
            bytes,
            base64_simd::Out::from_slice(out.get_mut(start..).unwrap_or_default()),
        )
        .len();
    out.truncate(start + written);
    Ok(())
}

/// Standard padded base64, with SIMD: encodes every value field, and
/// decodes those in canonical form (the others, which Go also reads, are
/// decoded by [`GO_STD_DECODE`], which decides what is refused).
const SIMD_STD: base64_simd::Base64 = base64_simd::STANDARD;

/// The four text fields of a value string.
#[derive(Debug, PartialEq, Eq)]
struct EncFields<'a> {
    /// Base64 ciphertext.
    data: &'a str,
    /// Base64 IV.
    iv: &'a str,
    /// Base64 tag.
    tag: &'a str,
    /// Type name.
    ty: &'a str,
}

/// Splits a value string exactly as the sops regular expression
/// `^ENC\[AES256_GCM,data:(.+),iv:(.+),tag:(.+),type:(.+)\]` matches it.
///
/// `.` does not match a newline, so the match lies within the first line;
/// every group is greedy and non-empty, and earlier groups take precedence.
/// Working backwards from the last `]` gives, for each marker, the last
/// position that still leaves a non-empty match for everything after it,
/// which is what leftmost-first greedy matching picks.
fn split_enc(s: &str) -> Option<EncFields<'_>> {
    let rest = s.strip_prefix(DATA_PREFIX)?;
    let line = match memchr::memchr(b'\n', rest.as_bytes()) {
        Some(nl) => rest.get(..nl)?,
        None => rest,
    };
    let close = line.rfind(']')?;
    let type_at = last_before(line, TYPE_MARK, close.checked_sub(TYPE_MARK.len() + 1)?)?;
    let tag_at = last_before(line, TAG_MARK, type_at.checked_sub(TAG_MARK.len() + 1)?)?;
    let iv_at = last_before(line, IV_MARK, tag_at.checked_sub(IV_MARK.len() + 1)?)?;
    if iv_at == 0 {
        return None;
    }
    Some(EncFields {
        data: line.get(..iv_at)?,
        iv: line.get(iv_at + IV_MARK.len()..tag_at)?,
        tag: line.get(tag_at + TAG_MARK.len()..type_at)?,
        ty: line.get(type_at + TYPE_MARK.len()..close)?,
    })
}

/// The last occurrence of `mark` in `line` starting at or before `max_start`
/// (byte positions; the marks are ASCII, so a hit is a char boundary).
fn last_before(line: &str, mark: &str, max_start: usize) -> Option<usize> {
    let bytes = line.as_bytes();
    let mark = mark.as_bytes();
    let highest = max_start.min(bytes.len().checked_sub(mark.len())?);
    let first = *mark.first()?;
    memchr::memrchr_iter(first, bytes.get(..=highest)?)
        .find(|&i| bytes.get(i..i + mark.len()) == Some(mark))
}

/// Appends the Go-`StdEncoding` decoding of `text` to `out`; carriage returns
/// are skipped like Go does (newlines cannot occur inside a match).
///
/// A carriage return is not base64, so text holding one fails the first
/// decoding and is decoded again without them.
fn decode_b64_into(text: &str, out: &mut Vec<u8>, field: &'static str) -> Result<(), CipherError> {
    let err = |_| CipherError::Base64 { field };
    let start = out.len();
    if SIMD_STD.decode_append(text.as_bytes(), out).is_ok() {
        return Ok(());
    }
    out.truncate(start);
    match GO_STD_DECODE.decode_vec(text, out) {
        Err(_) if memchr::memchr(b'\r', text.as_bytes()).is_some() => {
            out.truncate(start);
            let cleaned: String = text.chars().filter(|&c| c != '\r').collect();
            GO_STD_DECODE.decode_vec(cleaned, out).map_err(err)
        }
        decoded => decoded.map_err(err),
    }
}

/// Room for an IV decoded on the stack: every length rsops decrypts (base64
/// decodes in groups of 3 bytes).
const IV_INLINE: usize = MAX_IV_LEN.div_ceil(3) * 3;

/// A decoded IV: on the stack when it is short (always, for values sops
/// writes), on the heap otherwise.
#[derive(Debug)]
pub(crate) struct IvBuf {
    inline: [u8; IV_INLINE],
    len: usize,
    heap: Vec<u8>,
}

impl Default for IvBuf {
    fn default() -> Self {
        IvBuf {
            inline: [0u8; IV_INLINE],
            len: 0,
            heap: Vec::new(),
        }
    }
}

impl IvBuf {
    /// Decodes the base64 `text` (Go `StdEncoding` rules, like every field).
    fn decode(&mut self, text: &str) -> Result<(), CipherError> {
        self.heap.clear();
        self.len = 0;
        if text.len() <= IV_INLINE / 3 * 4 {
            let simd = SIMD_STD
                .decode(
                    text.as_bytes(),
                    base64_simd::Out::from_slice(&mut self.inline[..]),
                )
                .map(|d| d.len());
            if let Ok(n) = simd {
                self.len = n;
                return Ok(());
            }
        }
        // Longer, or not canonical base64 (which Go may still read).
        decode_b64_into(text, &mut self.heap, "iv")?;
        self.len = usize::MAX;
        Ok(())
    }

    /// The decoded bytes.
    pub(crate) fn as_slice(&self) -> &[u8] {
        if self.len == usize::MAX {
            &self.heap
        } else {
            self.inline.get(..self.len).unwrap_or(&[])
        }
    }
}

/// Typed plaintext of a tree scalar (§3.3): `Str`/`Bytes` → (bytes, `str`),
/// `Int` → decimal, `Float` → Go `'f'` formatting, `Bool` → `True`/`False`,
/// `Time` → its RFC 3339 text (already normalised by the store); `Null`,
/// `Map` and `List` → `None`.
///
/// An empty string gives empty bytes; the caller keeps it unencrypted
///.
pub fn encode_scalar(v: &Value) -> Option<(Zeroizing<Vec<u8>>, ValueType)> {
    let (bytes, ty) = match v {
        Value::Str(s) => (s.as_bytes().to_vec(), ValueType::Str),
        Value::Bytes(b) => (b.clone(), ValueType::Str),
        Value::Int(i) => (i.to_string().into_bytes(), ValueType::Int),
        Value::Float(f) => (go::format_float_plain(*f).into_bytes(), ValueType::Float),
        Value::Bool(true) => (b"True".to_vec(), ValueType::Bool),
        Value::Bool(false) => (b"False".to_vec(), ValueType::Bool),
        Value::Time(t) => (t.as_bytes().to_vec(), ValueType::Time),
        Value::Null | Value::Map(_) | Value::List(_) => return None,
    };
    Some((Zeroizing::new(bytes), ty))
}

/// The type a scalar is encrypted with (that of [`encode_scalar`]); `None`
/// for null, maps and lists.
pub(crate) fn scalar_type(v: &Value) -> Option<ValueType> {
    Some(match v {
        Value::Str(_) | Value::Bytes(_) => ValueType::Str,
        Value::Int(_) => ValueType::Int,
        Value::Float(_) => ValueType::Float,
        Value::Bool(_) => ValueType::Bool,
        Value::Time(_) => ValueType::Time,
        Value::Null | Value::Map(_) | Value::List(_) => return None,
    })
}

/// Parses decrypted bytes back to a tree scalar per type (§3.3).
///
/// * `str` and `bytes` → [`Value::from_bytes`] (sops 3.11 crashes on
///   `bytes`; the caller decides what to do with it);
/// * `int` → Go `strconv.Atoi` (optional sign, decimal digits, fits `i64`);
/// * `float` → Go `strconv.ParseFloat(…, 64)` (exponents, hex floats,
///   `_` separators, `Inf`/`Infinity`/`NaN`; overflow is an error);
/// * `bool` → Go `strconv.ParseBool` (`1 t T TRUE true True`,
///   `0 f F FALSE false False`);
/// * `time` → RFC 3339 as Go 1.25's `Time.UnmarshalText` reads it, kept as
///   its `RFC3339Nano` text (see [`go::normalize_time_nano`]);
/// * `comment` → the text as a string value ([`Value::from_bytes`]); the
///   caller turns it into a comment.
pub fn decode_scalar(plaintext: &[u8], ty: ValueType) -> Result<Value, CipherError> {
    let invalid = || CipherError::InvalidPlaintext(ty);
    match ty {
        ValueType::Str | ValueType::Bytes | ValueType::Comment => {
            Ok(Value::from_bytes(plaintext.to_vec()))
        }
        ValueType::Int => go::atoi(plaintext).map(Value::Int).ok_or_else(invalid),
        ValueType::Float => std::str::from_utf8(plaintext)
            .ok()
            .and_then(go::parse_float)
            .map(Value::Float)
            .ok_or_else(invalid),
        ValueType::Bool => go::parse_bool(plaintext)
            .map(Value::Bool)
            .ok_or_else(invalid),
        ValueType::Time => std::str::from_utf8(plaintext)
            .ok()
            .and_then(go::normalize_time_nano)
            .map(Value::Time)
            .ok_or_else(invalid),
    }
}

/// Calls `f` with the bytes [`encode_scalar`] gives for `v`, without
/// copying strings (the MAC input of a value). Nothing is called for
/// `Null`, `Map` and `List`.
pub(crate) fn with_scalar_bytes(v: &Value, f: impl FnOnce(&[u8])) {
    match v {
        Value::Str(s) => f(s.as_bytes()),
        Value::Bytes(b) => f(b),
        Value::Bool(true) => f(b"True"),
        Value::Bool(false) => f(b"False"),
        Value::Time(t) => f(t.as_bytes()),
        Value::Null | Value::Map(_) | Value::List(_) => {}
        Value::Int(i) => {
            // Decimal text on the stack: an `i64` has at most 20 characters.
            let mut text = StackText::default();
            if fmt::Write::write_fmt(&mut text, format_args!("{i}")).is_ok() {
                f(text.as_bytes());
            }
        }
        Value::Float(_) => {
            if let Some((bytes, _)) = encode_scalar(v) {
                f(&bytes);
            }
        }
    }
}

/// A short text formatted into a buffer on the stack.
#[derive(Default)]
struct StackText {
    buf: [u8; 24],
    len: usize,
}

impl StackText {
    fn as_bytes(&self) -> &[u8] {
        self.buf.get(..self.len).unwrap_or_default()
    }
}

impl fmt::Write for StackText {
    fn write_str(&mut self, s: &str) -> fmt::Result {
        let end = self.len + s.len();
        self.buf
            .get_mut(self.len..end)
            .ok_or(fmt::Error)?
            .copy_from_slice(s.as_bytes());
        self.len = end;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use base64::engine::general_purpose::STANDARD;
    use proptest::prelude::*;
    use sha2::{Digest, Sha512};

    /// The data key of the known-answer vectors (`docs/format.md`): bytes 0x00..0x1f.
    fn vector_key() -> [u8; 32] {
        let mut k = [0u8; 32];
        for (i, b) in k.iter_mut().enumerate() {
            *b = i as u8;
        }
        k
    }

    /// IV n of the vectors: byte n repeated 32 times.
    fn iv(n: u8) -> [u8; 32] {
        [n; 32]
    }

    /// (n, plaintext, type, AAD, ENC string) of the known-answer vectors.
    const VECTORS: &[(u8, &str, ValueType, &str, &str)] = &[
        (1, " top comment", ValueType::Comment, ":", "ENC[AES256_GCM,data:mdDGl/nJBgEYWokE,iv:AQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQE=,tag:Hyf/1JLPqd8pLEi5F56mwQ==,type:comment]"),
        (2, "Alice", ValueType::Str, "name:", "ENC[AES256_GCM,data:LheQJi8=,iv:AgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgI=,tag:JUM671qaxijoJHHcppksxg==,type:str]"),
        (3, "30", ValueType::Int, "age:", "ENC[AES256_GCM,data:WUQ=,iv:AwMDAwMDAwMDAwMDAwMDAwMDAwMDAwMDAwMDAwMDAwM=,tag:fMKHV/3sSkKNQHD31WoAdw==,type:int]"),
        (4, "3.14", ValueType::Float, "pi:", "ENC[AES256_GCM,data:XSJeXQ==,iv:BAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQ=,tag:D13FHt+uogqZ11gxgWGkgg==,type:float]"),
        (5, "10000000000", ValueType::Float, "big:", "ENC[AES256_GCM,data:wYrIjPTyXyMUdB4=,iv:BQUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFBQU=,tag:bVu49XW6kGqWgumWtPPyGg==,type:float]"),
        (6, "True", ValueType::Bool, "enabled:", "ENC[AES256_GCM,data:7OPGGg==,iv:BgYGBgYGBgYGBgYGBgYGBgYGBgYGBgYGBgYGBgYGBgY=,tag:17OykpsN/GTY8HHj1a5rmQ==,type:bool]"),
        (7, "False", ValueType::Bool, "disabled:", "ENC[AES256_GCM,data:f11oghM=,iv:BwcHBwcHBwcHBwcHBwcHBwcHBwcHBwcHBwcHBwcHBwc=,tag:Y9mNpFc3ExTQj7nCyaYyiA==,type:bool]"),
        (8, "2024-01-02T03:04:05Z", ValueType::Time, "when:", "ENC[AES256_GCM,data:pJnX8MX14P1mCh9NuG0Lpo2wTS4=,iv:CAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAg=,tag:GUn69VpFCXem4APUAIx/jQ==,type:time]"),
        (9, " nested comment", ValueType::Comment, "nested:", "ENC[AES256_GCM,data:r6QbVzIxjCVvHnB+31aR,iv:CQkJCQkJCQkJCQkJCQkJCQkJCQkJCQkJCQkJCQkJCQk=,tag:JfJtQ2ysKTNyWVQb22AR/Q==,type:comment]"),
        (10, "value", ValueType::Str, "nested:key:", "ENC[AES256_GCM,data:l9mqZ1o=,iv:CgoKCgoKCgoKCgoKCgoKCgoKCgoKCgoKCgoKCgoKCgo=,tag:VaMLDENrBpvXyqmtVJPwww==,type:str]"),
        (11, "a", ValueType::Str, "nested:list:", "ENC[AES256_GCM,data:Qw==,iv:CwsLCwsLCwsLCwsLCwsLCwsLCwsLCwsLCwsLCwsLCws=,tag:LzET5moNw1QpKi/96oGmXA==,type:str]"),
        (12, "1", ValueType::Int, "nested:list:", "ENC[AES256_GCM,data:BA==,iv:DAwMDAwMDAwMDAwMDAwMDAwMDAwMDAwMDAwMDAwMDAw=,tag:gIb7O4X/TLsrYHMK74lRPg==,type:int]"),
        (13, "2.5", ValueType::Float, "nested:list:", "ENC[AES256_GCM,data:93RN,iv:DQ0NDQ0NDQ0NDQ0NDQ0NDQ0NDQ0NDQ0NDQ0NDQ0NDQ0=,tag:PmHuP1wSrWd3uxy0Ez9Jtw==,type:float]"),
        (14, "True", ValueType::Bool, "nested:list:", "ENC[AES256_GCM,data:nHKwsw==,iv:Dg4ODg4ODg4ODg4ODg4ODg4ODg4ODg4ODg4ODg4ODg4=,tag:Eu0SKmuIW2ctaLBf4D5X6w==,type:bool]"),
        (15, "y", ValueType::Str, "nested:deeper:x:", "ENC[AES256_GCM,data:1Q==,iv:Dw8PDw8PDw8PDw8PDw8PDw8PDw8PDw8PDw8PDw8PDw8=,tag:WbxXAntzBoIll1egypa/AA==,type:str]"),
        (16, "line1\nline2\n", ValueType::Str, "multi:", "ENC[AES256_GCM,data:CqcriV6pxNhhsZ/u,iv:EBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBA=,tag:swlij23hbQvWh9Y/qPCa+w==,type:str]"),
        (17, "v1", ValueType::Str, "list_of_maps:k1:", "ENC[AES256_GCM,data:xzs=,iv:ERERERERERERERERERERERERERERERERERERERERERE=,tag:diwEKXqE33R3lCMqrFHyqg==,type:str]"),
        (18, "v2", ValueType::Str, "list_of_maps:k2:", "ENC[AES256_GCM,data:V7U=,iv:EhISEhISEhISEhISEhISEhISEhISEhISEhISEhISEhI=,tag:9zx5iKz1QemuthwnKCj+SQ==,type:str]"),
        (19, "v3", ValueType::Str, "list_of_maps:k3:", "ENC[AES256_GCM,data:sJs=,iv:ExMTExMTExMTExMTExMTExMTExMTExMTExMTExMTExM=,tag:8fbdO/dmoYS5j5o2ixjh0A==,type:str]"),
    ];

    const MAC_ENC: &str = "ENC[AES256_GCM,data:cVjUfGAXzdAhElM3uIi4yxc/JhXzI+4aQVRtrIbnol1OyCSiUseqxdv0MU9H8HnAHmzMYYhVXKMhV32OwReU2dk4wWZXQ9F1vB+kJS/T2tPBwilTKZebS5D1cvpy7hoxuIh8s9KmZATm09R1vALq79KFwKJSWt+lZDhE6vYK4GY=,iv:FBQUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFBQ=,tag:gr8XdvsWD0q9C3U4xW1g1g==,type:str]";

    #[test]
    fn format_vectors_encrypt_exactly() {
        let cipher = ValueCipher::new(&vector_key());
        for &(n, pt, ty, aad, expected) in VECTORS {
            let got = cipher.encrypt(&iv(n), pt.as_bytes(), aad.as_bytes(), ty);
            assert_eq!(got.as_deref(), Ok(expected), "vector {n}");
            assert_eq!(
                encrypt(&vector_key(), &iv(n), pt.as_bytes(), aad.as_bytes(), ty).as_deref(),
                Ok(expected)
            );
        }
    }

    /// Every plaintext length, on either side of the stack buffer's size,
    /// gives exactly the string of a plain `aes-gcm` sealing of a heap copy.
    #[test]
    fn every_plaintext_length_matches_a_plain_aes_gcm_sealing() {
        let key = vector_key();
        let cipher = ValueCipher::new(&key);
        let reference = <Gcm32 as KeyInit>::new(GenericArray::from_slice(&key));
        let mut reused = vec![0xAA; 5000];
        for len in (0..=STACK_PLAINTEXT + 70).chain([1000, 4099]) {
            let plaintext: Vec<u8> = (0..len).map(|i| (i * 7 + len) as u8).collect();
            let iv = iv((len % 251) as u8);
            let mut buf = plaintext.clone();
            let tag = reference
                .encrypt_in_place_detached(GenericArray::from_slice(&iv), b"k:", &mut buf)
                .expect("seals");
            let expected = format!(
                "ENC[AES256_GCM,data:{},iv:{},tag:{},type:str]",
                STANDARD.encode(&buf),
                STANDARD.encode(iv),
                STANDARD.encode(tag)
            );
            let got = cipher
                .encrypt(&iv, &plaintext, b"k:", ValueType::Str)
                .expect("encrypts");
            assert_eq!(got, expected, "length {len}");
            // The same with a reused buffer holding whatever came before.
            let with = cipher
                .encrypt_with(&iv, &plaintext, b"k:", ValueType::Str, &mut reused)
                .expect("encrypts");
            assert_eq!(with, expected, "length {len}, reused buffer");
            if len == 0 {
                // An empty data field does not match the value syntax.
                continue;
            }
            let back = cipher.decrypt(&got, b"k:").expect("decrypts");
            assert_eq!(back.plaintext.as_slice(), plaintext.as_slice());
        }
    }

    /// The MAC bytes of a scalar are the bytes it is encrypted as.
    #[test]
    fn scalar_mac_bytes_are_the_encrypted_bytes() {
        let values = [
            Value::Int(0),
            Value::Int(-1),
            Value::Int(i64::MIN),
            Value::Int(i64::MAX),
            Value::Int(5432),
            Value::Float(0.8166),
            Value::Float(1e21),
            Value::Bool(true),
            Value::Bool(false),
            Value::Str("svc-00001".into()),
            Value::Time("2024-01-02T03:04:05Z".into()),
        ];
        for v in &values {
            let (expected, ty) = encode_scalar(v).expect("scalar");
            let mut got = None;
            with_scalar_bytes(v, |b| got = Some(b.to_vec()));
            assert_eq!(got.as_deref(), Some(expected.as_slice()), "{v:?}");
            assert_eq!(scalar_type(v), Some(ty), "{v:?}");
        }
        assert_eq!(scalar_type(&Value::Bytes(vec![0xff])), Some(ValueType::Str));
        for v in [
            Value::Null,
            Value::Map(Default::default()),
            Value::List(Default::default()),
        ] {
            assert_eq!(scalar_type(&v), None);
        }
        let mut called = false;
        with_scalar_bytes(&Value::Null, |_| called = true);
        assert!(!called);
    }

    #[test]
    fn format_vectors_decrypt() {
        let cipher = ValueCipher::new(&vector_key());
        for &(n, pt, ty, aad, enc) in VECTORS {
            let d = cipher
                .decrypt(enc, aad.as_bytes())
                .expect("vector decrypts");
            assert_eq!(d.plaintext.as_slice(), pt.as_bytes(), "vector {n}");
            assert_eq!(d.ty, ty);
            assert_eq!(d.iv, iv(n).to_vec());
            assert!(is_encrypted(enc));
            let d2 = decrypt(&vector_key(), enc, aad.as_bytes()).expect("free fn");
            assert_eq!(d2.plaintext.as_slice(), pt.as_bytes());
        }
    }

    #[test]
    #[allow(clippy::approx_constant)] // 3.14 is the spec's vector, not π
    fn format_vectors_decode_to_typed_values() {
        let expected = [
            Value::Str(" top comment".into()),
            Value::Str("Alice".into()),
            Value::Int(30),
            Value::Float(3.14),
            Value::Float(1e10),
            Value::Bool(true),
            Value::Bool(false),
            Value::Time("2024-01-02T03:04:05Z".into()),
        ];
        for (&(_, pt, ty, _, _), want) in VECTORS.iter().zip(expected.iter()) {
            let v = decode_scalar(pt.as_bytes(), ty).expect("decodes");
            assert_eq!(&v, want);
            if ty != ValueType::Comment {
                let (bytes, ty2) = encode_scalar(&v).expect("scalar");
                assert_eq!(bytes.as_slice(), pt.as_bytes());
                assert_eq!(ty2, ty);
            }
        }
    }

    #[test]
    fn mac_vector_hash_and_encryption() {
        let parts: [&str; 19] = [
            "Alice",
            "30",
            "3.14",
            "10000000000",
            "True",
            "False",
            "",
            "hunter2",
            "2024-01-02T03:04:05Z",
            "value",
            "a",
            "1",
            "2.5",
            "True",
            "y",
            "line1\nline2\n",
            "v1",
            "v2",
            "v3",
        ];
        let mut h = Sha512::new();
        for p in parts {
            h.update(p.as_bytes());
        }
        let mac = hex::encode_upper(h.finalize());
        assert_eq!(mac, "FC10C39A24F36FF235A419B786368D8577C8383AA237256564722E8F3540123636231FF65E8F4BA3112461DDFDDAC89D92DA474E4D4793A64707DB35AFDE0715");
        let aad = go::normalize_time_seconds("2024-01-01T00:00:00Z").expect("valid");
        assert_eq!(aad, "2024-01-01T00:00:00Z");
        let enc = encrypt(
            &vector_key(),
            &iv(20),
            mac.as_bytes(),
            aad.as_bytes(),
            ValueType::Str,
        )
        .expect("encrypts");
        assert_eq!(enc, MAC_ENC);
        let d = decrypt(&vector_key(), MAC_ENC, aad.as_bytes()).expect("decrypts");
        assert_eq!(d.plaintext.as_slice(), mac.as_bytes());
        // The MAC AAD survives an edit to `+00:00` / `.000Z` but not `+01:00`.
        for edited in ["2024-01-01T00:00:00+00:00", "2024-01-01T00:00:00.000Z"] {
            let aad = go::normalize_time_seconds(edited).expect("valid");
            assert!(
                decrypt(&vector_key(), MAC_ENC, aad.as_bytes()).is_ok(),
                "{edited}"
            );
        }
        let aad = go::normalize_time_seconds("2024-01-01T00:00:00+01:00").expect("valid");
        assert_eq!(
            decrypt(&vector_key(), MAC_ENC, aad.as_bytes()).unwrap_err(),
            CipherError::Authentication
        );
    }

    /// Vector 2 with one field replaced.
    fn vector2_with(field: &str, replacement: &str) -> String {
        let enc = VECTORS[1].4;
        let fields = split_enc(enc).expect("well-formed");
        let original = match field {
            "data" => fields.data,
            "iv" => fields.iv,
            "tag" => fields.tag,
            _ => fields.ty,
        };
        enc.replacen(
            &format!("{field}:{original}"),
            &format!("{field}:{replacement}"),
            1,
        )
    }

    #[test]
    fn bad_base64_is_reported_per_field() {
        let key = vector_key();
        for field in ["data", "iv", "tag"] {
            let enc = vector2_with(field, "@@@@");
            assert_eq!(
                decrypt(&key, &enc, b"name:").unwrap_err(),
                CipherError::Base64 { field }
            );
            // Missing padding is an error in Go's StdEncoding too.
            let enc = vector2_with(field, "QQ");
            assert_eq!(
                decrypt(&key, &enc, b"name:").unwrap_err(),
                CipherError::Base64 { field }
            );
        }
    }

    #[test]
    fn non_canonical_trailing_bits_are_accepted_like_go() {
        // "LheQJi8=" ends in '8' (bits ...1100); '9' sets a trailing bit that
        // Go ignores, so the value still decrypts.
        let enc = vector2_with("data", "LheQJi9=");
        let d = decrypt(&vector_key(), &enc, b"name:").expect("decrypts");
        assert_eq!(d.plaintext.as_slice(), b"Alice");
    }

    #[test]
    fn malformed_strings() {
        let key = vector_key();
        let full = VECTORS[1].4;
        for cut in 0..full.len() - 1 {
            let truncated = &full[..cut];
            let err = decrypt(&key, truncated, b"name:");
            if cut == 0 {
                assert!(err.is_ok(), "empty string is not encrypted");
            } else {
                assert!(err.is_err(), "cut {cut}");
            }
        }
        assert_eq!(
            decrypt(&key, &full[..full.len() - 1], b"name:").unwrap_err(),
            CipherError::Malformed
        );
        for bad in [
            "ENC[AES256_GCM,data:,iv:AA==,tag:AA==,type:str]",
            "ENC[AES256_GCM,data:AA==,iv:AA==,tag:AA==,type:]",
            "ENC[AES256_CBC,data:AA==,iv:AA==,tag:AA==,type:str]",
            "enc[AES256_GCM,data:AA==,iv:AA==,tag:AA==,type:str]",
            " ENC[AES256_GCM,data:AA==,iv:AA==,tag:AA==,type:str]",
            "ENC[AES256_GCM,data:AA==,tag:AA==,iv:AA==,type:str]",
            "ENC[AES256_GCM,data:AA==,iv:AA==,tag:AA==,type:str\n]",
            "plain text",
        ] {
            let err = decrypt(&key, bad, b"").unwrap_err();
            assert_eq!(err, CipherError::Malformed, "{bad:?}");
            let msg = err.to_string();
            assert!(msg.contains("does not match sops' data format"));
            assert!(!msg.contains("AA=="));
        }
        // An empty plaintext gives an empty data field, which the sops
        // pattern (`data:(.+)`) does not match: empty values stay "".
        let empty = encrypt(&key, &iv(1), b"", b"x:", ValueType::Str).expect("encrypts");
        assert!(empty.starts_with("ENC[AES256_GCM,data:,iv:"));
        assert_eq!(
            decrypt(&key, &empty, b"x:").unwrap_err(),
            CipherError::Malformed
        );
        assert!(!is_encrypted("ENC[AES256_GCM"));
        assert!(is_encrypted("ENC[AES256_GCM,garbage"));
    }

    #[test]
    fn trailing_text_after_the_match_is_ignored() {
        let enc = format!("{}   # trailing ] junk\nsecond line", VECTORS[1].4);
        // The greedy type group runs to the last `]` of the first line.
        let fields = split_enc(&enc).expect("matches");
        assert_eq!(fields.ty, "str]   # trailing ");
        // So the type is unknown, after successful authentication.
        assert!(matches!(
            decrypt(&vector_key(), &enc, b"name:"),
            Err(CipherError::UnknownType(_))
        ));
        let enc = format!("{}xyz", VECTORS[1].4);
        let d = decrypt(&vector_key(), &enc, b"name:").expect("suffix ignored");
        assert_eq!(d.plaintext.as_slice(), b"Alice");
    }

    #[test]
    fn carriage_returns_in_the_base64_fields_are_skipped() {
        let enc = VECTORS[1].4;
        let f = split_enc(enc).expect("matches");
        let with_cr = |t: &str| {
            let (a, b) = t.split_at(t.len() / 2);
            format!("\r{a}\r\r{b}\r")
        };
        let enc = format!(
            "ENC[AES256_GCM,data:{},iv:{},tag:{},type:{}]",
            with_cr(f.data),
            with_cr(f.iv),
            with_cr(f.tag),
            f.ty
        );
        let d = decrypt(&vector_key(), &enc, b"name:").expect("decrypts");
        assert_eq!(d.plaintext.as_slice(), b"Alice");
        // Anything else that is not base64 still fails.
        let bad = enc.replacen('\r', "!", 1);
        assert!(matches!(
            decrypt(&vector_key(), &bad, b"name:"),
            Err(CipherError::Base64 { field: "data" })
        ));
    }

    #[test]
    fn split_is_greedy_like_the_regex() {
        let f = split_enc("ENC[AES256_GCM,data:a,iv:b,iv:c,tag:d,tag:e,type:f,type:g]]")
            .expect("matches");
        assert_eq!(
            f,
            EncFields {
                data: "a,iv:b",
                iv: "c,tag:d",
                tag: "e,type:f",
                ty: "g]"
            }
        );
        // Multi-byte characters next to a marker.
        let f = split_enc("ENC[AES256_GCM,data:é,iv:ü,tag:ß,type:é]").expect("matches");
        assert_eq!((f.data, f.iv, f.tag, f.ty), ("é", "ü", "ß", "é"));
        // A later marker that would leave a following group empty is skipped.
        let f = split_enc("ENC[AES256_GCM,data:a,iv:b,tag:c,type:d,tag:]").expect("matches");
        assert_eq!(f.tag, "c");
        assert_eq!(f.ty, "d,tag:");
    }

    #[test]
    fn wrong_aad_key_or_tag_fail_authentication() {
        let enc = VECTORS[1].4;
        assert_eq!(
            decrypt(&vector_key(), enc, b"other:").unwrap_err(),
            CipherError::Authentication
        );
        let mut key = vector_key();
        key[0] ^= 1;
        assert_eq!(
            decrypt(&key, enc, b"name:").unwrap_err(),
            CipherError::Authentication
        );
        let tampered = vector2_with("tag", "JUM671qaxijoJHHcppksxw==");
        assert_eq!(
            decrypt(&vector_key(), &tampered, b"name:").unwrap_err(),
            CipherError::Authentication
        );
        let tampered = vector2_with("data", "LheQJi4=");
        assert_eq!(
            decrypt(&vector_key(), &tampered, b"name:").unwrap_err(),
            CipherError::Authentication
        );
        // data ‖ tag shorter than a tag.
        let short = vector2_with("tag", "AA==");
        let short = short.replacen("data:LheQJi8=", "data:AA==", 1);
        assert_eq!(
            decrypt(&vector_key(), &short, b"name:").unwrap_err(),
            CipherError::Authentication
        );
    }

    #[test]
    fn only_the_concatenation_of_data_and_tag_matters() {
        // Move the first tag byte into data: same data ‖ tag bytes.
        let d = STANDARD.decode("LheQJi8=").expect("b64");
        let t = STANDARD.decode("JUM671qaxijoJHHcppksxg==").expect("b64");
        let mut all = d.clone();
        all.extend_from_slice(&t);
        let (d2, t2) = all.split_at(d.len() + 1);
        let enc = vector2_with("data", &STANDARD.encode(d2));
        let enc = enc.replacen(
            "tag:JUM671qaxijoJHHcppksxg==",
            &format!("tag:{}", STANDARD.encode(t2)),
            1,
        );
        let got = decrypt(&vector_key(), &enc, b"name:").expect("decrypts");
        assert_eq!(got.plaintext.as_slice(), b"Alice");
    }

    /// Values with IVs of other lengths than the 32 bytes sops writes, as
    /// Go's `cipher.NewGCMWithNonceSize(len(iv))` decrypts them. Made with
    /// Python `cryptography` (whose AESGCM takes nonces of 8 to 128 bytes):
    /// key 00..1f, AAD `name:`, IV = 0x2a repeated `len` times,
    /// `ct = AESGCM(key).encrypt(iv, plaintext, aad)`, data = `ct[:-16]`,
    /// tag = `ct[-16:]`, each in standard base64.
    /// (IV length, plaintext, value string).
    const OTHER_IV_VECTORS: &[(usize, &str, &str)] = &[
        (12, "Alice", "ENC[AES256_GCM,data:3FNu8cc=,iv:KioqKioqKioqKioq,tag:e9ZrgQ9XjXIGHg4wuuCVwA==,type:str]"),
        (16, "hello world, more than one block!", "ENC[AES256_GCM,data:BS0pc0d5ZiDcd5TtfMZye6V90JPxmrjYL78LPIdRs9T5,iv:KioqKioqKioqKioqKioqKg==,tag:Vs0II2mrSnf0nWw3LOY1yQ==,type:str]"),
        (64, "Alice", "ENC[AES256_GCM,data:MuUEZ6w=,iv:KioqKioqKioqKioqKioqKioqKioqKioqKioqKioqKioqKioqKioqKioqKioqKioqKioqKioqKioqKioqKioqKg==,tag:3SpSH8D2aLs+dJhgByvo3w==,type:str]"),
    ];

    /// Made as [`OTHER_IV_VECTORS`], with a 65-byte IV: valid for Go,
    /// refused here.
    const IV65_ENC: &str = "ENC[AES256_GCM,data:1tuxzEs=,iv:KioqKioqKioqKioqKioqKioqKioqKioqKioqKioqKioqKioqKioqKioqKioqKioqKioqKioqKioqKioqKioqKio=,tag:j6oVRMwPuwDdL/7CWjW07w==,type:str]";

    #[test]
    fn other_iv_lengths_decrypt_like_go() {
        let cipher = ValueCipher::new(&vector_key());
        for &(len, pt, enc) in OTHER_IV_VECTORS {
            let d = cipher.decrypt(enc, b"name:").expect("decrypts");
            assert_eq!(d.plaintext.as_slice(), pt.as_bytes(), "IV of {len} bytes");
            assert_eq!(d.iv, vec![0x2a; len]);
            assert_eq!(
                cipher.decrypt(enc, b"other:").unwrap_err(),
                CipherError::Authentication,
                "IV of {len} bytes"
            );
            let tampered = enc
                .replacen("tag:", "tag:A", 1)
                .replacen("==,type", "=,type", 1);
            assert_eq!(
                cipher.decrypt(&tampered, b"name:").unwrap_err(),
                CipherError::Authentication,
                "IV of {len} bytes"
            );
        }
    }

    #[test]
    fn iv_lengths_beyond_the_limit_are_refused() {
        let err = decrypt(&vector_key(), IV65_ENC, b"name:").unwrap_err();
        assert_eq!(err, CipherError::InvalidIvLength(65));
        assert!(err.to_string().contains("IV length 65"), "{err}");
        // The length is checked before the tag, as Go builds the GCM first.
        let short = IV65_ENC.replacen("tag:j6oVRMwPuwDdL/7CWjW07w==", "tag:AA==", 1);
        assert_eq!(
            decrypt(&vector_key(), &short, b"name:").unwrap_err(),
            CipherError::InvalidIvLength(65)
        );
        // An IV of 200 bytes is decoded on the heap and refused as well.
        let long = VECTORS[1].4.replacen(
            "iv:AgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgI=",
            &format!("iv:{}", STANDARD.encode([2u8; 200])),
            1,
        );
        assert_eq!(
            decrypt(&vector_key(), &long, b"name:").unwrap_err(),
            CipherError::InvalidIvLength(200)
        );
    }

    #[test]
    fn unknown_and_bytes_types() {
        let enc = VECTORS[1].4.replacen("type:str", "type:int64", 1);
        let err = decrypt(&vector_key(), &enc, b"name:").unwrap_err();
        assert_eq!(err, CipherError::UnknownType("int64".into()));
        let enc = VECTORS[1].4.replacen("type:str", "type:bytes", 1);
        let d = decrypt(&vector_key(), &enc, b"name:").expect("bytes type parses");
        assert_eq!(d.ty, ValueType::Bytes);
        assert_eq!(
            decode_scalar(&d.plaintext, d.ty).expect("bytes"),
            Value::Str("Alice".into())
        );
        assert_eq!(
            decode_scalar(&[0xff, 0x00], ValueType::Bytes).expect("bytes"),
            Value::Bytes(vec![0xff, 0])
        );
        assert_eq!(
            "comment".parse::<ValueType>().expect("known"),
            ValueType::Comment
        );
        assert!("STR".parse::<ValueType>().is_err());
        for ty in [
            ValueType::Str,
            ValueType::Int,
            ValueType::Float,
            ValueType::Bool,
            ValueType::Time,
            ValueType::Comment,
            ValueType::Bytes,
        ] {
            assert_eq!(ValueType::from_name(ty.as_str()), Some(ty));
            assert_eq!(ty.to_string(), ty.as_str());
        }
    }

    #[test]
    #[allow(clippy::approx_constant)] // 3.14 is the spec's vector, not π
    fn decode_scalar_reads_like_go() {
        let ok = [
            ("t", ValueType::Bool, Value::Bool(true)),
            ("False", ValueType::Bool, Value::Bool(false)),
            ("+5", ValueType::Int, Value::Int(5)),
            ("-9223372036854775808", ValueType::Int, Value::Int(i64::MIN)),
            ("3.14", ValueType::Float, Value::Float(3.14)),
            ("0x1p-2", ValueType::Float, Value::Float(0.25)),
            ("1_000.5", ValueType::Float, Value::Float(1000.5)),
            (
                "2024-01-02T3:04:05.100Z",
                ValueType::Time,
                Value::Time("2024-01-02T03:04:05.1Z".into()),
            ),
        ];
        for (text, ty, want) in ok {
            assert_eq!(decode_scalar(text.as_bytes(), ty), Ok(want), "{text}");
        }
        let bad = [
            ("yes", ValueType::Bool),
            ("1_000", ValueType::Int),
            ("9223372036854775808", ValueType::Int),
            ("1e400", ValueType::Float),
            ("2024-01-02T03:04:05+24:00", ValueType::Time),
            ("2024-01-02", ValueType::Time),
        ];
        for (text, ty) in bad {
            let err = decode_scalar(text.as_bytes(), ty).unwrap_err();
            assert_eq!(err, CipherError::InvalidPlaintext(ty), "{text}");
            assert!(!err.to_string().contains(text));
        }
        assert_eq!(
            decode_scalar(&[b'1', 0xff], ValueType::Float),
            Err(CipherError::InvalidPlaintext(ValueType::Float))
        );
    }

    #[test]
    fn encode_scalars() {
        let cases: Vec<(Value, &str, ValueType)> = vec![
            (
                Value::Int(-9223372036854775808),
                "-9223372036854775808",
                ValueType::Int,
            ),
            (Value::Float(1.0), "1", ValueType::Float),
            (Value::Float(-0.0), "-0", ValueType::Float),
            (Value::Float(f64::INFINITY), "+Inf", ValueType::Float),
            (Value::Float(f64::NAN), "NaN", ValueType::Float),
            (Value::Bool(false), "False", ValueType::Bool),
            (
                Value::Time("2006-01-02T15:04:05+07:06".into()),
                "2006-01-02T15:04:05+07:06",
                ValueType::Time,
            ),
            (Value::Str(String::new()), "", ValueType::Str),
        ];
        for (v, text, ty) in cases {
            let (bytes, got_ty) = encode_scalar(&v).expect("scalar");
            assert_eq!(bytes.as_slice(), text.as_bytes());
            assert_eq!(got_ty, ty);
            assert_eq!(decode_scalar(&bytes, ty).expect("round trip"), v);
        }
        let (bytes, ty) = encode_scalar(&Value::Bytes(vec![0xff, 0])).expect("bytes");
        assert_eq!((bytes.as_slice(), ty), (&[0xffu8, 0][..], ValueType::Str));
        assert!(encode_scalar(&Value::Null).is_none());
        assert!(encode_scalar(&Value::Map(rsops_format::Map::new())).is_none());
        assert!(encode_scalar(&Value::List(rsops_format::List::default())).is_none());
    }

    #[test]
    fn debug_output_hides_secrets() {
        let d = decrypt(&vector_key(), VECTORS[1].4, b"name:").expect("decrypts");
        let dbg = format!("{d:?}");
        assert!(!dbg.contains("Alice") && !dbg.contains("65"), "{dbg}");
        assert_eq!(
            format!("{:?}", ValueCipher::new(&vector_key())),
            "ValueCipher { .. }"
        );
        assert_eq!(random_iv().len(), 32);
        assert_ne!(random_iv(), random_iv());
    }

    fn any_type() -> impl Strategy<Value = ValueType> {
        prop_oneof![
            Just(ValueType::Str),
            Just(ValueType::Int),
            Just(ValueType::Float),
            Just(ValueType::Bool),
            Just(ValueType::Time),
            Just(ValueType::Comment),
            Just(ValueType::Bytes),
        ]
    }

    proptest! {
        #[test]
        fn encrypt_decrypt_round_trip(
            key in any::<[u8; 32]>(),
            iv in any::<[u8; 32]>(),
            pt in proptest::collection::vec(any::<u8>(), 1..200),
            aad in proptest::collection::vec(any::<u8>(), 0..64),
            ty in any_type(),
        ) {
            let cipher = ValueCipher::new(&key);
            let enc = cipher.encrypt(&iv, &pt, &aad, ty).expect("encrypts");
            prop_assert!(is_encrypted(&enc));
            let suffix = format!(",type:{}]", ty);
            prop_assert!(enc.ends_with(&suffix));
            let d = cipher.decrypt(&enc, &aad).expect("round trip");
            prop_assert_eq!(d.plaintext.as_slice(), pt.as_slice());
            prop_assert_eq!(d.ty, ty);
            prop_assert_eq!(d.iv, iv.to_vec());
        }

        #[test]
        fn split_matches_the_sops_regex(
            parts in proptest::collection::vec(
                prop_oneof![
                    Just(",iv:"), Just(",tag:"), Just(",type:"), Just("]"), Just(","),
                    Just("\n"), Just("a"), Just("é"), Just(":"), Just("iv"),
                ],
                0..24,
            ),
        ) {
            let s = format!("ENC[AES256_GCM,data:{}", parts.concat());
            let re = regex::Regex::new(
                r"^ENC\[AES256_GCM,data:(.+),iv:(.+),tag:(.+),type:(.+)\]",
            )
            .expect("valid");
            let want = re.captures(&s).map(|c| {
                let g = |i| c.get(i).map_or("", |m| m.as_str());
                (g(1), g(2), g(3), g(4))
            });
            let got = split_enc(&s).map(|f| (f.data, f.iv, f.tag, f.ty));
            prop_assert_eq!(got, want, "{:?}", s);
        }

        #[test]
        fn base64_fields_decode_as_go_reads_them(
            bytes in proptest::collection::vec(any::<u8>(), 0..70),
            noise in "[A-Za-z0-9+/=\r]{0,60}",
            edit in any::<(usize, u8, bool)>(),
        ) {
            let canonical = STANDARD.encode(&bytes);
            let mut edited = canonical.clone().into_bytes();
            if let Some(b) = edited.get_mut(edit.0 % (canonical.len() + 1)) {
                *b = b"AB/+=\r"[usize::from(edit.1) % 6];
            }
            let edited = String::from_utf8(edited).expect("ASCII");
            for text in [&canonical, &edited, &noise] {
                let cleaned: String = text.chars().filter(|&c| c != '\r').collect();
                let want = GO_STD_DECODE.decode(&cleaned).ok();
                let mut out = b"kept".to_vec();
                let got = decode_b64_into(text, &mut out, "data").ok().map(|()| out[4..].to_vec());
                prop_assert_eq!(&got, &want, "{:?}", text);
                let mut iv = IvBuf::default();
                let got = iv.decode(text).ok().map(|()| iv.as_slice().to_vec());
                prop_assert_eq!(&got, &want, "iv {:?}", text);
            }
            let mut out = b"kept".to_vec();
            push_b64(&mut out, &bytes).expect("encodes");
            prop_assert_eq!(&out[4..], canonical.as_bytes());
        }

        #[test]
        fn decrypt_never_panics(s in ".*", aad in proptest::collection::vec(any::<u8>(), 0..8)) {
            let _ = decrypt(&vector_key(), &s, &aad);
            let _ = decrypt(&vector_key(), &format!("ENC[AES256_GCM,data:{s}"), &aad);
        }

        #[test]
        fn decrypt_structured_garbage_never_panics(
            d in "[A-Za-z0-9+/=,:\\]\r]{0,30}",
            i in "[A-Za-z0-9+/=,:\\]\r]{0,50}",
            t in "[A-Za-z0-9+/=,:\\]\r]{0,30}",
            ty in "[a-z\\],]{0,10}",
        ) {
            let s = format!("ENC[AES256_GCM,data:{d},iv:{i},tag:{t},type:{ty}]");
            let _ = decrypt(&vector_key(), &s, b"x:");
        }

        #[test]
        fn decode_scalar_never_panics(bytes in proptest::collection::vec(any::<u8>(), 0..40), ty in any_type()) {
            let _ = decode_scalar(&bytes, ty);
        }

        #[test]
        fn float_text_round_trips(f in any::<f64>()) {
            let (bytes, ty) = encode_scalar(&Value::Float(f)).expect("scalar");
            prop_assert_eq!(decode_scalar(&bytes, ty).expect("parses"), Value::Float(f));
        }

        #[test]
        fn int_text_round_trips(n in any::<i64>()) {
            let (bytes, ty) = encode_scalar(&Value::Int(n)).expect("scalar");
            prop_assert_eq!(decode_scalar(&bytes, ty).expect("parses"), Value::Int(n));
        }


    }
}
