//! xxd-style hex dumps, optionally highlighting bytes that changed.

use std::fmt::Write;

/// One dump line per 16 bytes: `OFFSET: 8 groups of 2 bytes  ASCII`, as `xxd` prints them.
/// `offset` is where `bytes` start in the segment; bytes whose index is in `changed` are
/// wrapped in `on`/`off` (ANSI codes, or empty strings).
pub fn dump(
    bytes: &[u8],
    offset: u64,
    changed: &dyn Fn(usize) -> bool,
    on: &str,
    off: &str,
) -> String {
    let mut out = String::new();
    for (row, chunk) in bytes.chunks(16).enumerate() {
        let base = row * 16;
        let _ = write!(out, "{:08x}:", offset + base as u64);
        for i in 0..16 {
            if i % 2 == 0 {
                out.push(' ');
            }
            match chunk.get(i) {
                Some(b) if changed(base + i) => {
                    let _ = write!(out, "{on}{b:02x}{off}");
                }
                Some(b) => {
                    let _ = write!(out, "{b:02x}");
                }
                None => out.push_str("  "),
            }
        }
        out.push_str("  ");
        for (i, &b) in chunk.iter().enumerate() {
            let c = if b.is_ascii_graphic() || b == b' ' {
                b as char
            } else {
                '.'
            };
            if changed(base + i) {
                let _ = write!(out, "{on}{c}{off}");
            } else {
                out.push(c);
            }
        }
        out.push('\n');
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn matches_xxd() {
        let d = dump(b"hello, shared memory!\0\x01", 16, &|_| false, "", "");
        assert_eq!(
            d,
            "00000010: 6865 6c6c 6f2c 2073 6861 7265 6420 6d65  hello, shared me\n\
             00000020: 6d6f 7279 2100 01                        mory!..\n"
        );
    }
}
