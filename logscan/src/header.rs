//! The common syslog headers and the body that follows them, read a line at a time.
//!
//! Only the shapes Cyberwell's bulk reader takes are read here: an RFC 5424 header with `-` for
//! its structured data, or an RFC 3164 one (`[<PRI>][Mmm dd hh:mm:ss [host ]]`), in front of a
//! CEF, FortiGate or PAN-OS body that starts right there. Anything else (a year in the clock, a
//! TAG, a PRI over 191, bytes that are not UTF-8, ...) is `None`: the Python per-line reader reads
//! it and says why it rejects what it rejects. Being stricter than that reader is safe; reading a
//! line differently from it is a bug, which the differential tests look for.

/// Which vendor's body a line holds.
pub const CEF: u8 = 1;
pub const FORTIGATE: u8 = 2;
pub const PANOS: u8 = 3;

/// A byte range of the line (start, end), relative to the line's start.
pub type Span = Option<(usize, usize)>;

pub struct Header {
    pub priority: Option<u32>,
    /// An RFC 3164 clock as `MMDDhhmmss` (month 1-12), for the caller to place in a year.
    pub bsd_clock: Option<i64>,
    /// An RFC 5424 timestamp's text.
    pub iso_clock: Span,
    pub hostname: Span,
    pub appname: Span,
    pub procid: Span,
    pub msgid: Span,
    pub body: usize,
    pub kind: u8,
}

const MONTHS: [&[u8; 3]; 12] = [
    b"Jan", b"Feb", b"Mar", b"Apr", b"May", b"Jun", b"Jul", b"Aug", b"Sep", b"Oct", b"Nov", b"Dec",
];

/// The header and body kind of one line, or None when the per-line reader must read it.
pub fn read(line: &[u8], log_types: &[&[u8]]) -> Option<Header> {
    std::str::from_utf8(line).ok()?;
    let mut pos = 0;
    let mut priority = None;
    if line.first() == Some(&b'<') {
        let (value, end) = pri(line)?;
        priority = Some(value);
        pos = end;
        if line[pos..].starts_with(b"1 ") {
            return ietf(line, pos + 2, priority, log_types);
        }
    }
    if priority.is_some_and(|p| p > 191) {
        return None;
    }
    bsd(line, pos, priority, log_types)
}

/// `<` 1-3 digits `>`: the value and where it ends.
fn pri(line: &[u8]) -> Option<(u32, usize)> {
    let digits = run(line, 1, |b| b.is_ascii_digit());
    if !(1..=3).contains(&digits) || line.get(1 + digits) != Some(&b'>') {
        return None;
    }
    let value = line[1..1 + digits].iter().fold(0u32, |acc, d| acc * 10 + u32::from(d - b'0'));
    Some((value, 2 + digits))
}

/// `TIMESTAMP HOST APP PROCID MSGID - BODY`, each field a run of non-spaces.
fn ietf(line: &[u8], mut pos: usize, priority: Option<u32>, log_types: &[&[u8]]) -> Option<Header> {
    if priority.is_some_and(|p| p > 191) {
        return None;
    }
    let ts_end = if line.get(pos) == Some(&b'-') { pos + 1 } else { pos + iso(&line[pos..])? };
    let iso_clock = if ts_end == pos + 1 && line[pos] == b'-' { None } else { Some((pos, ts_end)) };
    if line.get(ts_end) != Some(&b' ') {
        return None;
    }
    pos = ts_end + 1;
    let mut fields = [(0usize, 0usize); 4];
    for field in fields.iter_mut() {
        let len = run(line, pos, |b| b != b' ');
        if len == 0 || line.get(pos + len) != Some(&b' ') {
            return None;
        }
        *field = (pos, pos + len);
        pos += len + 1;
    }
    if !line[pos..].starts_with(b"- ") {
        return None;
    }
    let body = pos + 2;
    if !body_starts(&line[body..]) {
        return None;
    }
    let nil = |(s, e): (usize, usize)| if &line[s..e] == b"-" { None } else { Some((s, e)) };
    Some(Header {
        priority,
        bsd_clock: None,
        iso_clock,
        hostname: nil(fields[0]),
        appname: nil(fields[1]),
        procid: nil(fields[2]),
        msgid: nil(fields[3]),
        body,
        kind: kind(&line[body..], log_types)?,
    })
}

/// The length of `YYYY-MM-DDThh:mm:ss[.f{1,9}](Z|+hh:mm|-hh:mm)` at the start of `text`.
fn iso(text: &[u8]) -> Option<usize> {
    const SHAPE: &[u8] = b"dddd-dd-ddTdd:dd:dd";
    if text.len() < SHAPE.len() {
        return None;
    }
    for (byte, want) in text.iter().zip(SHAPE) {
        let ok = if *want == b'd' { byte.is_ascii_digit() } else { byte == want };
        if !ok {
            return None;
        }
    }
    let mut pos = SHAPE.len();
    if text.get(pos) == Some(&b'.') {
        let digits = run(text, pos + 1, |b| b.is_ascii_digit());
        if !(1..=9).contains(&digits) {
            return None;
        }
        pos += 1 + digits;
    }
    match text.get(pos) {
        Some(b'Z') => Some(pos + 1),
        Some(b'+') | Some(b'-') => {
            let zone = text.get(pos + 1..pos + 6)?;
            let ok = zone[0].is_ascii_digit()
                && zone[1].is_ascii_digit()
                && zone[2] == b':'
                && zone[3].is_ascii_digit()
                && zone[4].is_ascii_digit();
            ok.then_some(pos + 6)
        }
        _ => None,
    }
}

/// `[Mmm dd hh:mm:ss [host ]]BODY` after an optional PRI, tried as a regular expression tries
/// it: with the clock and host first, then without the host, then without the clock.
fn bsd(line: &[u8], pos: usize, priority: Option<u32>, log_types: &[&[u8]]) -> Option<Header> {
    let header = |bsd_clock, hostname: Span, body: usize| {
        Some(Header {
            priority,
            bsd_clock,
            iso_clock: None,
            hostname,
            appname: None,
            procid: None,
            msgid: None,
            body,
            kind: kind(&line[body..], log_types)?,
        })
    };
    if let Some((clock, after)) = bsd_clock(line, pos) {
        let host = run(line, after, is_host_byte);
        if host > 0 && line.get(after + host) == Some(&b' ') && body_starts(&line[after + host + 1..]) {
            let name = &line[after..after + host];
            if name == b"UTC" || name == b"GMT" {
                return None; // the per-line reader takes these for the clock's zone
            }
            return header(Some(clock), Some((after, after + host)), after + host + 1);
        }
        if body_starts(&line[after..]) {
            return header(Some(clock), None, after);
        }
    }
    if body_starts(&line[pos..]) {
        return header(None, None, pos);
    }
    None
}

/// `Mmm {1,2}d{1,2} hh:mm:ss ` at `pos`: the clock as `MMDDhhmmss` and where it ends.
fn bsd_clock(line: &[u8], pos: usize) -> Option<(i64, usize)> {
    let name = line.get(pos..pos + 3)?;
    let month = MONTHS.iter().position(|m| m.as_slice() == name)? as i64 + 1;
    let mut at = pos + 3;
    let spaces = run(line, at, |b| b == b' ');
    if !(1..=2).contains(&spaces) {
        return None;
    }
    at += spaces;
    let days = run(line, at, |b| b.is_ascii_digit());
    if !(1..=2).contains(&days) {
        return None;
    }
    let day = number(&line[at..at + days]);
    at += days;
    let hms = line.get(at..at + 10)?;
    let shape_ok = hms[0] == b' '
        && hms[3] == b':'
        && hms[6] == b':'
        && hms[9] == b' '
        && [1, 2, 4, 5, 7, 8].iter().all(|&i| hms[i].is_ascii_digit());
    if !shape_ok {
        return None;
    }
    let (h, m, s) = (number(&hms[1..3]), number(&hms[4..6]), number(&hms[7..9]));
    Some((month * 100_000_000 + day * 1_000_000 + h * 10_000 + m * 100 + s, at + 10))
}

fn number(digits: &[u8]) -> i64 {
    digits.iter().fold(0, |acc, d| acc * 10 + i64::from(d - b'0'))
}

fn is_host_byte(b: u8) -> bool {
    b.is_ascii_alphanumeric() || matches!(b, b'_' | b'.' | b'-')
}

/// The length of the run of bytes from `pos` that satisfy `test`.
fn run(line: &[u8], pos: usize, test: impl Fn(u8) -> bool) -> usize {
    line.get(pos..).map_or(0, |rest| rest.iter().take_while(|&&b| test(b)).count())
}

/// Whether a vendor body can start here: `CEF:`, `d{1,3}|`, `key=` or `digits,`.
fn body_starts(body: &[u8]) -> bool {
    if body.starts_with(b"CEF:") || bare_cef(body) {
        return true;
    }
    let key = run(body, 0, is_host_byte);
    if key > 0 && body.get(key) == Some(&b'=') {
        return true;
    }
    let digits = run(body, 0, |b| b.is_ascii_digit());
    digits > 0 && body.get(digits) == Some(&b',')
}

fn bare_cef(body: &[u8]) -> bool {
    let digits = run(body, 0, |b| b.is_ascii_digit());
    (1..=3).contains(&digits) && body.get(digits) == Some(&b'|')
}

/// The body's vendor, tried in the order the per-line reader tries them.
fn kind(body: &[u8], log_types: &[&[u8]]) -> Option<u8> {
    if body.starts_with(b"CEF:") || bare_cef(body) {
        return Some(CEF);
    }
    let key = run(body, 0, is_host_byte);
    if key > 0 && body.get(key) == Some(&b'=') && has_fortigate_key(body) {
        return Some(FORTIGATE);
    }
    panos_type(body, log_types).then_some(PANOS)
}

/// `(^|[ ,])(logid|log_id|devname|devid|subtype)=` anywhere in the body.
fn has_fortigate_key(body: &[u8]) -> bool {
    const KEYS: [&[u8]; 5] = [b"logid", b"log_id", b"devname", b"devid", b"subtype"];
    body.iter().enumerate().filter(|(_, &b)| b == b'=').any(|(eq, _)| {
        KEYS.iter().any(|key| {
            eq >= key.len()
                && &body[eq - key.len()..eq] == *key
                && (eq == key.len() || matches!(body[eq - key.len() - 1], b' ' | b','))
        })
    })
}

/// `[^,"]*,[^,"]*,[^,"]*,TYPE(,|$)` with TYPE `[A-Z][A-Z-]*` one of the known log types.
fn panos_type(body: &[u8], log_types: &[&[u8]]) -> bool {
    let mut pos = 0;
    for _ in 0..3 {
        pos += run(body, pos, |b| b != b',' && b != b'"');
        if body.get(pos) != Some(&b',') {
            return false;
        }
        pos += 1;
    }
    let first_ok = body.get(pos).is_some_and(|b| b.is_ascii_uppercase());
    let len = run(body, pos, |b| b.is_ascii_uppercase() || b == b'-');
    if !first_ok || !matches!(body.get(pos + len), None | Some(b',')) {
        return false;
    }
    let name = &body[pos..pos + len];
    log_types.contains(&name)
}
