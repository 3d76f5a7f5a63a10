//! UTF-8 decoding with CPython's `UnicodeDecodeError` text: the reader surfaces
//! `malformed .tmod file: 'utf-8' codec can't decode ...` exactly as the
//! original does (spec §3.1 step 6, vector `corrupt_header_size_plus_one`).

fn is_cont(b: u8) -> bool {
    (0x80..=0xBF).contains(&b)
}

/// Classifies the first invalid sequence at `s` (CPython `stringlib/codecs.h`):
/// `Ok(len)` for a valid sequence of `len` bytes, `Err((reason, bad_len))` otherwise.
fn classify(s: &[u8]) -> Result<usize, (&'static str, usize)> {
    const END: &str = "unexpected end of data";
    const START: &str = "invalid start byte";
    const CONT: &str = "invalid continuation byte";
    let n = s.len();
    let ch = s[0];
    if ch < 0x80 {
        return Ok(1);
    }
    if ch < 0xC2 {
        return Err((START, 1));
    }
    if ch < 0xE0 {
        if n < 2 {
            return Err((END, n));
        }
        return if is_cont(s[1]) { Ok(2) } else { Err((CONT, 1)) };
    }
    if ch < 0xF0 {
        let bad2 = |c2: u8| !is_cont(c2) || (if c2 < 0xA0 { ch == 0xE0 } else { ch == 0xED });
        if n < 3 {
            if n >= 2 && bad2(s[1]) {
                return Err((CONT, 1));
            }
            return Err((END, n));
        }
        if bad2(s[1]) {
            return Err((CONT, 1));
        }
        if !is_cont(s[2]) {
            return Err((CONT, 2));
        }
        return Ok(3);
    }
    if ch < 0xF5 {
        let bad2 = |c2: u8| !is_cont(c2) || (if c2 < 0x90 { ch == 0xF0 } else { ch == 0xF4 });
        if n < 4 {
            if n >= 2 && bad2(s[1]) {
                return Err((CONT, 1));
            }
            if n >= 3 && !is_cont(s[2]) {
                return Err((CONT, 2));
            }
            return Err((END, n));
        }
        if bad2(s[1]) {
            return Err((CONT, 1));
        }
        if !is_cont(s[2]) {
            return Err((CONT, 2));
        }
        if !is_cont(s[3]) {
            return Err((CONT, 3));
        }
        return Ok(4);
    }
    Err((START, 1))
}

/// Decodes `bytes` as UTF-8; on failure returns CPython's error text for
/// `bytes.decode("utf-8")`.
pub fn decode(bytes: &[u8]) -> Result<&str, String> {
    let err = match std::str::from_utf8(bytes) {
        Ok(s) => return Ok(s),
        Err(e) => e,
    };
    // Everything before `valid_up_to` is valid; classify the failing sequence
    // the way CPython does (its messages differ from Rust's error lengths).
    let start = err.valid_up_to();
    let rest = bytes.get(start..).unwrap_or_default();
    let (reason, len) = match rest.first() {
        None => ("unexpected end of data", 0),
        Some(_) => classify(rest).err().unwrap_or(("invalid start byte", 1)),
    };
    let len = len.max(1);
    Err(if len == 1 {
        format!(
            "'utf-8' codec can't decode byte 0x{:02x} in position {start}: {reason}",
            rest.first().copied().unwrap_or(0)
        )
    } else {
        format!("'utf-8' codec can't decode bytes in position {start}-{}: {reason}", start + len - 1)
    })
}

#[cfg(test)]
mod tests {
    use super::decode;

    #[test]
    fn cpython_messages() {
        // Expected strings produced by CPython 3.11 `bytes.decode("utf-8")`.
        let cases: &[(&[u8], &str)] = &[
            (b"ab\xe3c", "'utf-8' codec can't decode byte 0xe3 in position 2: invalid continuation byte"),
            (b"\xff", "'utf-8' codec can't decode byte 0xff in position 0: invalid start byte"),
            (b"\x80", "'utf-8' codec can't decode byte 0x80 in position 0: invalid start byte"),
            (b"a\xe3\x81", "'utf-8' codec can't decode bytes in position 1-2: unexpected end of data"),
            (b"a\xe3", "'utf-8' codec can't decode byte 0xe3 in position 1: unexpected end of data"),
            (b"\xe3\x81a", "'utf-8' codec can't decode bytes in position 0-1: invalid continuation byte"),
            (b"\xf0\x9f\x98a", "'utf-8' codec can't decode bytes in position 0-2: invalid continuation byte"),
            (b"\xf0\x9f\x98", "'utf-8' codec can't decode bytes in position 0-2: unexpected end of data"),
            (b"\xed\xa0\x80", "'utf-8' codec can't decode byte 0xed in position 0: invalid continuation byte"),
            (b"\xe0\x80", "'utf-8' codec can't decode byte 0xe0 in position 0: invalid continuation byte"),
            (b"\xf4\x90", "'utf-8' codec can't decode byte 0xf4 in position 0: invalid continuation byte"),
            (b"\xc0\x80", "'utf-8' codec can't decode byte 0xc0 in position 0: invalid start byte"),
            (b"\xf5", "'utf-8' codec can't decode byte 0xf5 in position 0: invalid start byte"),
        ];
        for (input, want) in cases {
            assert_eq!(decode(input).unwrap_err(), *want, "{input:?}");
        }
        assert_eq!(decode("héllo".as_bytes()), Ok("héllo"));
    }
}
