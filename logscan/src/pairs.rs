//! FortiGate bodies split into `key=value` pairs on the spaces outside quotes.
//!
//! The grammar is Cyberwell's `fortigate.PAIR_SPACED`; split this way, a line reads as that
//! regular expression reads it exactly when the line has no backslash, CR or LF, an even number
//! of quotes, is not in the comma layout, and every piece is `key=value` with a value quoted
//! whole or holding no quote. Any other line is `None`: the caller reads it by the pattern.

pub struct Pair {
    pub key: (usize, usize),
    pub value: (usize, usize),
}

/// The pairs of one body (byte ranges in it), or None when the pattern must read it.
pub fn split(body: &[u8]) -> Option<Vec<Pair>> {
    if body.iter().any(|&b| matches!(b, b'\\' | b'\n' | b'\r')) {
        return None;
    }
    if body.iter().filter(|&&b| b == b'"').count() % 2 == 1 || comma_layout(body) {
        return None;
    }
    let mut pairs = Vec::with_capacity(48);
    let mut start = 0;
    let mut quoted = false;
    for (at, &byte) in body.iter().enumerate() {
        if byte == b'"' {
            quoted = !quoted;
        } else if byte == b' ' && !quoted {
            if at > start {
                pairs.push(piece(body, start, at)?);
            }
            start = at + 1;
        }
    }
    if body.len() > start {
        pairs.push(piece(body, start, body.len())?);
    }
    Some(pairs)
}

/// One piece as a pair: a key of `[\w.-]+`, `=`, and a value without quotes or quoted whole.
fn piece(body: &[u8], start: usize, end: usize) -> Option<Pair> {
    let text = &body[start..end];
    let eq = text.iter().position(|&b| b == b'=')?;
    if eq == 0 || !text[..eq].iter().all(|&b| is_key_byte(b)) {
        return None;
    }
    let value = &text[eq + 1..];
    let quotes = value.iter().filter(|&&b| b == b'"').count();
    let (from, to) = match quotes {
        0 => (eq + 1, text.len()),
        2 if value.len() >= 2 && value[0] == b'"' && value[value.len() - 1] == b'"' => (eq + 2, text.len() - 1),
        _ => return None,
    };
    Some(Pair { key: (start, start + eq), value: (start + from, start + to) })
}

fn is_key_byte(b: u8) -> bool {
    b.is_ascii_alphanumeric() || matches!(b, b'_' | b'.' | b'-')
}

/// `^\s*KEY=(QUOTED|[^ ,"]*),`: FortiOS's comma layout (a body here has no backslash, so a
/// quoted value is a quote, anything but a quote, a quote).
fn comma_layout(body: &[u8]) -> bool {
    let mut pos = body.iter().take_while(|&&b| matches!(b, b' ' | b'\t' | b'\n' | b'\r' | b'\x0c')).count();
    let key = body[pos..].iter().take_while(|&&b| is_key_byte(b)).count();
    if key == 0 || body.get(pos + key) != Some(&b'=') {
        return false;
    }
    pos += key + 1;
    if body.get(pos) == Some(&b'"') {
        if let Some(close) = body[pos + 1..].iter().position(|&b| b == b'"') {
            if body.get(pos + 1 + close + 1) == Some(&b',') {
                return true;
            }
        }
        // The unquoted alternative matches nothing before the quote, which is no comma.
        return false;
    }
    pos += body[pos..].iter().take_while(|&&b| !matches!(b, b' ' | b',' | b'"')).count();
    body.get(pos) == Some(&b',')
}
