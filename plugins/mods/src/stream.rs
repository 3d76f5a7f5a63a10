//! The `.tmod` file stream (spec §2.4, §3.3): the reader's bounded decoders
//! (zlib via `miniz_oxide`, then Trove's manual de-framer, chosen by checksum
//! verification) and the builder's byte-exact stored-block writer.

use miniz_oxide::inflate::TINFLStatus;
use miniz_oxide::inflate::core::{DecompressorOxide, decompress, inflate_flags};

use crate::primitives::calculate_hash;

/// zlib stores at most this many raw bytes per block at level 0 (and Trove's framing
/// uses the same chunk).
pub const CHUNK: usize = 32768;

/// A file-table entry as the stream decoders need it.
pub trait Span {
    fn offset(&self) -> u32;
    fn size(&self) -> u32;
    fn checksum(&self) -> u32;
}

/// `stream[offset : offset + size]` with Python's clamping.
pub fn clamped(stream: &[u8], offset: u32, size: u32) -> &[u8] {
    let len = stream.len();
    let start = usize::try_from(offset).unwrap_or(usize::MAX).min(len);
    let end = usize::try_from(u64::from(offset) + u64::from(size)).unwrap_or(usize::MAX).min(len);
    stream.get(start..end.max(start)).unwrap_or_default()
}

/// `_verify_stream`: the first four non-empty entries must lie inside `stream`
/// and hash to their stored checksums.
pub fn verify<E: Span>(stream: &[u8], entries: &[E]) -> bool {
    let mut checked = 0;
    for e in entries.iter().filter(|e| e.size() != 0) {
        let end = u64::from(e.offset()) + u64::from(e.size());
        if end > stream.len() as u64 {
            return false;
        }
        if calculate_hash(clamped(stream, e.offset(), e.size())) != e.checksum() {
            return false;
        }
        checked += 1;
        if checked >= 4 {
            return true;
        }
    }
    true
}

/// `_manual_decompress`: drop a 7-byte head and a 5-byte tail, then keep 32768
/// bytes and skip a 5-byte marker, `len(buf) // 32773` times, then the rest.
pub fn manual_deframe(data: &[u8]) -> Vec<u8> {
    let buf = data.get(7..data.len().saturating_sub(5)).unwrap_or_default();
    let mut out = Vec::with_capacity(buf.len());
    let mut pos = 0;
    for _ in 0..buf.len() / (CHUNK + 5) {
        out.extend_from_slice(buf.get(pos..pos + CHUNK).unwrap_or_default());
        pos += CHUNK + 5;
    }
    out.extend_from_slice(buf.get(pos..).unwrap_or_default());
    out
}

/// The zlib stream inflates to more than the reader allows.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct InflateLimit {
    pub limit: u64,
}

/// The primary decoder, Python's `decompressobj().decompress(data) + flush()`:
/// `Ok(None)` where zlib raises (bad header, bad data, Adler-32 mismatch),
/// `Ok(Some(bytes))` otherwise, truncated input giving a short output.
///
/// Only the first `keep` output bytes are retained (nothing past the furthest
/// file-table end is ever read), but the whole stream is still decoded so that
/// a later error makes the result `None` as in the original. Decoding more than
/// `work_limit` bytes in total is refused with [`InflateLimit`].
pub fn inflate_zlib(data: &[u8], keep: u64, work_limit: u64) -> Result<Option<Vec<u8>>, InflateLimit> {
    let mut state = Box::<DecompressorOxide>::default();
    let mut ring = vec![0u8; CHUNK];
    let mask = CHUNK - 1;
    let keep_cap = usize::try_from(keep.min(work_limit)).unwrap_or(usize::MAX);
    let mut kept: Vec<u8> = Vec::with_capacity(keep_cap.min(data.len().saturating_add(CHUNK)));
    let (mut in_pos, mut out_pos, mut total) = (0usize, 0usize, 0u64);
    let flags = inflate_flags::TINFL_FLAG_PARSE_ZLIB_HEADER;
    loop {
        let input = data.get(in_pos..).unwrap_or_default();
        let (status, consumed, written) = decompress(&mut state, input, &mut ring, out_pos, flags);
        in_pos += consumed;
        total += written as u64;
        if total > work_limit {
            return Err(InflateLimit { limit: work_limit });
        }
        let room = keep_cap.saturating_sub(kept.len());
        if room > 0 {
            let produced = ring.get(out_pos..out_pos + written).unwrap_or_default();
            kept.extend_from_slice(&produced[..produced.len().min(room)]);
        }
        out_pos = (out_pos + written) & mask;
        match status {
            TINFLStatus::Done => return Ok(Some(kept)),
            TINFLStatus::HasMoreOutput if consumed > 0 || written > 0 => {}
            // Input ran out before the stream ended: zlib returns what it has.
            TINFLStatus::HasMoreOutput | TINFLStatus::NeedsMoreInput | TINFLStatus::FailedCannotMakeProgress => {
                return Ok(Some(kept));
            }
            TINFLStatus::Failed | TINFLStatus::Adler32Mismatch | TINFLStatus::BadParam => {
                return Ok(None);
            }
        }
    }
}

/// `_decompress_file_stream`: zlib if its output verifies, else the manual
/// de-framer if that verifies, else zlib's output if there was one, else the
/// manual result. Never fails except on the inflate bound.
pub fn decode_file_stream<E: Span>(data: &[u8], entries: &[E], work_limit: u64) -> Result<Vec<u8>, InflateLimit> {
    let keep = entries
        .iter()
        .filter(|e| e.size() != 0)
        .map(|e| u64::from(e.offset()) + u64::from(e.size()))
        .max()
        .unwrap_or(0);
    let primary = inflate_zlib(data, keep, work_limit)?;
    if let Some(p) = &primary
        && verify(p, entries)
    {
        return Ok(primary.unwrap_or_default());
    }
    let manual = manual_deframe(data);
    if verify(&manual, entries) {
        return Ok(manual);
    }
    Ok(primary.unwrap_or(manual))
}

/// Writes the builder's stream: `78 01`, one non-final stored block per 32768
/// bytes of the padded content, then the `00 00 00 FF FF` sync-flush marker —
/// exactly what zlib 1.2.13 level 0 emits when fed 32768-byte `compress()` calls
/// and flushed with `Z_SYNC_FLUSH`.
#[derive(Debug)]
pub struct StoredWriter<'a> {
    out: &'a mut Vec<u8>,
    block_start: usize,
    block_len: usize,
}

impl<'a> StoredWriter<'a> {
    /// Starts the stream (writes the zlib header).
    pub fn new(out: &'a mut Vec<u8>) -> Self {
        out.extend_from_slice(&[0x78, 0x01]);
        Self { out, block_start: 0, block_len: 0 }
    }

    /// Appends stream bytes.
    pub fn write(&mut self, mut bytes: &[u8]) {
        while !bytes.is_empty() {
            if self.block_len == 0 {
                self.block_start = self.out.len();
                self.out.extend_from_slice(&[0; 5]);
            }
            let take = (CHUNK - self.block_len).min(bytes.len());
            self.out.extend_from_slice(&bytes[..take]);
            self.block_len += take;
            bytes = &bytes[take..];
            if self.block_len == CHUNK {
                self.close_block();
            }
        }
    }

    fn close_block(&mut self) {
        let len = self.block_len as u16;
        let nlen = !len;
        if let Some(h) = self.out.get_mut(self.block_start..self.block_start + 5) {
            h.copy_from_slice(&[0, len as u8, (len >> 8) as u8, nlen as u8, (nlen >> 8) as u8]);
        }
        self.block_len = 0;
    }

    /// Closes the last block and writes the sync-flush marker.
    pub fn finish(mut self) {
        if self.block_len > 0 {
            self.close_block();
        }
        self.out.extend_from_slice(&[0, 0, 0, 0xFF, 0xFF]);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn stored(n: usize) -> Vec<u8> {
        let data: Vec<u8> = (0..n).map(|i| (i % 251) as u8).collect();
        let mut out = Vec::new();
        let mut w = StoredWriter::new(&mut out);
        w.write(&data);
        w.finish();
        out
    }

    #[test]
    fn stored_layout() {
        assert_eq!(stored(0), [0x78, 0x01, 0, 0, 0, 0xFF, 0xFF]);
        let s = stored(200_000);
        // 6 full blocks + 3392 + marker.
        assert_eq!(s.len(), 2 + 7 * 5 + 200_000 + 5);
        let last = 2 + 6 * (CHUNK + 5);
        assert_eq!(&s[last..last + 5], &[0, 0x40, 0x0D, 0xBF, 0xF2]);
        // The reader's decoders both recover it.
        let data: Vec<u8> = (0..200_000).map(|i| (i % 251) as u8).collect();
        assert_eq!(inflate_zlib(&s, u64::MAX, u64::MAX).unwrap().unwrap(), data);
        assert_eq!(manual_deframe(&s), data);
        assert_eq!(inflate_zlib(&s, 10, u64::MAX).unwrap().unwrap(), &data[..10]);
        assert!(inflate_zlib(&s, 10, 1000).is_err());
    }

    #[test]
    fn inflate_edge_cases() {
        assert_eq!(inflate_zlib(&[], 100, 100), Ok(Some(vec![])));
        assert_eq!(inflate_zlib(&[0x78], 100, 100), Ok(Some(vec![])));
        assert_eq!(inflate_zlib(&[0x12, 0x34, 0, 0], 100, 100), Ok(None));
        assert_eq!(manual_deframe(&[1, 2, 3]), Vec::<u8>::new());
    }
}
