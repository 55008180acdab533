//! Cutting an encrypted file that is not held in memory: the same pieces
//! as [`super::encrypted`] gives for the whole input, found by reading the
//! input in blocks from a [`Source`].
//!
//! The metadata entry is found first, searching backwards from the end
//! (it is normally the last root item, so only the tail is read), then the
//! data before and after it is read forwards once, block by block, to find
//! the cuts. Only a block and the line before the next candidate cut are
//! held at a time (a line longer than a block is held whole). The pieces
//! keep reading their text from the source when they are parsed.

use std::io;
use std::ops::Range;

use super::{parse_text, Input, Pieces};
use crate::store::{Format, METADATA_KEY};
use crate::tree::{Map, MapItem, Value};
use crate::yaml;

/// Random access to the bytes of an input that is not held in memory
/// (a file read with positioned reads). Its length must not change while
/// it is read; a read past the end is an error.
pub trait Source: Sync {
    /// The length of the input in bytes.
    fn len(&self) -> u64;

    /// Whether the input is empty.
    fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Fills `buf` with the bytes at `offset`; an error when they cannot
    /// all be read.
    fn read_exact_at(&self, buf: &mut [u8], offset: u64) -> io::Result<()>;
}

impl Source for &[u8] {
    fn len(&self) -> u64 {
        <[u8]>::len(self) as u64
    }

    fn read_exact_at(&self, buf: &mut [u8], offset: u64) -> io::Result<()> {
        let start = usize::try_from(offset).map_err(|_| past_end())?;
        let end = start.checked_add(buf.len()).ok_or_else(past_end)?;
        buf.copy_from_slice(self.get(start..end).ok_or_else(past_end)?);
        Ok(())
    }
}

fn past_end() -> io::Error {
    io::Error::new(
        io::ErrorKind::UnexpectedEof,
        "read past the end of the input",
    )
}

/// [`super::encrypted`] of the input of `source`, read in blocks of
/// `block` bytes: the same pieces and metadata, or `None` in the same
/// cases. An error when the source cannot be read.
pub fn encrypted_from(
    format: Format,
    source: &dyn Source,
    target: usize,
    block: usize,
) -> io::Result<Option<(Pieces<'_>, Map)>> {
    encrypted_with(format, source, target, block, &mut 0)
}

/// [`encrypted_from`], recording in `held` the most input bytes a scan
/// held at once.
pub(super) fn encrypted_with<'a>(
    format: Format,
    source: &'a dyn Source,
    target: usize,
    block: usize,
    held: &mut usize,
) -> io::Result<Option<(Pieces<'a>, Map)>> {
    let reader = Reader {
        source,
        len: source.len(),
        block: block.max(1),
    };
    let Some(frame) = reader.frame(format)? else {
        return Ok(None);
    };
    let Some(meta_start) = reader.find_metadata(&frame)? else {
        return Ok(None);
    };
    let body = frame.body.clone();
    let mut scan = Scanner::new(&reader, &frame, meta_start);
    let meta_end = scan
        .next_cut(meta_start.saturating_add(1), body.end)?
        .unwrap_or(body.end);
    *held = (*held).max(scan.held);
    let Some(meta_text) = reader.trimmed(&frame, meta_start..meta_end)? else {
        return Ok(None);
    };
    let Some(metadata) = parse_metadata(format, &reader.read(meta_text)?) else {
        return Ok(None);
    };
    let Some(mut ranges) = reader.pieces(&frame, body.start..meta_start, target, held)? else {
        return Ok(None);
    };
    let Some(after) = reader.pieces(&frame, meta_end..body.end, target, held)? else {
        return Ok(None);
    };
    ranges.extend(after);
    if ranges.is_empty() {
        return Ok(None);
    }
    let Some(ranges) = ranges
        .into_iter()
        .map(|r| Some(usize::try_from(r.start).ok()?..usize::try_from(r.end).ok()?))
        .collect::<Option<Vec<_>>>()
    else {
        return Ok(None);
    };
    Ok(Some((
        Pieces {
            format,
            input: Input::Source(source),
            ranges,
        },
        metadata,
    )))
}

/// The metadata map of the text of the `sops` entry alone.
fn parse_metadata(format: Format, text: &[u8]) -> Option<Map> {
    let meta_map = parse_text(format, text).ok()?;
    let [MapItem::Entry(entry)]: [MapItem; 1] = meta_map.items.try_into().ok()? else {
        return None;
    };
    if entry.key.as_str() != Some(METADATA_KEY) {
        return None;
    }
    match entry.value {
        Value::Map(metadata) => Some(metadata),
        _ => None,
    }
}

/// Where the root items are (see `Layout` in the parent module).
struct Frame {
    format: Format,
    /// YAML: the whole input; JSON: between the braces of the top object.
    body: Range<u64>,
    /// JSON: the indentation of the first member's line.
    indent: Vec<u8>,
}

fn is_blank(b: &u8) -> bool {
    b.is_ascii_whitespace()
}

/// Reads of a source in blocks.
struct Reader<'s> {
    source: &'s dyn Source,
    len: u64,
    block: usize,
}

impl Reader<'_> {
    /// The bytes of `range`.
    fn read(&self, range: Range<u64>) -> io::Result<Vec<u8>> {
        let n = usize::try_from(range.end.saturating_sub(range.start)).map_err(|_| past_end())?;
        let mut buf = vec![0; n];
        self.source.read_exact_at(&mut buf, range.start)?;
        Ok(buf)
    }

    /// The byte at `at`, if inside the input.
    fn byte(&self, at: u64) -> io::Result<Option<u8>> {
        if at >= self.len {
            return Ok(None);
        }
        Ok(self.read(at..at + 1)?.first().copied())
    }

    /// Sizes of successive reads of a search: small first (what is
    /// searched is usually close), doubling up to a block.
    fn steps(&self) -> impl Iterator<Item = u64> {
        let block = self.block as u64;
        std::iter::successors(Some(block.min(256)), move |s| Some((s * 2).min(block)))
    }

    /// The first position in `range` whose byte matches `pred`.
    fn find(&self, range: Range<u64>, pred: impl Fn(&u8) -> bool) -> io::Result<Option<u64>> {
        let mut at = range.start;
        let mut steps = self.steps();
        while at < range.end {
            let step = steps.next().unwrap_or(1);
            let end = range.end.min(at.saturating_add(step));
            let buf = self.read(at..end)?;
            if let Some(i) = buf.iter().position(&pred) {
                return Ok(Some(at + i as u64));
            }
            at = end;
        }
        Ok(None)
    }

    /// The last position in `range` whose byte matches `pred`.
    fn rfind(&self, range: Range<u64>, pred: impl Fn(&u8) -> bool) -> io::Result<Option<u64>> {
        let mut end = range.end;
        let mut steps = self.steps();
        while end > range.start {
            let step = steps.next().unwrap_or(1);
            let at = range.start.max(end.saturating_sub(step));
            let buf = self.read(at..end)?;
            if let Some(i) = buf.iter().rposition(&pred) {
                return Ok(Some(at + i as u64));
            }
            end = at;
        }
        Ok(None)
    }

    /// Where the last occurrence of `pattern` that lies entirely in
    /// `range` starts.
    fn rfind_bytes(&self, range: Range<u64>, pattern: &[u8]) -> io::Result<Option<u64>> {
        let overlap = pattern.len().saturating_sub(1) as u64;
        let mut end = range.end;
        let mut steps = self.steps();
        while end > range.start {
            let step = steps.next().unwrap_or(1);
            let at = range.start.max(end.saturating_sub(step));
            let buf = self.read(at..range.end.min(end.saturating_add(overlap)))?;
            if let Some(i) = memchr::memmem::rfind(&buf, pattern) {
                return Ok(Some(at + i as u64));
            }
            end = at;
        }
        Ok(None)
    }

    /// Where the root items are; `None` when the input cannot be cut.
    fn frame(&self, format: Format) -> io::Result<Option<Frame>> {
        match format {
            Format::Yaml => Ok(Some(Frame {
                format,
                body: 0..self.len,
                indent: Vec::new(),
            })),
            Format::Json => {
                let not_blank = |b: &u8| !is_blank(b);
                let Some(open) = self.find(0..self.len, not_blank)? else {
                    return Ok(None);
                };
                let Some(close) = self.rfind(0..self.len, not_blank)? else {
                    return Ok(None);
                };
                if close <= open
                    || self.byte(open)? != Some(b'{')
                    || self.byte(close)? != Some(b'}')
                {
                    return Ok(None);
                }
                // The first member starts a line of its own.
                let Some(nl) =
                    self.find(open + 1..close, |b| !matches!(b, b' ' | b'\t' | b'\r'))?
                else {
                    return Ok(None);
                };
                if self.byte(nl)? != Some(b'\n') {
                    return Ok(None);
                }
                let line = nl + 1;
                let width = self
                    .find(line..close, |b| !matches!(b, b' ' | b'\t'))?
                    .unwrap_or(close);
                if width >= close || self.byte(width)? != Some(b'"') {
                    return Ok(None);
                }
                Ok(Some(Frame {
                    format,
                    body: open + 1..close,
                    indent: self.read(line..width)?,
                }))
            }
            _ => Ok(None),
        }
    }

    /// Where the root item `sops` starts (see `Layout::find_metadata`).
    fn find_metadata(&self, frame: &Frame) -> io::Result<Option<u64>> {
        match frame.format {
            Format::Yaml => {
                let last = self.rfind_bytes(0..self.len, b"\nsops:")?.map(|i| i + 1);
                let at = if self.len >= 5 && self.read(0..5)? == b"sops:" {
                    Some(0)
                } else {
                    None
                };
                let Some(start) = last.or(at) else {
                    return Ok(None);
                };
                let follows = self.byte(start + 5)?;
                if !matches!(follows, None | Some(b' ' | b'\n' | b'\r')) {
                    return Ok(None);
                }
                if start != 0 && !self.yaml_is_cut(start)? {
                    return Ok(None);
                }
                Ok(Some(start))
            }
            _ => {
                let Some(key) = self.rfind_bytes(0..frame.body.end, b"\"sops\"")? else {
                    return Ok(None);
                };
                let Some(start) = key.checked_sub(frame.indent.len() as u64) else {
                    return Ok(None);
                };
                let line_start = start == 0 || self.byte(start - 1)? == Some(b'\n');
                if !line_start || self.read(start..key)? != frame.indent {
                    return Ok(None);
                }
                let colon = self.find(key + 6..self.len, |b| !matches!(b, b' ' | b'\t'))?;
                match colon {
                    Some(c) if self.byte(c)? == Some(b':') => {}
                    _ => return Ok(None),
                }
                // The first member, or a cut: the line holds a key at the
                // members' indentation, so a cut when a `,` comes before.
                let before = self.rfind(frame.body.start..start, |b| !is_blank(b))?;
                match before {
                    None => Ok(Some(frame.body.start)),
                    Some(b) if self.byte(b)? == Some(b',') => Ok(Some(start)),
                    Some(_) => Ok(None),
                }
            }
        }
    }

    /// [`yaml::is_cut`] at line start `start`, read from the source.
    fn yaml_is_cut(&self, start: u64) -> io::Result<bool> {
        let Some(prev_end) = start.checked_sub(1) else {
            return Ok(false);
        };
        let line = self
            .rfind(0..prev_end, |b| *b == b'\n')?
            .map_or(0, |i| i + 1);
        let end = self.len.min(start + 1);
        let text = self.read(line..end)?;
        Ok(yaml::is_cut(&text, (start - line) as usize))
    }

    /// The text of a run of items without the separators around it
    /// (see `Layout::trimmed`); `None` when only blanks remain.
    fn trimmed(&self, frame: &Frame, range: Range<u64>) -> io::Result<Option<Range<u64>>> {
        if frame.format == Format::Yaml {
            return Ok(Some(range));
        }
        let Some(first) = self.find(range.clone(), |b| !is_blank(b))? else {
            return Ok(None);
        };
        let Some(mut last) = self.rfind(range.clone(), |b| !is_blank(b))? else {
            return Ok(None);
        };
        if self.byte(last)? == Some(b',') {
            match self.rfind(range.start..last, |b| !is_blank(b))? {
                Some(l) => last = l,
                None => return Ok(None),
            }
        }
        Ok(Some(first..last + 1))
    }

    /// `region` (a run of whole root items starting at a line start, or
    /// the JSON body) cut into pieces of about `target` bytes (see
    /// `Layout::pieces`).
    fn pieces(
        &self,
        frame: &Frame,
        region: Range<u64>,
        target: usize,
        held: &mut usize,
    ) -> io::Result<Option<Vec<Range<u64>>>> {
        let mut out = Vec::new();
        let mut scan = Scanner::new(self, frame, region.start);
        let mut start = region.start;
        while start < region.end {
            let end = scan
                .next_cut(start.saturating_add(target.max(1) as u64), region.end)?
                .unwrap_or(region.end);
            let blank = self.find(start..end, |b| !is_blank(b))?.is_none();
            if !blank {
                match self.trimmed(frame, start..end)? {
                    Some(r) => out.push(r),
                    None => return Ok(None),
                }
            }
            start = end;
        }
        *held = (*held).max(scan.held);
        Ok(Some(out))
    }
}

/// How far before the next line break to look at a [`Scanner::jump`]
/// starts reading (to find the line start before it).
const JUMP_LOOKBACK: u64 = 4096;

/// How much a [`Scanner::jump`] reads: cuts usually lie a top-level item
/// or two past where they are looked for, so most are found without
/// reading a whole block. When the window holds no cut, the reads after it
/// double in size up to a block.
const JUMP_WINDOW: u64 = 16 * 1024;

/// Finds cuts reading forwards: holds the input from the start of the line
/// before the next line start to look at, to the end of the last block
/// read.
struct Scanner<'r, 's> {
    reader: &'r Reader<'s>,
    format: Format,
    indent: &'r [u8],
    /// Input from `at` on.
    buf: Vec<u8>,
    /// A line start (or the start of the JSON body).
    at: u64,
    /// Every line break before this was looked at.
    scanned: u64,
    /// JSON: the last non-blank byte before `at`, if any was read.
    before: Option<u8>,
    /// The most bytes held at once.
    held: usize,
    /// How much the next block read reads at most: a block, or, after a
    /// jump, twice the previous read (see [`JUMP_WINDOW`]).
    step: usize,
}

impl<'r, 's> Scanner<'r, 's> {
    fn new(reader: &'r Reader<'s>, frame: &'r Frame, at: u64) -> Scanner<'r, 's> {
        Scanner {
            reader,
            format: frame.format,
            indent: &frame.indent,
            buf: Vec::new(),
            at,
            scanned: at,
            before: None,
            held: 0,
            step: reader.block,
        }
    }

    /// The first cut at or after `from`, before `end` (`Layout::next_cut`).
    /// Calls must come with increasing `from`.
    fn next_cut(&mut self, from: u64, end: u64) -> io::Result<Option<u64>> {
        if from >= end {
            return Ok(None);
        }
        let from = from.max(1);
        // Bytes of a line that decide whether it starts a cut.
        let need = match self.format {
            Format::Yaml => 1,
            _ => self.indent.len() as u64 + 1,
        };
        loop {
            let buf_end = self.at + self.buf.len() as u64;
            // Line breaks before `from - 1` start no candidate.
            self.scanned = self.scanned.max(from - 1);
            let lo = self.scanned;
            let mut waiting = false;
            if lo < buf_end {
                let local = (lo - self.at) as usize;
                let lines = memchr::memchr_iter(b'\n', self.buf.get(local..).unwrap_or_default());
                for i in lines {
                    let p = lo + i as u64;
                    let s = p + 1;
                    if s >= end {
                        self.scanned = p;
                        return Ok(None);
                    }
                    if s + need > buf_end && buf_end < self.reader.len {
                        self.scanned = p;
                        waiting = true;
                        break;
                    }
                    self.scanned = s;
                    if self.is_cut(s) {
                        return Ok(Some(s));
                    }
                }
                if !waiting {
                    self.scanned = buf_end;
                }
            }
            if buf_end >= self.reader.len {
                return Ok(None);
            }
            self.refill()?;
        }
    }

    /// Reads [`JUMP_WINDOW`] bytes (at most a block) from a little before
    /// the next line break to look at, without reading what lies between
    /// it and what is held: the buffer then starts at the first line start
    /// of what was read, so the line before every line start still to look
    /// at is wholly held, and the JSON byte before it is the last non-blank
    /// byte read before it. False, with nothing changed, when what was read
    /// does not start a line before the next line break to look at, or
    /// holds only blanks before its first line start (the caller then
    /// reads on block by block, which finds the same cuts).
    fn jump(&mut self) -> io::Result<bool> {
        let window = JUMP_WINDOW.min(self.reader.block as u64);
        let from = self.scanned.saturating_sub(JUMP_LOOKBACK.min(window / 2));
        let n = (self.reader.len.saturating_sub(from)).min(window);
        if from + n <= self.scanned {
            return Ok(false);
        }
        let data = self.reader.read(from..from + n)?;
        let Some(nl) = memchr::memchr(b'\n', &data) else {
            return Ok(false);
        };
        if from + nl as u64 >= self.scanned {
            return Ok(false);
        }
        let Some(before) = data
            .get(..nl)
            .and_then(|b| b.iter().rposition(|b| !is_blank(b)))
            .and_then(|i| data.get(i).copied())
        else {
            return Ok(false);
        };
        self.before = Some(before);
        self.buf.clear();
        self.buf
            .extend_from_slice(data.get(nl + 1..).unwrap_or_default());
        self.at = from + nl as u64 + 1;
        self.scanned = self.scanned.max(self.at);
        self.held = self.held.max(data.len());
        self.step = data.len();
        Ok(true)
    }

    /// Whether a piece can start at line start `s`, held in the buffer
    /// with the line before it.
    fn is_cut(&self, s: u64) -> bool {
        let local = (s - self.at) as usize;
        match self.format {
            Format::Yaml => yaml::is_cut(&self.buf, local),
            _ => {
                let Some(line) = self.buf.get(local..) else {
                    return false;
                };
                let before = self
                    .buf
                    .get(..local)
                    .and_then(|b| b.iter().rposition(|b| !is_blank(b)))
                    .and_then(|i| self.buf.get(i).copied())
                    .or(self.before);
                line.starts_with(self.indent)
                    && line.get(self.indent.len()) == Some(&b'"')
                    && before == Some(b',')
            }
        }
    }

    /// Drops what is no longer needed (everything before the line holding
    /// the next line break to look at) and reads the next block; when the
    /// next line break to look at lies past what is held, the bytes in
    /// between are skipped ([`Scanner::jump`]).
    fn refill(&mut self) -> io::Result<()> {
        let held_end = self.at + self.buf.len() as u64;
        if self.scanned > held_end && self.jump()? {
            return Ok(());
        }
        let done = (self.scanned.saturating_sub(self.at) as usize).min(self.buf.len());
        let drop = self
            .buf
            .get(..done)
            .and_then(|b| memchr::memrchr(b'\n', b))
            .map_or(0, |i| i + 1);
        if drop > 0 {
            if let Some(i) = self
                .buf
                .get(..drop)
                .and_then(|b| b.iter().rposition(|b| !is_blank(b)))
            {
                self.before = self.buf.get(i).copied();
            }
            self.buf.drain(..drop);
            self.at += drop as u64;
        }
        let buf_end = self.at + self.buf.len() as u64;
        self.step = self.step.saturating_mul(2).clamp(1, self.reader.block);
        let n = (self.reader.len - buf_end).min(self.step as u64) as usize;
        let old = self.buf.len();
        self.buf.resize(old + n, 0);
        self.reader
            .source
            .read_exact_at(self.buf.get_mut(old..).unwrap_or_default(), buf_end)?;
        self.held = self.held.max(self.buf.len());
        Ok(())
    }
}
