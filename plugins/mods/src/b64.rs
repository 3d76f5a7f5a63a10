//! Standard base64: a fast encoder for read responses, and a decoder with
//! Python's `base64.b64decode(s, validate=True)` semantics and error texts
//! (CPython 3.11 `binascii.a2b_base64(strict_mode=True)`), used by the builders.

const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

const INVALID: u8 = 0xFF;

const fn decode_table() -> [u8; 256] {
    let mut t = [INVALID; 256];
    let mut i = 0;
    while i < 64 {
        t[ALPHABET[i] as usize] = i as u8;
        i += 1;
    }
    t
}

static DECODE: [u8; 256] = decode_table();

/// Two output characters per 12 input bits.
const fn encode_pairs() -> [[u8; 2]; 4096] {
    let mut t = [[0u8; 2]; 4096];
    let mut i = 0;
    while i < 4096 {
        t[i] = [ALPHABET[i >> 6], ALPHABET[i & 63]];
        i += 1;
    }
    t
}

static ENCODE2: [[u8; 2]; 4096] = encode_pairs();

/// One table per position in a quad, values pre-shifted into a 24-bit group;
/// an invalid character sets bit 31.
const fn decode_shifted(shift: u32) -> [u32; 256] {
    let mut t = [0x8000_0000u32; 256];
    let mut i = 0;
    while i < 64 {
        t[ALPHABET[i] as usize] = (i as u32) << shift;
        i += 1;
    }
    t
}

static D0: [u32; 256] = decode_shifted(18);
static D1: [u32; 256] = decode_shifted(12);
static D2: [u32; 256] = decode_shifted(6);
static D3: [u32; 256] = decode_shifted(0);

/// Base64-encodes `data` (standard alphabet, `=` padding).
pub fn encode(data: &[u8]) -> String {
    let mut out = Vec::new();
    encode_into(data, &mut out);
    // Only ASCII from the alphabet was written.
    String::from_utf8(out).unwrap_or_default()
}

/// Appends the base64 encoding of `data` to `out`.
pub fn encode_into(data: &[u8], out: &mut Vec<u8>) {
    let start = out.len();
    out.resize(start + data.len().div_ceil(3) * 4, 0);
    let dst = &mut out[start..];
    let mut src = data.chunks_exact(3);
    let mut dst_chunks = dst.chunks_exact_mut(4);
    for (c, d) in (&mut src).zip(&mut dst_chunks) {
        let n = (usize::from(c[0]) << 16) | (usize::from(c[1]) << 8) | usize::from(c[2]);
        let [a, b] = ENCODE2[n >> 12];
        let [e, f] = ENCODE2[n & 0xFFF];
        d.copy_from_slice(&[a, b, e, f]);
    }
    let tail = src.remainder();
    if let Some(d) = dst_chunks.next() {
        let a = tail.first().copied().unwrap_or(0);
        let b = tail.get(1).copied().unwrap_or(0);
        let n = (u32::from(a) << 16) | (u32::from(b) << 8);
        d[0] = ALPHABET[(n >> 18) as usize & 63];
        d[1] = ALPHABET[(n >> 12) as usize & 63];
        d[2] = if tail.len() == 2 { ALPHABET[(n >> 6) as usize & 63] } else { b'=' };
        d[3] = b'=';
    }
}

/// Decodes like Python's `base64.b64decode(s, validate=True)`; the error is the
/// exception text (`Incorrect padding`, `Only base64 data is allowed`, ...).
pub fn decode_strict(s: &str) -> Result<Vec<u8>, String> {
    if !s.is_ascii() {
        return Err("string argument should contain only ASCII characters".into());
    }
    let data = s.as_bytes();
    let mut out = Vec::with_capacity(data.len() / 4 * 3 + 3);
    if data.first() == Some(&b'=') {
        return Err("Leading padding not allowed".into());
    }
    // Fast path: whole quads of alphabet characters, written in place.
    let quads = data.len() / 4;
    out.resize(quads * 3, 0);
    let mut i = 0;
    let mut w = 0;
    for (q, d) in data.chunks_exact(4).zip(out.chunks_exact_mut(3)) {
        let n = D0[q[0] as usize] | D1[q[1] as usize] | D2[q[2] as usize] | D3[q[3] as usize];
        if n & 0x8000_0000 != 0 {
            break;
        }
        d.copy_from_slice(&[(n >> 16) as u8, (n >> 8) as u8, n as u8]);
        i += 4;
        w += 3;
    }
    out.truncate(w);
    // Slow path: CPython's state machine for the rest (padding, errors).
    let mut quad_pos = 0u8;
    let mut left: u8 = 0;
    let mut pads = 0u8;
    let mut padding_started = false;
    while i < data.len() {
        let ch = data[i];
        if ch == b'=' {
            padding_started = true;
            if quad_pos >= 2 {
                pads += 1;
                if quad_pos + pads >= 4 {
                    if i + 1 < data.len() {
                        return Err("Excess data after padding".into());
                    }
                    return Ok(out);
                }
            }
            i += 1;
            continue;
        }
        let v = DECODE[ch as usize];
        if v == INVALID {
            return Err("Only base64 data is allowed".into());
        }
        if padding_started {
            return Err("Discontinuous padding not allowed".into());
        }
        pads = 0;
        match quad_pos {
            0 => {
                quad_pos = 1;
                left = v;
            }
            1 => {
                quad_pos = 2;
                out.push((left << 2) | (v >> 4));
                left = v & 0x0F;
            }
            2 => {
                quad_pos = 3;
                out.push((left << 4) | (v >> 2));
                left = v & 0x03;
            }
            _ => {
                quad_pos = 0;
                out.push((left << 6) | v);
                left = 0;
            }
        }
        i += 1;
    }
    match quad_pos {
        0 => Ok(out),
        1 => Err(format!(
            "Invalid base64-encoded string: number of data characters ({}) cannot be 1 more than a multiple of 4",
            out.len() / 3 * 4 + 1
        )),
        _ => Err("Incorrect padding".into()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn roundtrip_and_errors() {
        for n in 0..40u8 {
            let data: Vec<u8> = (0..n).map(|i| i.wrapping_mul(37)).collect();
            assert_eq!(decode_strict(&encode(&data)).unwrap(), data);
        }
        assert_eq!(encode(b"some bytes here"), "c29tZSBieXRlcyBoZXJl");
        assert_eq!(decode_strict("").unwrap(), b"");
        assert_eq!(decode_strict("YR==").unwrap(), b"a");
        let err = |s: &str| decode_strict(s).unwrap_err();
        assert_eq!(err("YQ"), "Incorrect padding");
        assert_eq!(err("YQ="), "Incorrect padding");
        assert_eq!(
            err("Y"),
            "Invalid base64-encoded string: number of data characters (1) cannot be 1 more than a multiple of 4"
        );
        assert_eq!(
            err("YWJjZ"),
            "Invalid base64-encoded string: number of data characters (5) cannot be 1 more than a multiple of 4"
        );
        assert_eq!(
            err("Y=="),
            "Invalid base64-encoded string: number of data characters (1) cannot be 1 more than a multiple of 4"
        );
        assert_eq!(err("YQ==YQ=="), "Excess data after padding");
        assert_eq!(err("=YQ"), "Leading padding not allowed");
        assert_eq!(err("YWJj=YQ"), "Discontinuous padding not allowed");
        assert_eq!(decode_strict("YWJj====").unwrap(), b"abc");
        assert_eq!(err("YQ==\n"), "Excess data after padding");
        assert_eq!(err("YQ=a"), "Discontinuous padding not allowed");
        assert_eq!(err("YQ!!"), "Only base64 data is allowed");
        assert_eq!(err("YW Jj"), "Only base64 data is allowed");
        assert_eq!(err("é"), "string argument should contain only ASCII characters");
    }
}
