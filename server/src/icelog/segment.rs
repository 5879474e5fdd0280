//! One segment: the events of a `seq` range as zstd-compressed JSON lines
//! (each line a serialized [`StoredEvent`], `hash` included), with two
//! CRC-32s — over the compressed bytes (what storage keeps) and over the
//! decoded lines (what zstd gave back) — that the manifest keeps beside it.

use flux_capacitor::StoredEvent;

use crate::StoreError;

/// zstd's level: 3 is its default, fast to write and to read; higher levels
/// save a few percent more for several times the freeze time.
const LEVEL: i32 = 3;

/// A new segment's object name: its `seq` range (zero-padded, so that
/// names sort as the ranges do) and a time-ordered UUID of its own, so that
/// a range frozen again after a thaw is a new object, which the thaw's
/// deletion of the old one cannot reach.
pub(crate) fn object_name(first: u64, last: u64) -> String {
    format!(
        "segment-{first:020}-{last:020}-{}.jsonl.zst",
        uuid::Uuid::now_v7().simple()
    )
}

/// An encoded segment.
#[derive(Debug)]
pub(crate) struct Encoded {
    /// The compressed bytes (the object).
    pub bytes: Vec<u8>,
    /// CRC-32 of [`Encoded::bytes`].
    pub crc_compressed: u32,
    /// CRC-32 of the JSON lines before compression.
    pub crc_events: u32,
}

/// Encodes `events` (consecutive `seq`s).
pub(crate) fn encode(events: &[StoredEvent]) -> Result<Encoded, StoreError> {
    let mut lines = Vec::with_capacity(events.len() * 256);
    for event in events {
        serde_json::to_writer(&mut lines, event).map_err(|e| StoreError::IceLog {
            reason: format!("cannot serialize event {}: {e}", event.seq),
        })?;
        lines.push(b'\n');
    }
    let crc_events = crc32fast::hash(&lines);
    let bytes = zstd::bulk::compress(&lines, LEVEL).map_err(|e| StoreError::IceLog {
        reason: format!("cannot compress a segment: {e}"),
    })?;
    Ok(Encoded {
        crc_compressed: crc32fast::hash(&bytes),
        bytes,
        crc_events,
    })
}

/// What the manifest says a segment holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Expected {
    pub first_seq: u64,
    pub last_seq: u64,
    pub bytes: u64,
    pub crc_compressed: u32,
    pub crc_events: u32,
}

/// Decodes and checks segment `name` against `expected`: its size, both
/// checksums, and every event in place (`first_seq`..=`last_seq`, one each).
pub(crate) fn decode(name: &str, bytes: &[u8], expected: &Expected) -> Result<Vec<StoredEvent>, StoreError> {
    let corrupt = |reason: String| StoreError::SegmentCorrupt {
        segment: name.to_owned(),
        reason,
    };
    if bytes.len() as u64 != expected.bytes {
        return Err(corrupt(format!(
            "{} bytes, the manifest says {}",
            bytes.len(),
            expected.bytes
        )));
    }
    let crc = crc32fast::hash(bytes);
    if crc != expected.crc_compressed {
        return Err(corrupt(format!(
            "checksum of the compressed bytes is {crc:08x}, the manifest says {:08x}",
            expected.crc_compressed
        )));
    }
    let count = expected.last_seq.saturating_sub(expected.first_seq) + 1;
    let lines = zstd::stream::decode_all(bytes).map_err(|e| corrupt(format!("does not decompress: {e}")))?;
    let crc = crc32fast::hash(&lines);
    if crc != expected.crc_events {
        return Err(corrupt(format!(
            "checksum of the decoded events is {crc:08x}, the manifest says {:08x}",
            expected.crc_events
        )));
    }
    let mut events = Vec::with_capacity(count as usize);
    for (index, line) in lines.split(|b| *b == b'\n').filter(|l| !l.is_empty()).enumerate() {
        let event: StoredEvent =
            serde_json::from_slice(line).map_err(|e| corrupt(format!("line {}: not an event: {e}", index + 1)))?;
        let wanted = expected.first_seq + index as u64;
        if event.seq != wanted {
            return Err(corrupt(format!(
                "line {} holds seq {}, expected {wanted}",
                index + 1,
                event.seq
            )));
        }
        events.push(event);
    }
    if events.len() as u64 != count {
        return Err(corrupt(format!("{} events, the manifest says {count}", events.len())));
    }
    Ok(events)
}

#[cfg(test)]
mod tests {
    use flux_capacitor::Event;
    use serde_json::json;

    use super::*;

    fn events() -> Vec<StoredEvent> {
        (5..=9)
            .map(|seq| {
                let mut event = StoredEvent {
                    id: uuid::Uuid::now_v7(),
                    seq,
                    timestamp: format!("2026-12-01T00:00:0{seq}.000Z"),
                    hash: (seq % 2 == 0).then(|| format!("{seq:016x}")),
                    event: Event::new("t", json!({ "n": seq, "big": 1e17, "neg": -0.0, "s": "é\n\"" })),
                };
                if seq == 7 {
                    event.event.meta = Some(json!({ "user": "u" }));
                    event.event.error = true;
                }
                event
            })
            .collect()
    }

    fn expected(encoded: &Encoded) -> Expected {
        Expected {
            first_seq: 5,
            last_seq: 9,
            bytes: encoded.bytes.len() as u64,
            crc_compressed: encoded.crc_compressed,
            crc_events: encoded.crc_events,
        }
    }

    #[test]
    fn events_round_trip_exactly() {
        let events = events();
        let encoded = encode(&events).unwrap();
        assert_eq!(decode("s", &encoded.bytes, &expected(&encoded)).unwrap(), events);
    }

    #[test]
    fn every_flipped_byte_is_found() {
        let encoded = encode(&events()).unwrap();
        for at in 0..encoded.bytes.len() {
            let mut bytes = encoded.bytes.clone();
            bytes[at] ^= 0x40;
            let err = decode("s", &bytes, &expected(&encoded)).unwrap_err();
            assert_eq!(err.kind(), "segment_corrupt", "byte {at}");
        }
    }

    #[test]
    fn a_wrong_range_is_found() {
        let encoded = encode(&events()).unwrap();
        let mut wrong = expected(&encoded);
        wrong.first_seq = 4;
        assert!(
            decode("s", &encoded.bytes, &wrong)
                .unwrap_err()
                .to_string()
                .contains("expected 4")
        );
        let mut short = expected(&encoded);
        short.last_seq = 10;
        assert!(
            decode("s", &encoded.bytes, &short)
                .unwrap_err()
                .to_string()
                .contains("5 events, the manifest says 6")
        );
    }
}
