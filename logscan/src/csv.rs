//! One CSV record read as Python's `csv.reader(strict=True)` with the default dialect reads it
//! (`,` between fields, `"` around a field that holds one, `""` for a quote inside it).
//!
//! A record that reader would refuse (a character after a closing quote, a quoted field left
//! open), or one it could read across lines (CR or LF), is `None`: the caller's per-line reader
//! reads it leniently and says what was wrong.

/// Python's `csv.field_size_limit()` default: a longer field is an error there.
const FIELD_LIMIT: usize = 131_072;

pub struct Field {
    pub span: (usize, usize),
    /// The field was quoted and holds `""`, which stands for one quote.
    pub doubled: bool,
}

pub fn split(record: &[u8]) -> Option<Vec<Field>> {
    if record.iter().any(|&b| b == b'\n' || b == b'\r') {
        return None;
    }
    let mut fields = Vec::with_capacity(64);
    let mut pos = 0;
    loop {
        let field = if record.get(pos) == Some(&b'"') {
            quoted(record, pos)?
        } else {
            let len = record[pos..].iter().take_while(|&&b| b != b',').count();
            Field { span: (pos, pos + len), doubled: false }
        };
        let inner = field.span.1 - field.span.0;
        if inner > FIELD_LIMIT {
            return None;
        }
        pos = if record.get(pos) == Some(&b'"') { field.span.1 + 1 } else { field.span.1 };
        fields.push(field);
        match record.get(pos) {
            None => return Some(fields),
            Some(b',') => pos += 1,
            Some(_) => return None, // strict: only a comma or the end after a closing quote
        }
    }
}

/// A quoted field opening at `open`: its inner span (without the quotes).
fn quoted(record: &[u8], open: usize) -> Option<Field> {
    let mut at = open + 1;
    let mut doubled = false;
    loop {
        let close = at + record[at..].iter().position(|&b| b == b'"')?;
        if record.get(close + 1) == Some(&b'"') {
            doubled = true;
            at = close + 2;
            continue;
        }
        return Some(Field { span: (open + 1, close), doubled });
    }
}
