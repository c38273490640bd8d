//! Byte-level mutation of YAML sources for the property tests of stories and rules.

/// Applies byte-level edits (delete, duplicate, overwrite with YAML-significant characters)
/// at positions chosen by the test case.
pub fn mutate(source: &str, edits: &[(usize, u8, u8)]) -> String {
    const ALPHABET: &[u8] = b" \n:-{}[]&*!|>'\"#%@`?,.0aZ_\t";
    let mut bytes = source.as_bytes().to_vec();
    for &(position, op, pick) in edits {
        if bytes.is_empty() {
            break;
        }
        let i = position % bytes.len();
        let c = ALPHABET[pick as usize % ALPHABET.len()];
        match op % 4 {
            0 => {
                bytes.remove(i);
            }
            1 => bytes.insert(i, c),
            2 => bytes[i] = c,
            _ => {
                let end = (i + 40).min(bytes.len());
                let chunk = bytes[i..end].to_vec();
                bytes.splice(i..i, chunk);
            }
        }
    }
    String::from_utf8_lossy(&bytes).into_owned()
}
