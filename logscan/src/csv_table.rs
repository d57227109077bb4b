//! A CSV export read whole into columns: the cells of the columns asked for (an empty cell,
//! quoted or not, is null: a CSV cannot tell "no value" from "empty"), each record's text
//! (`event.original`) and where it starts, and the records refused with why.
//!
//! Records are read as `csv::Scanner` reads cells, strictly: a record must have as many cells
//! as the header and be UTF-8 throughout. A record that breaks the quoting is refused up to the
//! end of the line where it broke (a character after a closing quote) or as its first line (a
//! quote never closed, which would otherwise take the rest of the file), and reading goes on at
//! the next line. Empty lines are no records. The data is cut into parts at line starts, read side by side; a part whose first
//! line turns out to be inside a record of the part before (a quoted cell over the cut) is read
//! again from where that record ends.

use crate::columns::Strings;
use crate::csv::{undouble_into, Field, Malformed, Scanner};

/// Rows per batch: a batch's columns keep 32-bit offsets, and a long export is many batches.
const BATCH_ROWS: usize = 65_536;

/// Why a record was refused (the `kind` handed to Python).
pub const CELLS: u8 = 1;
pub const NOT_UTF8: u8 = 2;
pub const AFTER_QUOTE: u8 = 3;
pub const UNCLOSED: u8 = 4;
pub const TOO_LONG: u8 = 5;

/// Rows read, in batches of at most `BATCH_ROWS`.
pub struct Batch {
    pub columns: Vec<Strings>,
    pub original: Strings,
    /// Where each row's record starts in the data.
    pub starts: Vec<i64>,
}

impl Batch {
    fn new(width: usize) -> Self {
        Batch { columns: (0..width).map(|_| Strings::new()).collect(), original: Strings::new(), starts: Vec::new() }
    }

    /// Whether a record of `size` bytes still fits every column's 32-bit offsets.
    fn fits(&self, size: usize) -> bool {
        self.starts.len() < BATCH_ROWS && self.original.fits(size) && self.columns.iter().all(|c| c.fits(size))
    }
}

/// Records refused: where each is (its text: `start..end`), what was wrong (`kind`) and the
/// figure that says how (`value`: the cells it has; the bad byte's column, 1-based, and the
/// byte in `byte`; the column of the character after a closing quote; the record's size).
#[derive(Default)]
pub struct Refused {
    pub start: Vec<i64>,
    pub end: Vec<i64>,
    pub kind: Vec<u8>,
    pub value: Vec<i64>,
    pub byte: Vec<u8>,
}

impl Refused {
    fn push(&mut self, start: usize, end: usize, kind: u8, value: usize, byte: u8) {
        self.start.push(start as i64);
        self.end.push(end as i64);
        self.kind.push(kind);
        self.value.push(value as i64);
        self.byte.push(byte);
    }

    fn append(&mut self, other: Refused) {
        self.start.extend(other.start);
        self.end.extend(other.end);
        self.kind.extend(other.kind);
        self.value.extend(other.value);
        self.byte.extend(other.byte);
    }
}

/// What one part read, and where its last record ended.
pub struct Part {
    pub batches: Vec<Batch>,
    pub refused: Refused,
    from: usize,
    to: usize,
    stop: usize,
}

/// Which columns are read, and into which output column.
pub struct Layout {
    pub width: usize,
    /// For each header column, the output column it fills.
    pub slots: Vec<Option<usize>>,
}

/// Every record starting in `data[start..stop]`, each read to its end, in up to `parts` parts
/// at once; and where the last one ended (`stop`, or past it when a record runs on).
pub fn read(data: &[u8], start: usize, stop: usize, layout: &Layout, parts: usize) -> (Vec<Batch>, Refused, usize) {
    let cuts = cuts(data, start, stop, parts.max(1));
    let mut read: Vec<Part> = std::thread::scope(|scope| {
        let running: Vec<_> =
            cuts.windows(2).map(|w| scope.spawn(move || read_part(data, w[0], w[1], layout))).collect();
        running.into_iter().map(|handle| handle.join().expect("a CSV part's reader panicked")).collect()
    });
    // A part whose first line was inside the record before it is read again from that record's end.
    for i in 1..read.len() {
        let stop = read[i - 1].stop;
        if read[i].from != stop {
            read[i] = read_part(data, stop, read[i].to.max(stop), layout);
        }
    }
    let end = read.last().map_or(start, |part| part.stop);
    let mut batches = Vec::new();
    let mut refused = Refused::default();
    for part in read {
        batches.extend(part.batches);
        refused.append(part.refused);
    }
    (batches, refused, end)
}

/// Where the parts start: `start`, then after the first line end past each even share of
/// `start..stop`, then `stop`.
fn cuts(data: &[u8], start: usize, stop: usize, parts: usize) -> Vec<usize> {
    let size = stop - start;
    let mut cuts = vec![start];
    for k in 1..parts {
        let near = start + size * k / parts;
        let cut = memchr::memchr(b'\n', &data[near..stop]).map_or(stop, |at| near + at + 1);
        if cut > *cuts.last().unwrap() && cut < stop {
            cuts.push(cut);
        }
    }
    cuts.push(stop);
    cuts
}

/// The records starting in `data[from..to]`, each read to its end (past `to` if need be).
fn read_part(data: &[u8], from: usize, to: usize, layout: &Layout) -> Part {
    let wanted = layout.slots.iter().flatten().count();
    let mut batches = vec![Batch::new(wanted)];
    let mut refused = Refused::default();
    let mut fields: Vec<Field> = Vec::with_capacity(layout.width + 1);
    let mut scanner = Scanner::new(data);
    let mut pos = from;
    while pos < to {
        let record = pos;
        match data[pos] {
            b'\n' => {
                pos += 1;
                continue;
            }
            b'\r' if data.get(pos + 1) == Some(&b'\n') => {
                pos += 2;
                continue;
            }
            _ => {}
        }
        fields.clear();
        let end = loop {
            match scanner.cell(pos) {
                Ok(found) => {
                    fields.push(found.field);
                    pos = found.next;
                    if found.last {
                        break Ok(found.end);
                    }
                }
                Err(why) => break Err(why),
            }
        };
        let end = match end {
            Ok(end) => end,
            Err(why) => {
                // The record so far, to the end of the line where it broke (its first line when a
                // quote is never closed), is refused; reading goes on at the next line.
                let broke = match why {
                    Malformed::AfterQuote(at) => at,
                    Malformed::Unclosed => record,
                };
                let line_end = memchr::memchr(b'\n', &data[broke..]).map_or(data.len(), |at| broke + at);
                let text_end = if line_end > record && data[line_end - 1] == b'\r' { line_end - 1 } else { line_end };
                match why {
                    Malformed::AfterQuote(at) => refused.push(record, text_end, AFTER_QUOTE, at - record + 1, data[at]),
                    Malformed::Unclosed => refused.push(record, text_end, UNCLOSED, 0, 0),
                }
                pos = (line_end + 1).min(data.len());
                continue;
            }
        };
        let text = &data[record..end];
        if fields.len() != layout.width {
            refused.push(record, end, CELLS, fields.len(), 0);
            continue;
        }
        if let Err(bad) = std::str::from_utf8(text) {
            let at = bad.valid_up_to();
            refused.push(record, end, NOT_UTF8, at + 1, text[at]);
            continue;
        }
        if text.len() > i32::MAX as usize {
            refused.push(record, end, TOO_LONG, text.len(), 0); // more than one string column can hold
            continue;
        }
        if !batches.last().unwrap().fits(text.len()) {
            batches.push(Batch::new(wanted));
        }
        let batch = batches.last_mut().unwrap();
        for (field, slot) in fields.iter().zip(&layout.slots) {
            if let Some(slot) = slot {
                let column = &mut batch.columns[*slot];
                let inner = &data[field.span.0..field.span.1];
                if field.doubled {
                    column.push_with(|out| undouble_into(inner, out));
                } else {
                    column.push(Some(inner).filter(|cell| !cell.is_empty()));
                }
            }
        }
        batch.original.push(Some(text));
        batch.starts.push(record as i64);
    }
    batches.retain(|batch| !batch.starts.is_empty());
    Part { batches, refused, from, to, stop: pos }
}
