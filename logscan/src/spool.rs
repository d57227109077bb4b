//! Records of the syslog receiver's spool (`collectors.live.syslog_spool`): written for many
//! messages at once by the receiver, and read from the front of a segment's bytes by the drain
//! (each record's fields and where its peer and message lie, checked by its CRC-32), so that
//! neither side makes a Python object per record.

/// crc32, payload length, received (µs), original size, kind, peer length: `<IIqIBB`.
const HEADER: usize = 22;
/// A longer record cannot be one the writer made (`syslog_spool.MAX_RECORD_BYTES`).
const MAX_RECORD_BYTES: usize = 64 * 1024 * 1024;

#[derive(Default)]
pub struct Records {
    pub peer: Vec<i64>,
    pub start: Vec<i64>,
    pub end: Vec<i64>,
    pub received: Vec<i64>,
    pub size: Vec<i64>,
    pub kind: Vec<u8>,
    /// Bytes taken by whole, intact records.
    pub used: usize,
    /// Why reading stopped before the end of the whole records, if it did.
    pub problem: Option<String>,
}

fn u32_at(data: &[u8], at: usize) -> u32 {
    u32::from_le_bytes(data[at..at + 4].try_into().unwrap())
}

/// At most `max_records` whole records from the front of `data`; a record cut short at the end
/// is left for later, a damaged one stops the reading with the problem named.
pub fn read(data: &[u8], max_records: usize) -> Records {
    let mut found = Records::default();
    let mut pos = 0;
    while found.kind.len() < max_records && pos + HEADER <= data.len() {
        let crc = u32_at(data, pos);
        let length = u32_at(data, pos + 4) as usize;
        let received = i64::from_le_bytes(data[pos + 8..pos + 16].try_into().unwrap());
        let size = u32_at(data, pos + 16);
        let kind = data[pos + 20];
        let peer_length = data[pos + 21] as usize;
        if length > MAX_RECORD_BYTES || peer_length > length {
            found.problem = Some(format!("impossible record length {length}"));
            break;
        }
        let stop = pos + HEADER + length;
        if stop > data.len() {
            break;
        }
        if crc32fast::hash(&data[pos + 4..stop]) != crc {
            found.problem = Some("checksum mismatch".to_string());
            break;
        }
        let body = pos + HEADER;
        found.peer.push(body as i64);
        found.start.push((body + peer_length) as i64);
        found.end.push(stop as i64);
        found.received.push(received);
        found.size.push(size as i64);
        found.kind.push(kind);
        pos = stop;
    }
    found.used = pos;
    found
}

/// The records of `messages`, all received at `received` from `peer`, of one `kind`, each with
/// its own length as its size, back to back; None when a peer name or message is longer than
/// the header can say.
pub fn write(received: i64, peer: &[u8], kind: u8, messages: &[&[u8]]) -> Option<Vec<u8>> {
    let peer_length = u8::try_from(peer.len()).ok()?;
    let total: usize = messages.iter().map(|m| HEADER + peer.len() + m.len()).sum();
    let mut out = Vec::with_capacity(total);
    for message in messages {
        let length = u32::try_from(peer.len() + message.len()).ok()?;
        let size = u32::try_from(message.len()).ok()?;
        let at = out.len();
        out.extend_from_slice(&[0; 4]);
        out.extend_from_slice(&length.to_le_bytes());
        out.extend_from_slice(&received.to_le_bytes());
        out.extend_from_slice(&size.to_le_bytes());
        out.push(kind);
        out.push(peer_length);
        out.extend_from_slice(peer);
        out.extend_from_slice(message);
        let crc = crc32fast::hash(&out[at + 4..]);
        out[at..at + 4].copy_from_slice(&crc.to_le_bytes());
    }
    Some(out)
}
