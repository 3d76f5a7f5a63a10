//! Trove binary primitives: the FNV-1a-variant file checksum (`trove.dll`'s
//! `calculate_hash`) and unsigned LEB128 (spec §1).

const FNV_OFFSET: u32 = 0x811C_9DC5;
const FNV_PRIME: u32 = 0x0100_0193;

/// A C `signed char` widened to `u32` (sign extension).
fn se(b: u8) -> u32 {
    b as i8 as i32 as u32
}

/// Trove's checksum of one file's unpadded content: full 4-byte words folded
/// little-endian, then the 1–3 tail bytes sign-extended and folded big-endian.
pub fn calculate_hash(data: &[u8]) -> u32 {
    let mut h = FNV_OFFSET;
    let mut words = data.chunks_exact(4);
    for w in &mut words {
        let word = u32::from_le_bytes([w[0], w[1], w[2], w[3]]);
        h = (h ^ word).wrapping_mul(FNV_PRIME);
    }
    let tail = match *words.remainder() {
        [] => return h,
        [a] => se(a),
        [a, b] => (se(a) << 8) | se(b),
        [a, b, c] => (((se(a) << 8) | se(b)) << 8) | se(c),
        _ => return h,
    };
    (h ^ tail).wrapping_mul(FNV_PRIME)
}

/// Appends the unsigned LEB128 encoding of `value`.
pub fn write_leb128(out: &mut Vec<u8>, mut value: u64) {
    while value >= 0x80 {
        out.push((value as u8 & 0x7F) | 0x80);
        value >>= 7;
    }
    out.push(value as u8);
}

/// Why a LEB128 read failed (the original's exception texts).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LebError {
    /// Ran past the end of the buffer (Python `IndexError`).
    OutOfRange,
    /// A 10th continuation byte (Python `ValueError`).
    TooLong,
}

impl LebError {
    /// The Python exception text the original surfaces.
    pub fn message(self) -> &'static str {
        match self {
            LebError::OutOfRange => "index out of range",
            LebError::TooLong => "varint too long",
        }
    }
}

/// Reads an unsigned LEB128 at `pos`, returning `(value masked to 32 bits, new pos)`.
pub fn read_leb128(buf: &[u8], mut pos: u64) -> Result<(u32, u64), LebError> {
    let mut result: u64 = 0;
    let mut shift: u32 = 0;
    loop {
        let byte = usize::try_from(pos).ok().and_then(|p| buf.get(p)).copied().ok_or(LebError::OutOfRange)?;
        pos += 1;
        if shift < 32 {
            result |= u64::from(byte & 0x7F) << shift;
        }
        if byte & 0x80 == 0 {
            return Ok(((result & 0xFFFF_FFFF) as u32, pos));
        }
        shift += 7;
        if shift >= 64 {
            return Err(LebError::TooLong);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn goldens() {
        assert_eq!(calculate_hash(b""), 2166136261);
        assert_eq!(calculate_hash(b"A"), 3289118412);
        assert_eq!(calculate_hash(b"ABCD"), 971824332);
        assert_eq!(calculate_hash(b"Hello, Trove!"), 613010621);
        assert_eq!(calculate_hash(&[0xDE, 0xAD, 0xBE, 0xEF, 0xCA, 0xFE]), 4065814253);
    }

    #[test]
    fn leb128() {
        let mut v = Vec::new();
        write_leb128(&mut v, 300);
        assert_eq!(v, [0xAC, 0x02]);
        assert_eq!(read_leb128(&v, 0), Ok((300, 2)));
        assert_eq!(read_leb128(&[0x80], 0), Err(LebError::OutOfRange));
        assert_eq!(read_leb128(&[0xFF; 10], 0), Err(LebError::TooLong));
        let mut nine = vec![0xFF; 9];
        nine.push(0x01);
        assert_eq!(read_leb128(&nine, 0), Ok((0xFFFF_FFFF, 10)));
        assert_eq!(read_leb128(&[0x00], 5), Err(LebError::OutOfRange));
    }
}
