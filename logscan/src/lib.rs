//! Byte scanners for a batch of appliance syslog lines, called from Cyberwell's Python syslog
//! reader (`collectors.formats.syslog_bulk` and the vendors' bulk readers), and the reader of
//! the syslog receiver's spool records (`collectors.live.syslog_spool`).
//!
//! Each function takes the batch as one buffer and the byte range of each line in it (two int64
//! arrays), reads every line without holding the GIL, and returns its findings as the buffers of
//! Arrow arrays (`columns`), so that no Python object is made per line. What a scanner does not
//! take is named (a line's index), and the Python per-line reader reads it.

mod columns;
mod csv;
mod csv_table;
mod header;
mod pairs;
mod spool;

use columns::{bytes_of, Strings};
use pyo3::buffer::PyBuffer;
use pyo3::exceptions::PyValueError;
use pyo3::prelude::*;
use pyo3::types::{PyBytes, PyDict};
use sha2::{Digest, Sha256};

/// The batch as slices: the buffer and each line's byte range, checked against each other.
struct Lines<'a> {
    data: &'a [u8],
    starts: &'a [i64],
    ends: &'a [i64],
}

impl<'a> Lines<'a> {
    fn of(data: &'a PyBuffer<u8>, starts: &'a PyBuffer<i64>, ends: &'a PyBuffer<i64>) -> PyResult<Self> {
        for buffer in [&**data, &**starts, &**ends] {
            if !buffer.is_c_contiguous() {
                return Err(PyValueError::new_err("buffers must be contiguous"));
            }
        }
        // SAFETY: the PyBuffers hold their exporters' memory until they are dropped, after us.
        let lines = unsafe {
            Lines {
                data: std::slice::from_raw_parts(data.buf_ptr() as *const u8, data.len_bytes()),
                starts: std::slice::from_raw_parts(starts.buf_ptr() as *const i64, starts.item_count()),
                ends: std::slice::from_raw_parts(ends.buf_ptr() as *const i64, ends.item_count()),
            }
        };
        if lines.starts.len() != lines.ends.len() {
            return Err(PyValueError::new_err("starts and ends differ in length"));
        }
        let size = lines.data.len() as i64;
        let bad = lines.starts.iter().zip(lines.ends).any(|(&s, &e)| s < 0 || s > e || e > size);
        if bad {
            return Err(PyValueError::new_err("a line's range is outside the buffer"));
        }
        Ok(lines)
    }

    fn get(&self, i: usize) -> &'a [u8] {
        &self.data[self.starts[i] as usize..self.ends[i] as usize]
    }

    fn len(&self) -> usize {
        self.starts.len()
    }
}

/// A byte buffer's contents, when it is contiguous.
fn bytes_in(data: &PyBuffer<u8>) -> PyResult<&[u8]> {
    if !data.is_c_contiguous() {
        return Err(PyValueError::new_err("buffers must be contiguous"));
    }
    // SAFETY: the PyBuffer holds its exporter's memory until it is dropped, after the slice.
    Ok(unsafe { std::slice::from_raw_parts(data.buf_ptr() as *const u8, data.len_bytes()) })
}

/// What `scan_headers` found, a value per line.
struct Found {
    kind: Vec<u8>,
    priority: Vec<i32>,
    bsd_clock: Vec<i64>,
    body: Vec<i64>,
    iso_clock: Strings,
    hostname: Strings,
    appname: Strings,
    procid: Strings,
    msgid: Strings,
    original: Strings,
    id: Strings,
}

/// A line's SHA-256 as 64 lower-case hex digits (`event.id` of a syslog line).
fn hex_digest(line: &[u8], out: &mut [u8; 64]) {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    for (i, byte) in Sha256::digest(line).iter().enumerate() {
        out[2 * i] = HEX[usize::from(byte >> 4)];
        out[2 * i + 1] = HEX[usize::from(byte & 15)];
    }
}

fn scan_lines(lines: &Lines, log_types: &[&[u8]]) -> Found {
    let n = lines.len();
    let mut found = Found {
        kind: Vec::with_capacity(n),
        priority: Vec::with_capacity(n),
        bsd_clock: Vec::with_capacity(n),
        body: Vec::with_capacity(n),
        iso_clock: Strings::new(),
        hostname: Strings::new(),
        appname: Strings::new(),
        procid: Strings::new(),
        msgid: Strings::new(),
        original: Strings::new(),
        id: Strings::new(),
    };
    let mut digest = [0u8; 64];
    for i in 0..n {
        let line = lines.get(i);
        hex_digest(line, &mut digest);
        found.id.push(Some(&digest));
        let read = header::read(line, log_types).filter(|_| found.original.fits(line.len()));
        let slice = |span: header::Span| span.map(|(s, e)| &line[s..e]);
        match read {
            Some(h) => {
                found.kind.push(h.kind);
                found.priority.push(h.priority.map_or(-1, |p| p as i32));
                found.bsd_clock.push(h.bsd_clock.unwrap_or(-1));
                found.body.push(lines.starts[i] + h.body as i64);
                found.iso_clock.push(slice(h.iso_clock));
                found.hostname.push(slice(h.hostname));
                found.appname.push(slice(h.appname));
                found.procid.push(slice(h.procid));
                found.msgid.push(slice(h.msgid));
                found.original.push(Some(line));
            }
            None => {
                found.kind.push(0);
                found.priority.push(-1);
                found.bsd_clock.push(-1);
                found.body.push(lines.ends[i]);
                for column in [
                    &mut found.iso_clock,
                    &mut found.hostname,
                    &mut found.appname,
                    &mut found.procid,
                    &mut found.msgid,
                    &mut found.original,
                ] {
                    column.push(None);
                }
            }
        }
    }
    found
}

/// Read the syslog header of every line and which vendor's body follows.
///
/// Returns a dict: `kind` (uint8 per line: 0 for the per-line reader, 1 CEF, 2 FortiGate,
/// 3 PAN-OS), `priority` (int32, -1 for none), `bsd_clock` (int64 `MMDDhhmmss`, -1 for none),
/// `body` (int64, where the body starts in the buffer), and string columns `iso_clock`,
/// `hostname`, `appname`, `procid`, `msgid`, `original` (the line, for the lines taken) and `id`
/// (every line's SHA-256 in hex).
#[pyfunction]
fn scan_headers<'py>(
    py: Python<'py>,
    data: PyBuffer<u8>,
    starts: PyBuffer<i64>,
    ends: PyBuffer<i64>,
    log_types: Vec<Vec<u8>>,
) -> PyResult<Bound<'py, PyDict>> {
    let lines = Lines::of(&data, &starts, &ends)?;
    let types: Vec<&[u8]> = log_types.iter().map(Vec::as_slice).collect();
    let found = py.detach(|| scan_lines(&lines, &types));
    let out = PyDict::new(py);
    out.set_item("kind", bytes_of(py, &found.kind))?;
    out.set_item("priority", bytes_of(py, &found.priority))?;
    out.set_item("bsd_clock", bytes_of(py, &found.bsd_clock))?;
    out.set_item("body", bytes_of(py, &found.body))?;
    out.set_item("iso_clock", found.iso_clock.into_py(py)?)?;
    out.set_item("hostname", found.hostname.into_py(py)?)?;
    out.set_item("appname", found.appname.into_py(py)?)?;
    out.set_item("procid", found.procid.into_py(py)?)?;
    out.set_item("msgid", found.msgid.into_py(py)?)?;
    out.set_item("original", found.original.into_py(py)?)?;
    out.set_item("id", found.id.into_py(py)?)?;
    Ok(out)
}

/// Pairs or fields of many lines, flat: the line each belongs to, and its strings.
struct Flat {
    rows: Vec<i64>,
    failed: Vec<i64>,
    first: Strings,
    second: Strings,
}

impl Flat {
    fn new() -> Self {
        Flat { rows: Vec::new(), failed: Vec::new(), first: Strings::new(), second: Strings::new() }
    }

    fn into_py<'py>(self, py: Python<'py>, first: &str, second: Option<&str>) -> PyResult<Bound<'py, PyDict>> {
        let out = PyDict::new(py);
        out.set_item("rows", bytes_of(py, &self.rows))?;
        out.set_item("failed", bytes_of(py, &self.failed))?;
        out.set_item(first, self.first.into_py(py)?)?;
        if let Some(name) = second {
            out.set_item(name, self.second.into_py(py)?)?;
        }
        Ok(out)
    }
}

/// Every line read by `read` into one `Flat`, without the GIL; a line it refuses is `failed`.
fn flatten(
    py: Python<'_>,
    data: PyBuffer<u8>,
    starts: PyBuffer<i64>,
    ends: PyBuffer<i64>,
    read: impl Fn(&[u8], i64, &mut Flat) -> bool + Send + Sync,
) -> PyResult<Flat> {
    let lines = Lines::of(&data, &starts, &ends)?;
    Ok(py.detach(|| {
        let mut flat = Flat::new();
        for i in 0..lines.len() {
            if !read(lines.get(i), i as i64, &mut flat) {
                flat.failed.push(i as i64);
            }
        }
        flat
    }))
}

/// Split FortiGate bodies (spaced layout) into pairs.
///
/// Returns a dict: `rows` (int64, the body each pair is of), string columns `keys` and `values`
/// (quotes of a quoted value removed), and `failed` (int64, the bodies to read by the pattern).
#[pyfunction]
fn split_pairs<'py>(
    py: Python<'py>,
    data: PyBuffer<u8>,
    starts: PyBuffer<i64>,
    ends: PyBuffer<i64>,
) -> PyResult<Bound<'py, PyDict>> {
    let flat = flatten(py, data, starts, ends, |body, row, flat| match pairs::split(body) {
        Some(found) if flat.first.fits(body.len()) && flat.second.fits(body.len()) => {
            for pair in found {
                flat.rows.push(row);
                flat.first.push(Some(&body[pair.key.0..pair.key.1]));
                flat.second.push(Some(&body[pair.value.0..pair.value.1]));
            }
            true
        }
        _ => false,
    })?;
    flat.into_py(py, "keys", Some("values"))
}

/// Split CSV records (PAN-OS bodies) into fields, as `csv.reader(strict=True)` does.
///
/// Returns a dict: `rows` (int64, the record each field is of), a string column `values` (a
/// quoted field without its quotes and with `""` as `"`), and `failed` (int64, the records the
/// per-line reader must read).
#[pyfunction]
fn split_fields<'py>(
    py: Python<'py>,
    data: PyBuffer<u8>,
    starts: PyBuffer<i64>,
    ends: PyBuffer<i64>,
) -> PyResult<Bound<'py, PyDict>> {
    let flat = flatten(py, data, starts, ends, |record, row, flat| {
        let Some(found) = csv::split(record).filter(|_| flat.first.fits(record.len())) else {
            return false;
        };
        for field in found {
            let inner = &record[field.span.0..field.span.1];
            flat.rows.push(row);
            if field.doubled {
                flat.first.push_with(|out| csv::undouble_into(inner, out));
            } else {
                flat.first.push(Some(inner));
            }
        }
        true
    })?;
    flat.into_py(py, "values", None)
}

/// Unescape CEF extension values as `cef._VALUE_ESCAPE` does: `\n`, `\r`, `\=` and `\\`
/// become what they stand for, any other backslash and the character after it stay as written.
///
/// Returns a dict: `rows` (int64, each value's index), a string column `values`, and `failed`
/// (empty).
#[pyfunction]
fn unescape_cef<'py>(
    py: Python<'py>,
    data: PyBuffer<u8>,
    starts: PyBuffer<i64>,
    ends: PyBuffer<i64>,
) -> PyResult<Bound<'py, PyDict>> {
    one_per_range(py, data, starts, ends, unescape_into)
}

/// Each range's SHA-256 as 64 lower-case hex digits: the id of a record that came without one.
///
/// Returns a dict: `rows` (int64, each range's index), a string column `values`, and `failed`
/// (empty).
#[pyfunction]
fn sha256_hex<'py>(
    py: Python<'py>,
    data: PyBuffer<u8>,
    starts: PyBuffer<i64>,
    ends: PyBuffer<i64>,
) -> PyResult<Bound<'py, PyDict>> {
    one_per_range(py, data, starts, ends, |text, out| {
        let mut digest = [0u8; 64];
        hex_digest(text, &mut digest);
        out.extend_from_slice(&digest);
    })
}

/// One string per range, which `write` appends to the column's bytes.
fn one_per_range<'py>(
    py: Python<'py>,
    data: PyBuffer<u8>,
    starts: PyBuffer<i64>,
    ends: PyBuffer<i64>,
    write: impl Fn(&[u8], &mut Vec<u8>) + Send + Sync,
) -> PyResult<Bound<'py, PyDict>> {
    let flat = flatten(py, data, starts, ends, |value, row, flat| {
        flat.rows.push(row);
        flat.first.push_with(|out| write(value, out));
        true
    })?;
    flat.into_py(py, "values", None)
}

fn unescape_into(value: &[u8], out: &mut Vec<u8>) {
    let mut i = 0;
    while i < value.len() {
        if value[i] == b'\\' && i + 1 < value.len() {
            match value[i + 1] {
                b'n' => out.push(b'\n'),
                b'r' => out.push(b'\r'),
                b'=' => out.push(b'='),
                b'\\' => out.push(b'\\'),
                other => out.extend_from_slice(&[b'\\', other]),
            }
            i += 2;
        } else {
            out.push(value[i]);
            i += 1;
        }
    }
}

/// Whole records of the syslog receiver's spool from the front of `data` (a segment's bytes).
///
/// Returns a dict of int64 columns, one value per record: `peer` (where its peer's name starts;
/// it ends where `start` is), `start` and `end` (its message), `received` (µs since the epoch),
/// `size` (the message's size as received), and `kind` (uint8); `used` (the bytes the records
/// took) and `problem` (why reading stopped at damage, or None).
#[pyfunction]
fn read_spool<'py>(py: Python<'py>, data: PyBuffer<u8>, max_records: usize) -> PyResult<Bound<'py, PyDict>> {
    let bytes = bytes_in(&data)?;
    let found = py.detach(|| spool::read(bytes, max_records));
    let out = PyDict::new(py);
    out.set_item("peer", bytes_of(py, &found.peer))?;
    out.set_item("start", bytes_of(py, &found.start))?;
    out.set_item("end", bytes_of(py, &found.end))?;
    out.set_item("received", bytes_of(py, &found.received))?;
    out.set_item("size", bytes_of(py, &found.size))?;
    out.set_item("kind", bytes_of(py, &found.kind))?;
    out.set_item("used", found.used)?;
    out.set_item("problem", found.problem)?;
    Ok(out)
}

/// Spool records for `messages` (a list of bytes), all received at `received` (µs) from `peer`,
/// of one `kind`: one bytes object, the records back to back, as `syslog_spool.encode` makes
/// each. Raises ValueError when a peer name or message is longer than a record can say.
#[pyfunction]
fn write_spool<'py>(
    py: Python<'py>,
    received: i64,
    peer: &[u8],
    kind: u8,
    messages: Vec<Bound<'py, PyBytes>>,
) -> PyResult<Bound<'py, PyBytes>> {
    let slices: Vec<&[u8]> = messages.iter().map(|m| m.as_bytes()).collect();
    match py.detach(|| spool::write(received, peer, kind, &slices)) {
        Some(records) => Ok(PyBytes::new(py, &records)),
        None => Err(PyValueError::new_err("a peer name or message too long for a spool record")),
    }
}

/// Where every line of `data[start..stop]` starts, then `stop`: the offsets of an Arrow string
/// array of the lines, each with its line end (int64). A last line without one ends at `stop`.
#[pyfunction]
fn line_offsets<'py>(py: Python<'py>, data: PyBuffer<u8>, start: usize, stop: usize) -> PyResult<Bound<'py, PyBytes>> {
    let bytes = bytes_in(&data)?;
    if start > stop || stop > bytes.len() {
        return Err(PyValueError::new_err("the range is outside the buffer"));
    }
    let offsets = py.detach(|| {
        let mut offsets = vec![start as i64];
        offsets.extend(memchr::memchr_iter(b'\n', &bytes[start..stop]).map(|at| (start + at + 1) as i64));
        if *offsets.last().unwrap() < stop as i64 {
            offsets.push(stop as i64);
        }
        offsets
    });
    Ok(bytes_of(py, &offsets))
}

/// Where the `lines`-th line from `start` ends (after its `\n`), or the end of `data` when fewer
/// lines end there.
#[pyfunction]
fn after_lines(py: Python<'_>, data: PyBuffer<u8>, start: usize, lines: usize) -> PyResult<usize> {
    let bytes = bytes_in(&data)?;
    if start > bytes.len() {
        return Err(PyValueError::new_err("the start is outside the buffer"));
    }
    Ok(py.detach(|| match lines.checked_sub(1) {
        None => start,
        Some(last) => memchr::memchr_iter(b'\n', &bytes[start..]).nth(last).map_or(bytes.len(), |at| start + at + 1),
    }))
}

/// The records of a CSV export that start in `data[start..stop]` (after its header), each read
/// to its end, into columns, in up to `parts` parts at once (see `csv_table`): the cells of
/// header columns `read` (in that order), and each record's text and start, for the records
/// with `width` cells that are UTF-8.
///
/// Returns a dict: `batches`, a list of dicts, each with `columns` (a string column per `read`,
/// null for an empty cell),
/// `original` (the records' texts without line ends) and `starts` (int64, where each starts in
/// `data`); and `refused`, the records refused, as columns `start` and `end` (int64, the text),
/// `kind` (uint8: 1 cells, 2 not UTF-8, 3 a character after a closing quote, 4 a quote never
/// closed, 5 over 2 GiB), `value` (int64: the cells it has, the 1-based column of the byte at
/// fault, or the record's size) and `byte` (uint8, that byte); and `end`, where the last record
/// read ended (`stop`, or past it when a record runs on).
#[pyfunction]
#[allow(clippy::too_many_arguments)]
fn read_csv_table<'py>(
    py: Python<'py>,
    data: PyBuffer<u8>,
    start: usize,
    stop: usize,
    width: usize,
    read: Vec<usize>,
    parts: usize,
) -> PyResult<Bound<'py, PyDict>> {
    let bytes = bytes_in(&data)?;
    if start > stop || stop > bytes.len() {
        return Err(PyValueError::new_err("the range is outside the buffer"));
    }
    let mut slots = vec![None; width];
    for (slot, &column) in read.iter().enumerate() {
        match slots.get_mut(column) {
            Some(free @ None) => *free = Some(slot),
            _ => return Err(PyValueError::new_err("a column to read is outside the header or named twice")),
        }
    }
    let layout = csv_table::Layout { width, slots };
    let (batches, refused, end) = py.detach(|| csv_table::read(bytes, start, stop, &layout, parts));
    let out = PyDict::new(py);
    let mut handed = Vec::with_capacity(batches.len());
    for batch in batches {
        let item = PyDict::new(py);
        let columns: PyResult<Vec<_>> = batch.columns.into_iter().map(|column| column.into_py(py)).collect();
        item.set_item("columns", columns?)?;
        item.set_item("original", batch.original.into_py(py)?)?;
        item.set_item("starts", columns::lend(py, batch.starts)?)?;
        handed.push(item);
    }
    out.set_item("batches", handed)?;
    let found = PyDict::new(py);
    found.set_item("start", bytes_of(py, &refused.start))?;
    found.set_item("end", bytes_of(py, &refused.end))?;
    found.set_item("kind", bytes_of(py, &refused.kind))?;
    found.set_item("value", bytes_of(py, &refused.value))?;
    found.set_item("byte", bytes_of(py, &refused.byte))?;
    out.set_item("refused", found)?;
    out.set_item("end", end)?;
    Ok(out)
}

#[pymodule]
fn _logscan(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_function(wrap_pyfunction!(scan_headers, m)?)?;
    m.add_function(wrap_pyfunction!(split_pairs, m)?)?;
    m.add_function(wrap_pyfunction!(split_fields, m)?)?;
    m.add_function(wrap_pyfunction!(read_spool, m)?)?;
    m.add_function(wrap_pyfunction!(write_spool, m)?)?;
    m.add_function(wrap_pyfunction!(line_offsets, m)?)?;
    m.add_function(wrap_pyfunction!(after_lines, m)?)?;
    m.add_function(wrap_pyfunction!(unescape_cef, m)?)?;
    m.add_function(wrap_pyfunction!(read_csv_table, m)?)?;
    m.add_function(wrap_pyfunction!(sha256_hex, m)?)?;
    Ok(())
}
