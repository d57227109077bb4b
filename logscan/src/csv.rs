//! CSV cells as Python's `csv.reader(strict=True)` with the default dialect reads them: `,`
//! between cells, `"` around a cell that holds one, `""` for a quote inside it, a quote inside
//! an unquoted cell taken as written. One scanner serves a single record (`split`, PAN-OS
//! bodies) and a whole export read into columns (`csv_table`), where a quoted cell may hold
//! line ends.

/// Python's `csv.field_size_limit()` default: a longer field is an error there.
const FIELD_LIMIT: usize = 131_072;

pub struct Field {
    pub span: (usize, usize),
    /// The field was quoted and holds `""`, which stands for one quote.
    pub doubled: bool,
}

/// One cell and what follows it.
pub struct Cell {
    pub field: Field,
    /// Where the cell's text ends, closing quote included (a record's text ends here when `last`).
    pub end: usize,
    /// Where the next cell, or after the last, the next record starts.
    pub next: usize,
    /// The cell ends its record (a line end or the end of the data follows it).
    pub last: bool,
}

/// Why a record cannot be read.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Malformed {
    /// A character other than `,` or a line end after a closing quote, at this position.
    AfterQuote(usize),
    /// A quoted cell is still open at the end of the data.
    Unclosed,
}

/// The quotes and the cell ends (`,` and `\n`) of the data, found 64 bytes at a time and kept
/// for the block last asked about: cells are short, and a call per cell to find the next
/// byte of a kind cost more than the scan.
pub struct Scanner<'a> {
    data: &'a [u8],
    block: usize,
    quotes: u64,
    ends: u64,
}

#[derive(Clone, Copy)]
enum Kind {
    Quote,
    End,
}

impl<'a> Scanner<'a> {
    pub fn new(data: &'a [u8]) -> Self {
        let mut scanner = Scanner { data, block: usize::MAX, quotes: 0, ends: 0 };
        scanner.load(0);
        scanner
    }

    fn load(&mut self, block: usize) {
        self.block = block;
        let rest = &self.data[block.min(self.data.len())..];
        (self.quotes, self.ends) = if rest.len() >= 64 {
            masks(rest[..64].try_into().unwrap())
        } else {
            let mut padded = [0u8; 64];
            padded[..rest.len()].copy_from_slice(rest);
            masks(&padded)
        };
    }

    /// The first byte of `kind` at or after `pos`.
    fn next(&mut self, pos: usize, kind: Kind) -> Option<usize> {
        let mut block = pos & !63;
        if block != self.block {
            self.load(block);
        }
        let mut found = self.mask(kind) & (u64::MAX << (pos - block));
        while found == 0 {
            block += 64;
            if block >= self.data.len() {
                return None;
            }
            self.load(block);
            found = self.mask(kind);
        }
        Some(block + found.trailing_zeros() as usize)
    }

    fn mask(&self, kind: Kind) -> u64 {
        match kind {
            Kind::Quote => self.quotes,
            Kind::End => self.ends,
        }
    }

    /// The cell starting at `pos` (at most the data's length: then the empty last cell of a
    /// record that ends in a comma). A line end is `\n` or `\r\n`; a `\r` alone is text.
    pub fn cell(&mut self, pos: usize) -> Result<Cell, Malformed> {
        let data = self.data;
        if data.get(pos) == Some(&b'"') {
            let (close, doubled) = self.closing_quote(pos + 1)?;
            let field = Field { span: (pos + 1, close), doubled };
            let end = close + 1;
            return match data.get(end) {
                None => Ok(Cell { field, end, next: end, last: true }),
                Some(b',') => Ok(Cell { field, end, next: end + 1, last: false }),
                Some(b'\n') => Ok(Cell { field, end, next: end + 1, last: true }),
                Some(b'\r') if data.get(end + 1) == Some(&b'\n') => Ok(Cell { field, end, next: end + 2, last: true }),
                Some(_) => Err(Malformed::AfterQuote(end)),
            };
        }
        match self.next(pos, Kind::End) {
            None => Ok(Cell { field: Field { span: (pos, data.len()), doubled: false }, end: data.len(), next: data.len(), last: true }),
            Some(end) if data[end] == b',' => {
                Ok(Cell { field: Field { span: (pos, end), doubled: false }, end, next: end + 1, last: false })
            }
            Some(newline) => {
                let end = if newline > pos && data[newline - 1] == b'\r' { newline - 1 } else { newline };
                Ok(Cell { field: Field { span: (pos, end), doubled: false }, end, next: newline + 1, last: true })
            }
        }
    }

    /// The quote that closes a quoted cell whose text starts at `from`, and whether a `""` came first.
    fn closing_quote(&mut self, from: usize) -> Result<(usize, bool), Malformed> {
        let mut at = from;
        let mut doubled = false;
        loop {
            let quote = self.next(at, Kind::Quote).ok_or(Malformed::Unclosed)?;
            if self.data.get(quote + 1) != Some(&b'"') {
                return Ok((quote, doubled));
            }
            doubled = true;
            at = quote + 2;
        }
    }
}

/// Bit `i` set where byte `i` of the block is a quote; and where it is a `,` or `\n`.
#[cfg(target_arch = "x86_64")]
fn masks(block: &[u8; 64]) -> (u64, u64) {
    use std::arch::x86_64::*;
    // SAFETY: SSE2 is part of every x86_64; the loads read 16 bytes each inside the block.
    unsafe {
        let (quote, comma, newline) = (_mm_set1_epi8(b'"' as i8), _mm_set1_epi8(b',' as i8), _mm_set1_epi8(b'\n' as i8));
        let (mut quotes, mut ends) = (0u64, 0u64);
        for i in 0..4 {
            let v = _mm_loadu_si128(block.as_ptr().add(16 * i) as *const __m128i);
            quotes |= (_mm_movemask_epi8(_mm_cmpeq_epi8(v, quote)) as u16 as u64) << (16 * i);
            let end = _mm_or_si128(_mm_cmpeq_epi8(v, comma), _mm_cmpeq_epi8(v, newline));
            ends |= (_mm_movemask_epi8(end) as u16 as u64) << (16 * i);
        }
        (quotes, ends)
    }
}

#[cfg(not(target_arch = "x86_64"))]
fn masks(block: &[u8; 64]) -> (u64, u64) {
    let (mut quotes, mut ends) = (0u64, 0u64);
    for (i, &b) in block.iter().enumerate() {
        quotes |= u64::from(b == b'"') << i;
        ends |= u64::from(b == b',' || b == b'\n') << i;
    }
    (quotes, ends)
}

/// A quoted field's inside with each `""` as one `"`, appended to `out`.
pub fn undouble_into(inner: &[u8], out: &mut Vec<u8>) {
    let mut rest = inner;
    while let Some(quote) = memchr::memchr(b'"', rest) {
        out.extend_from_slice(&rest[..=quote]);
        rest = rest.get(quote + 2..).unwrap_or_default();
    }
    out.extend_from_slice(rest);
}

/// The fields of one record that holds no line end.
///
/// A record that reader would refuse (a character after a closing quote, a quoted field left
/// open, a field over its size limit), or one it could read across lines (CR or LF), is
/// `None`: the caller's per-line reader reads it leniently and says what was wrong.
pub fn split(record: &[u8]) -> Option<Vec<Field>> {
    if memchr::memchr2(b'\n', b'\r', record).is_some() {
        return None;
    }
    let mut fields = Vec::with_capacity(64);
    let mut scanner = Scanner::new(record);
    let mut pos = 0;
    loop {
        let found = scanner.cell(pos).ok()?;
        if found.field.span.1 - found.field.span.0 > FIELD_LIMIT {
            return None;
        }
        fields.push(found.field);
        if found.last {
            return Some(fields);
        }
        pos = found.next;
    }
}
