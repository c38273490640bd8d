//! The fast reader: JSON text straight to an [`Event`] in an arena, without serde's per-token calls.
//!
//! It accepts exactly the texts `serde_json` accepts and declines (returns `None`) the rest:
//! syntax errors, unpaired `\u` surrogates, numbers out of range, nesting at `serde_json`'s
//! limit. [`super::Parser::parse`] hands a declined text to `serde_json`, so errors are
//! `serde_json`'s own. Plain non-negative integers and short decimals are read here with
//! `serde_json`'s own arithmetic; other numbers are read by `serde_json` itself, so every number is
//! the one it would give.

use super::{Event, Field};
use bumpalo::Bump;
use serde_json::Number;
use std::mem;

/// `serde_json`'s nesting limit: a container at this depth is an error.
const MAX_DEPTH: usize = 128;

/// The reader's stacks between two texts: empty, their allocations kept for the next text.
#[derive(Default)]
pub(super) struct Stacks {
    fields: Vec<Field<'static>>,
    items: Vec<Event<'static>>,
}

/// An empty vector of another type in `vec`'s allocation: `collect` reuses it in place when the
/// types have the same layout, as they do here (they differ only in lifetimes).
fn recycle<T, U>(mut vec: Vec<T>) -> Vec<U> {
    vec.clear();
    vec.into_iter()
        .map(|_| -> U { unreachable!("the vector is empty") })
        .collect()
}

/// Reads `text` as one JSON value into `arena`, or declines.
pub(super) fn read<'a>(text: &'a str, arena: &'a Bump, stacks: &mut Stacks) -> Option<Event<'a>> {
    let mut reader = Reader {
        text,
        bytes: text.as_bytes(),
        pos: 0,
        depth: 0,
        arena,
        fields: recycle(mem::take(&mut stacks.fields)),
        items: recycle(mem::take(&mut stacks.items)),
    };
    let mut root = None;
    let event = reader
        .value_then(|_, value| root = Some(value))
        .and(root)
        .filter(|_| {
            reader.skip_whitespace();
            reader.pos == reader.bytes.len()
        });
    stacks.fields = recycle(reader.fields);
    stacks.items = recycle(reader.items);
    event
}

/// Adds a field to the object whose fields start at `start`: a repeated key keeps its first
/// position and takes the last value, as `serde_json`'s map does. `seen` holds one bit per key
/// shape (length and last byte) so that the search for a repeat runs on almost no key.
#[inline(always)]
fn add_field<'a>(
    fields: &mut Vec<Field<'a>>,
    start: usize,
    seen: &mut u64,
    key: &'a str,
    value: Event<'a>,
) {
    let last = key.as_bytes().last().copied().unwrap_or(0);
    let bit = 1 << ((key.len() * 31 + usize::from(last)) % 64);
    if *seen & bit != 0 {
        if let Some(field) = fields[start..].iter_mut().find(|(k, _)| *k == key) {
            field.1 = value;
            return;
        }
    }
    *seen |= bit;
    fields.push((key, value));
}

struct Reader<'a> {
    text: &'a str,
    bytes: &'a [u8],
    pos: usize,
    depth: usize,
    arena: &'a Bump,
    /// The fields of the objects being read, innermost last; an object copies its own to the
    /// arena and takes them off the top when it closes.
    fields: Vec<Field<'a>>,
    /// The same for the elements of the lists being read.
    items: Vec<Event<'a>>,
}

impl<'a> Reader<'a> {
    fn peek(&self) -> Option<u8> {
        self.bytes.get(self.pos).copied()
    }

    fn skip_whitespace(&mut self) {
        while let Some(b' ' | b'\n' | b'\t' | b'\r') = self.peek() {
            self.pos += 1;
        }
    }

    /// Skips whitespace and then `byte`, or declines.
    #[inline(always)]
    fn expect(&mut self, byte: u8) -> Option<()> {
        // Compact JSON (the usual event) has `byte` right here.
        if self.peek() != Some(byte) {
            self.skip_whitespace();
        }
        (self.peek() == Some(byte)).then(|| self.pos += 1)
    }

    /// Reads one value and hands it to `put`. Inlined into the container loops with `put` called in
    /// each arm, so that a scalar is written straight to its stack: an `Event` returned through
    /// memory and read back whole stalls the CPU on every value. Containers stay calls.
    #[inline(always)]
    fn value_then(&mut self, put: impl FnOnce(&mut Self, Event<'a>)) -> Option<()> {
        self.skip_whitespace();
        match self.peek()? {
            b'{' => {
                let object = self.object()?;
                put(self, object);
            }
            b'[' => {
                let array = self.array()?;
                put(self, array);
            }
            b'"' => {
                self.pos += 1;
                let string = self.string()?;
                put(self, Event::String(string));
            }
            b't' => {
                self.literal(b"true")?;
                put(self, Event::Bool(true));
            }
            b'f' => {
                self.literal(b"false")?;
                put(self, Event::Bool(false));
            }
            b'n' => {
                self.literal(b"null")?;
                put(self, Event::Null);
            }
            b'-' | b'0'..=b'9' => {
                let number = self.number()?;
                let number = self.arena.alloc(number);
                put(self, Event::Number(number));
            }
            _ => return None,
        }
        Some(())
    }

    fn literal(&mut self, word: &[u8]) -> Option<()> {
        let end = self.pos + word.len();
        (self.bytes.get(self.pos..end) == Some(word)).then(|| self.pos = end)
    }

    fn enter(&mut self) -> Option<()> {
        self.depth += 1;
        self.pos += 1;
        (self.depth < MAX_DEPTH).then_some(())
    }

    #[inline(never)]
    fn object(&mut self) -> Option<Event<'a>> {
        self.enter()?;
        let start = self.fields.len();
        let mut seen = 0;
        self.skip_whitespace();
        if self.peek() == Some(b'}') {
            self.pos += 1;
        } else {
            loop {
                self.expect(b'"')?;
                let key = self.string()?;
                self.expect(b':')?;
                self.value_then(|reader, value| {
                    add_field(&mut reader.fields, start, &mut seen, key, value);
                })?;
                self.skip_whitespace();
                match self.peek()? {
                    b',' => self.pos += 1,
                    b'}' => {
                        self.pos += 1;
                        break;
                    }
                    _ => return None,
                }
            }
        }
        self.depth -= 1;
        let fields = self.arena.alloc_slice_copy(&self.fields[start..]);
        self.fields.truncate(start);
        Some(Event::Object(fields))
    }

    #[inline(never)]
    fn array(&mut self) -> Option<Event<'a>> {
        self.enter()?;
        let start = self.items.len();
        self.skip_whitespace();
        if self.peek() == Some(b']') {
            self.pos += 1;
        } else {
            loop {
                self.value_then(|reader, item| reader.items.push(item))?;
                self.skip_whitespace();
                match self.peek()? {
                    b',' => self.pos += 1,
                    b']' => {
                        self.pos += 1;
                        break;
                    }
                    _ => return None,
                }
            }
        }
        self.depth -= 1;
        let items = self.arena.alloc_slice_copy(&self.items[start..]);
        self.items.truncate(start);
        Some(Event::Array(items))
    }

    /// A string whose opening quote has been read: borrowed from the text unless it has escapes.
    #[inline(always)]
    fn string(&mut self) -> Option<&'a str> {
        let start = self.pos;
        self.pos = find_special(self.bytes, self.pos);
        if self.peek()? == b'"' {
            self.pos += 1;
            return Some(&self.text[start..self.pos - 1]);
        }
        self.escaped_string(start)
    }

    /// The rest of a string that has an escape (or is malformed), from its first byte at `start`.
    #[cold]
    fn escaped_string(&mut self, start: usize) -> Option<&'a str> {
        let mut owned = String::new();
        let mut run = start;
        loop {
            // `run..pos` holds no special byte, so both ends are character boundaries.
            owned.push_str(&self.text[run..self.pos]);
            match self.peek()? {
                b'"' => {
                    self.pos += 1;
                    return Some(self.arena.alloc_str(&owned));
                }
                b'\\' => {
                    self.pos += 1;
                    owned.push(self.escape()?);
                }
                _ => return None,
            }
            run = self.pos;
            self.pos = find_special(self.bytes, self.pos);
        }
    }

    /// The character an escape stands for, its backslash read.
    fn escape(&mut self) -> Option<char> {
        let byte = self.peek()?;
        self.pos += 1;
        Some(match byte {
            b'"' => '"',
            b'\\' => '\\',
            b'/' => '/',
            b'b' => '\x08',
            b'f' => '\x0c',
            b'n' => '\n',
            b'r' => '\r',
            b't' => '\t',
            b'u' => {
                let unit = self.hex4()?;
                match unit {
                    0xD800..=0xDBFF => {
                        // A leading surrogate must be followed by `\u` and a trailing one.
                        if self.bytes.get(self.pos..self.pos + 2) != Some(b"\\u") {
                            return None;
                        }
                        self.pos += 2;
                        let low = self.hex4()?;
                        if !(0xDC00..=0xDFFF).contains(&low) {
                            return None;
                        }
                        char::from_u32(0x1_0000 + ((unit - 0xD800) << 10) + (low - 0xDC00))?
                    }
                    _ => char::from_u32(unit)?,
                }
            }
            _ => return None,
        })
    }

    fn hex4(&mut self) -> Option<u32> {
        let digits = self.text.get(self.pos..self.pos + 4)?;
        if !digits.bytes().all(|b| b.is_ascii_hexdigit()) {
            return None;
        }
        self.pos += 4;
        u32::from_str_radix(digits, 16).ok()
    }

    /// A number: a plain non-negative integer or a short decimal read here, anything else by
    /// `serde_json`.
    fn number(&mut self) -> Option<Number> {
        let start = self.pos;
        let digits = |reader: &mut Self| {
            let from = reader.pos;
            while let Some(b'0'..=b'9') = reader.peek() {
                reader.pos += 1;
            }
            reader.pos > from
        };
        if self.peek() == Some(b'-') {
            self.pos += 1;
        }
        let int_start = self.pos;
        if !digits(self) {
            return None;
        }
        let int = &self.text[int_start..self.pos];
        if int.len() > 1 && int.starts_with('0') {
            return None;
        }
        let mut fraction = "";
        if self.peek() == Some(b'.') {
            self.pos += 1;
            let fraction_start = self.pos;
            if !digits(self) {
                return None;
            }
            fraction = &self.text[fraction_start..self.pos];
        }
        let mut exponent = false;
        if let Some(b'e' | b'E') = self.peek() {
            self.pos += 1;
            if let Some(b'+' | b'-') = self.peek() {
                self.pos += 1;
            }
            if !digits(self) {
                return None;
            }
            exponent = true;
        }
        let negative = start != int_start;
        // At most 19 digits always fit in a `u64`, as `serde_json` reads them.
        if !negative && fraction.is_empty() && !exponent && int.len() <= 19 {
            return int.parse::<u64>().ok().map(Number::from);
        }
        if !fraction.is_empty() && !exponent && int.len() + fraction.len() <= 19 {
            return Some(decimal(negative, int, fraction));
        }
        serde_json::from_str(&self.text[start..self.pos]).ok()
    }
}

/// A decimal with at most 19 digits and no exponent (latitudes, longitudes), computed as
/// `serde_json` computes it: the digits as one integer, divided by ten to the number of fraction
/// digits (both exact here, so one correctly rounded division).
fn decimal(negative: bool, int: &str, fraction: &str) -> Number {
    const POW10: [f64; 20] = [
        1e0, 1e1, 1e2, 1e3, 1e4, 1e5, 1e6, 1e7, 1e8, 1e9, 1e10, 1e11, 1e12, 1e13, 1e14, 1e15, 1e16,
        1e17, 1e18, 1e19,
    ];
    let significand = int
        .bytes()
        .chain(fraction.bytes())
        .fold(0_u64, |n, digit| n * 10 + u64::from(digit - b'0'));
    let value = significand as f64 / POW10[fraction.len()];
    Number::from_f64(if negative { -value } else { value }).expect("a finite number")
}

/// The index of the first `"`, `\` or control character at or after `from`, or the length.
#[inline]
fn find_special(bytes: &[u8], from: usize) -> usize {
    const ONES: u64 = u64::from_ne_bytes([1; 8]);
    const HIGH_BITS: u64 = ONES * 0x80;
    let mut i = from;
    // Eight bytes at a time: `(x - ONES) & !x & HIGH_BITS` marks the bytes of `x` that are zero
    // (and perhaps bytes above one that is), so its lowest mark is the first special byte.
    while let Some(chunk) = bytes.get(i..i + 8) {
        let word = u64::from_le_bytes(chunk.try_into().expect("eight bytes"));
        let quote = word ^ (ONES * u64::from(b'"'));
        let backslash = word ^ (ONES * u64::from(b'\\'));
        let marks = (quote.wrapping_sub(ONES) & !quote)
            | (backslash.wrapping_sub(ONES) & !backslash)
            | (word.wrapping_sub(ONES * 0x20) & !word);
        let marks = marks & HIGH_BITS;
        if marks != 0 {
            return i + (marks.trailing_zeros() / 8) as usize;
        }
        i += 8;
    }
    while i < bytes.len() && !matches!(bytes[i], b'"' | b'\\' | 0..=0x1f) {
        i += 1;
    }
    i
}
