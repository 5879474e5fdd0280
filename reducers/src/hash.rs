//! The changeset hash: a short fingerprint of a changeset, so that whoever
//! ran the same reducers on the same stored event (a browser through wasm, a
//! second server) can tell at once whether it computed the same changes as
//! the store, instead of drifting silently.
//!
//! It is defined here once and called by every side (the wasm layer exports
//! this very code), so the definition cannot drift either:
//!
//! * **Canonical encoding** ([`canonical_json`]): the changeset's JSON form
//!   with every number in the value domain's canonical form
//!   ([`crate::domain`]: `3.0` is `3`, `-0.0` is `0`), object keys sorted (by
//!   code point, whatever order the map kept), strings as JSON strings, no
//!   whitespace.
//! * **Hash** ([`changeset_hash`]): 64-bit FNV-1a of those UTF-8 bytes, as
//!   16 lowercase hex digits. FNV-1a needs no dependency and no `std`, takes
//!   a dozen lines that give the same bits on every target, and costs
//!   nothing in a wasm bundle. It is not a cryptographic hash: it catches
//!   reducers that disagree (two different changesets collide with
//!   probability about 2⁻⁶⁴), not an adversary forging a collision — which
//!   would gain nothing, as each side computes its own hash from its own
//!   changeset.

use alloc::string::String;
use alloc::vec::Vec;
use core::fmt::Write as _;

use serde_json::Value;

use crate::Changeset;
use crate::domain::canonical;

const FNV_OFFSET: u64 = 0xcbf2_9ce4_8422_2325;
const FNV_PRIME: u64 = 0x0000_0100_0000_01b3;

/// 64-bit FNV-1a of `bytes`.
pub fn fnv1a64(bytes: &[u8]) -> u64 {
    bytes.iter().fold(FNV_OFFSET, |hash, byte| {
        (hash ^ u64::from(*byte)).wrapping_mul(FNV_PRIME)
    })
}

/// The canonical encoding of a JSON value (see the [module](self)): its
/// numbers in canonical form, object keys sorted, no whitespace.
pub fn canonical_json(value: &Value) -> String {
    let mut out = String::new();
    write_canonical(&canonical(value), &mut out);
    out
}

/// FNV-1a fed as text is written: the hash without the text.
struct Fnv(u64);

impl core::fmt::Write for Fnv {
    fn write_str(&mut self, text: &str) -> core::fmt::Result {
        for byte in text.bytes() {
            self.0 = (self.0 ^ u64::from(byte)).wrapping_mul(FNV_PRIME);
        }
        Ok(())
    }
}

/// Whether `text` is written as a JSON string as it is, between quotes
/// (serde_json escapes `"`, `\\` and control characters only).
fn unescaped(text: &str) -> bool {
    !text.bytes().any(|b| b == b'"' || b == b'\\' || b < 0x20)
}

fn write_string<W: core::fmt::Write>(text: &str, out: &mut W) {
    if unescaped(text) {
        let _ = out.write_char('"');
        let _ = out.write_str(text);
        let _ = out.write_char('"');
    } else {
        let _ = write!(out, "{}", Value::String(text.into()));
    }
}

fn write_canonical<W: core::fmt::Write>(value: &Value, out: &mut W) {
    match value {
        Value::Array(items) => {
            let _ = out.write_char('[');
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    let _ = out.write_char(',');
                }
                write_canonical(item, out);
            }
            let _ = out.write_char(']');
        }
        Value::Object(map) => {
            let mut entries: Vec<(&String, &Value)> = map.iter().collect();
            // Sorted already unless serde_json keeps insertion order.
            if !entries.is_sorted_by(|a, b| a.0 <= b.0) {
                entries.sort_by(|a, b| a.0.cmp(b.0));
            }
            let _ = out.write_char('{');
            for (i, (key, item)) in entries.into_iter().enumerate() {
                if i > 0 {
                    let _ = out.write_char(',');
                }
                write_string(key, out);
                let _ = out.write_char(':');
                write_canonical(item, out);
            }
            let _ = out.write_char('}');
        }
        Value::String(text) => write_string(text, out),
        // Other scalars as serde_json writes them (numbers already canonical).
        scalar => {
            let _ = write!(out, "{scalar}");
        }
    }
}

/// The changeset hash of `changeset` (see the [module](self)): 16 lowercase
/// hex digits, the same for every changeset that means the same (numbers
/// `3.0` and `3`, object keys in any order).
pub fn changeset_hash(changeset: &Changeset) -> String {
    // A changeset is plain data (strings, JSON values, keys): turning it
    // into a `Value` cannot fail.
    let value = serde_json::to_value(changeset).unwrap_or(Value::Null);
    // Hashed as it is written: the store computes one per event it commits.
    let mut hash = Fnv(FNV_OFFSET);
    write_canonical(&canonical(&value), &mut hash);
    let mut out = String::with_capacity(16);
    let _ = write!(out, "{:016x}", hash.0);
    out
}

impl Changeset {
    /// Its [`changeset_hash`].
    pub fn hash(&self) -> String {
        changeset_hash(self)
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn fnv1a64_gives_the_published_test_vectors() {
        assert_eq!(fnv1a64(b""), 0xcbf2_9ce4_8422_2325);
        assert_eq!(fnv1a64(b"a"), 0xaf63_dc4c_8601_ec8c);
        assert_eq!(fnv1a64(b"foobar"), 0x8594_4171_f739_67e8);
    }

    #[test]
    fn the_encoding_sorts_keys_and_writes_canonical_numbers() {
        let value = json!({ "b": [3.0, -0.0, 0.5, "x\"y"], "a": { "d": null, "c": true } });
        assert_eq!(
            canonical_json(&value),
            r#"{"a":{"c":true,"d":null},"b":[3,0,0.5,"x\"y"]}"#
        );
    }

    #[test]
    fn the_hash_is_sixteen_hex_digits_of_the_encoding() {
        let changeset: Changeset = serde_json::from_value(json!([
            { "op": "create", "collection": "notes", "row": { "id": "n1", "n": 3 } }
        ]))
        .unwrap();
        let encoding = r#"[{"collection":"notes","op":"create","row":{"id":"n1","n":3}}]"#;
        assert_eq!(canonical_json(&serde_json::to_value(&changeset).unwrap()), encoding);
        assert_eq!(
            changeset.hash(),
            alloc::format!("{:016x}", fnv1a64(encoding.as_bytes()))
        );
        assert_eq!(Changeset::no_change().hash(), alloc::format!("{:016x}", fnv1a64(b"[]")));
    }
}
