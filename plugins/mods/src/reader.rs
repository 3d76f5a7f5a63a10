//! The `.tmod` reader (spec §3, current version `70a92128`): fixed header,
//! property block and file table with the character-length header repair,
//! then the checksum-verified stream decode. Never panics; every length is
//! checked against the input before use, and allocations stay within a fixed
//! multiple of the input size (see [`INFLATE_RATIO`] and [`CONTENT_SLACK`]).

use std::collections::HashMap;

use crate::categories::{self, PyInt};
use crate::primitives::read_leb128;
use crate::pyutf8;
use crate::stream::{self, Span};

/// The zlib stream may inflate to at most this many times the upload size
/// (plus [`INFLATE_SLACK`]); Trove's stored framing never exceeds 1×.
pub const INFLATE_RATIO: u64 = 16;
/// Constant allowance added to the inflate bound.
pub const INFLATE_SLACK: u64 = 64 * 1024;
/// File entries may overlap, but their returned contents may total at most the
/// decoded stream plus the upload size plus this.
pub const CONTENT_SLACK: u64 = 64 * 1024;

/// A reader failure: the original's `TmodError` text (HTTP 400).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TmodError(pub String);

impl TmodError {
    fn new(msg: impl Into<String>) -> Self {
        Self(msg.into())
    }
    fn malformed(text: &str) -> Self {
        Self(format!("malformed .tmod file: {text}"))
    }
}

impl std::fmt::Display for TmodError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for TmodError {}

/// One file-table entry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Entry {
    pub path: String,
    pub index: u32,
    pub offset: u32,
    pub size: u32,
    pub checksum: u32,
}

impl Span for Entry {
    fn offset(&self) -> u32 {
        self.offset
    }
    fn size(&self) -> u32 {
        self.size
    }
    fn checksum(&self) -> u32 {
        self.checksum
    }
}

/// A decoded `.tmod`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Tmod {
    pub version: u16,
    pub header_size: u64,
    /// In file order; a duplicate name keeps its first position and its last value.
    pub properties: Vec<(String, String)>,
    pub files: Vec<Entry>,
    /// The header's string lengths counted characters, not bytes (old BTT writers).
    pub header_repaired: bool,
    /// The decoded stream (`None` in metadata-only mode). Only the part that the
    /// file table can reference is kept.
    pub stream: Option<Vec<u8>>,
    /// `int(properties["flags"])` (0 when absent or not an integer).
    pub flags: PyInt,
    pub categories: Vec<&'static str>,
}

impl Tmod {
    /// The content of file `i` (`stream[offset:offset+size]`, clamped), `None`
    /// in metadata-only mode.
    pub fn content(&self, i: usize) -> Option<&[u8]> {
        let e = self.files.get(i)?;
        let stream = self.stream.as_deref()?;
        Some(stream::clamped(stream, e.offset, e.size))
    }

    /// A property by name.
    pub fn property(&self, name: &str) -> Option<&str> {
        self.properties.iter().find(|(k, _)| k == name).map(|(_, v)| v.as_str())
    }
}

struct Parsed<'a> {
    properties: Vec<(&'a str, &'a str)>,
    entries: Vec<Entry>,
    end: u64,
}

/// `_utf8_char_span`: byte length of the next `chars` characters at `pos`.
fn char_span(data: &[u8], pos: u64, chars: u64) -> Result<u64, String> {
    let mut end = pos;
    for _ in 0..chars {
        let lead = usize::try_from(end).ok().and_then(|p| data.get(p)).copied().ok_or("index out of range")?;
        end += match lead {
            0x00..=0x7F => 1,
            0xC2..=0xDF => 2,
            0xE0..=0xEF => 3,
            0xF0..=0xF4 => 4,
            _ => return Err("not a UTF-8 lead byte".into()),
        };
    }
    if end > data.len() as u64 {
        return Err("header string runs past the end of the file".into());
    }
    Ok(end - pos)
}

/// `data[pos : pos + span]` with Python's clamping.
fn slice(data: &[u8], pos: u64, span: u64) -> &[u8] {
    let len = data.len() as u64;
    let start = pos.min(len) as usize;
    let end = pos.saturating_add(span).min(len) as usize;
    data.get(start..end.max(start)).unwrap_or_default()
}

fn read_string(data: &[u8], pos: u64, declared: u64, chars: bool) -> Result<(&str, u64), String> {
    let span = if chars { char_span(data, pos, declared)? } else { declared };
    let s = pyutf8::decode(slice(data, pos, span))?;
    Ok((s, pos + span))
}

fn leb(data: &[u8], pos: u64) -> Result<(u32, u64), String> {
    read_leb128(data, pos).map_err(|e| e.message().to_owned())
}

/// `_parse_header`: properties, then file entries while `pos < header_size`.
/// The error is the Python exception text.
fn parse_header(data: &[u8], header_size: u64, prop_count: u16, chars: bool) -> Result<Parsed<'_>, String> {
    let mut pos: u64 = 12;
    let mut properties: Vec<(&str, &str)> = Vec::new();
    let mut seen: HashMap<&str, usize> = HashMap::new();
    for _ in 0..prop_count {
        let (name_len, p) = leb(data, pos)?;
        let (name, p) = read_string(data, p, name_len.into(), chars)?;
        let (value_len, p) = leb(data, p)?;
        let (value, p) = read_string(data, p, value_len.into(), chars)?;
        pos = p;
        match seen.get(name) {
            Some(&i) => {
                if let Some(slot) = properties.get_mut(i) {
                    slot.1 = value;
                }
            }
            None => {
                seen.insert(name, properties.len());
                properties.push((name, value));
            }
        }
    }
    let mut entries = Vec::new();
    while pos < header_size {
        let path_len = usize::try_from(pos).ok().and_then(|p| data.get(p)).copied().ok_or("index out of range")?;
        let (path, p) = read_string(data, pos + 1, path_len.into(), chars)?;
        let (index, p) = leb(data, p)?;
        let (offset, p) = leb(data, p)?;
        let (size, p) = leb(data, p)?;
        let (checksum, p) = leb(data, p)?;
        pos = p;
        entries.push(Entry { path: path.to_owned(), index, offset, size, checksum });
    }
    Ok(Parsed { properties, entries, end: pos })
}

/// `_read_header`: the byte-length reading, else the character-length one, else
/// the strict parse's own error or the "does not end" error.
fn read_header(data: &[u8], header_size: u64, prop_count: u16) -> Result<(Parsed<'_>, bool), TmodError> {
    for chars in [false, true] {
        if let Ok(p) = parse_header(data, header_size, prop_count, chars)
            && p.end == header_size
        {
            return Ok((p, chars));
        }
    }
    match parse_header(data, header_size, prop_count, false) {
        Err(text) => Err(TmodError::malformed(&text)),
        Ok(_) => Err(TmodError::new("the file table does not end where the declared header size says")),
    }
}

/// `read_tmod(data, metadata_only)`.
pub fn read_tmod(data: &[u8], metadata_only: bool) -> Result<Tmod, TmodError> {
    let Some(fixed) = data.get(..12) else {
        return Err(TmodError::new("file too small to be a .tmod"));
    };
    let mut hs = [0u8; 8];
    hs.copy_from_slice(&fixed[..8]);
    let header_size = u64::from_le_bytes(hs);
    let version = u16::from_le_bytes([fixed[8], fixed[9]]);
    let prop_count = u16::from_le_bytes([fixed[10], fixed[11]]);
    if !(12..=data.len() as u64).contains(&header_size) {
        return Err(TmodError::new("declared header size is outside the file"));
    }
    let (parsed, header_repaired) = read_header(data, header_size, prop_count)?;
    let properties: Vec<(String, String)> =
        parsed.properties.iter().map(|(k, v)| ((*k).to_owned(), (*v).to_owned())).collect();
    let mut files = parsed.entries;
    files.shrink_to_fit();

    let stream = if metadata_only {
        None
    } else {
        // header_size <= data.len() was checked above.
        let body = data.get(header_size as usize..).unwrap_or_default();
        let work_limit = (data.len() as u64).saturating_mul(INFLATE_RATIO).saturating_add(INFLATE_SLACK);
        let stream = stream::decode_file_stream(body, &files, work_limit).map_err(|l| {
            TmodError::new(format!(
                "the file stream inflates to more than {} bytes ({INFLATE_RATIO}x the upload \
                 size plus {INFLATE_SLACK}); refusing to decompress it",
                l.limit
            ))
        })?;
        let total: u64 = files.iter().map(|e| stream::clamped(&stream, e.offset, e.size).len() as u64).sum();
        let allowed = (stream.len() as u64).saturating_add(data.len() as u64).saturating_add(CONTENT_SLACK);
        if total > allowed {
            return Err(TmodError::new(format!(
                "the file table's entries overlap too much: their contents would total {total} \
                 bytes, more than the decoded stream plus the upload size ({allowed} bytes)"
            )));
        }
        Some(stream)
    };

    let props_flags = properties.iter().find(|(k, _)| k == "flags").map(|(_, v)| v.as_str());
    let flags = categories::flags_of(props_flags);
    let categories = categories::tags_from_flags(flags.wrapped);
    Ok(Tmod { version, header_size, properties, files, header_repaired, stream, flags, categories })
}
