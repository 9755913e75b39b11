//! The records kept beside one challenge in the memory store (the last
//! delivery record, the sealed code, …: `compact::Place::Record`), packed
//! into one allocation: a list of records each of its own allocation cost
//! a 24-byte list entry, an 8-byte end and an allocation per record, more
//! than the record itself (issue 13: ≤ 256 B per pending challenge,
//! tests/memory_per_challenge.rs).
//!
//! Each record is: its kind's length (1–8) and letters, its logical end
//! (unix ms, 48 bits little-endian: until the year 10889; a later end is
//! kept as that year), its length (LEB128) and its bytes. Only this file
//! writes the buffer; reading it back still checks every bound, so a
//! mistake here cannot panic, only lose a record.

/// The latest end 48 bits hold.
const MAX_UNTIL: u64 = (1 << 48) - 1;

#[derive(Debug, Default)]
pub struct Records(Box<[u8]>);

struct Entry<'a> {
    start: usize,
    kind: &'a [u8],
    until_at: usize,
    until: u64,
    value: &'a [u8],
    end: usize,
}

impl Records {
    fn entry(&self, start: usize) -> Option<Entry<'_>> {
        let b = &self.0;
        let klen = usize::from(*b.get(start)?);
        let kind = b.get(start + 1..start + 1 + klen)?;
        let until_at = start + 1 + klen;
        let mut until = [0u8; 8];
        until[..6].copy_from_slice(b.get(until_at..until_at + 6)?);
        let (len, at) = leb128(b, until_at + 6)?;
        let value = b.get(at..at.checked_add(len)?)?;
        Some(Entry {
            start,
            kind,
            until_at,
            until: u64::from_le_bytes(until),
            value,
            end: at + len,
        })
    }

    fn entries(&self) -> impl Iterator<Item = Entry<'_>> {
        let mut at = Some(0);
        std::iter::from_fn(move || {
            let e = self.entry(at?)?;
            at = Some(e.end);
            Some(e)
        })
    }

    fn find(&self, kind: &[u8]) -> Option<Entry<'_>> {
        self.entries().find(|e| e.kind == kind)
    }

    /// A record's end and bytes.
    pub fn get(&self, kind: &[u8]) -> Option<(u64, &[u8])> {
        self.find(kind).map(|e| (e.until, e.value))
    }

    /// Sets (or replaces) a record; the buffer is rebuilt at its exact
    /// size (a record or two, written once or twice per send).
    pub fn set(&mut self, kind: &[u8], until: u64, value: &[u8]) {
        debug_assert!((1..=8).contains(&kind.len()));
        let mut out = self.without(kind);
        out.push(kind.len() as u8);
        out.extend_from_slice(kind);
        out.extend_from_slice(&until.min(MAX_UNTIL).to_le_bytes()[..6]);
        let mut len = value.len();
        while len >= 0x80 {
            out.push(len as u8 | 0x80);
            len >>= 7;
        }
        out.push(len as u8);
        out.extend_from_slice(value);
        self.0 = out.into_boxed_slice();
    }

    /// Moves a record's end, in place; `false` when there is none.
    pub fn set_until(&mut self, kind: &[u8], until: u64) -> bool {
        let Some(at) = self.find(kind).map(|e| e.until_at) else {
            return false;
        };
        self.0[at..at + 6].copy_from_slice(&until.min(MAX_UNTIL).to_le_bytes()[..6]);
        true
    }

    /// Removes a record, giving its end and bytes.
    pub fn take(&mut self, kind: &[u8]) -> Option<(u64, Vec<u8>)> {
        let (until, value) = self.get(kind).map(|(u, v)| (u, v.to_vec()))?;
        self.0 = self.without(kind).into_boxed_slice();
        Some((until, value))
    }

    /// Drops the records that ended by `now_ms`.
    pub fn sweep(&mut self, now_ms: u64) {
        if self.entries().all(|e| e.until > now_ms) {
            return;
        }
        let mut out = Vec::new();
        for e in self.entries().filter(|e| e.until > now_ms) {
            out.extend_from_slice(&self.0[e.start..e.end]);
        }
        self.0 = out.into_boxed_slice();
    }

    fn without(&self, kind: &[u8]) -> Vec<u8> {
        let mut out = Vec::with_capacity(self.0.len() + 32);
        for e in self.entries().filter(|e| e.kind != kind) {
            out.extend_from_slice(&self.0[e.start..e.end]);
        }
        out
    }

    pub fn len(&self) -> usize {
        self.entries().count()
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

/// An LEB128 length at `at`: the length and where its bytes start.
fn leb128(b: &[u8], mut at: usize) -> Option<(usize, usize)> {
    let mut len = 0usize;
    for shift in (0..32).step_by(7) {
        let byte = *b.get(at)?;
        at += 1;
        len |= usize::from(byte & 0x7F) << shift;
        if byte & 0x80 == 0 {
            return Some((len, at));
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::Records;

    #[test]
    fn records_set_replace_extend_take_and_sweep() {
        let mut r = Records::default();
        assert!(r.is_empty());
        let big = vec![7u8; 70_000];
        r.set(b"m", 20, b"twelve bytes");
        r.set(b"code", 10, &big);
        r.set(b"dlvfail", 10, b"0");
        assert_eq!(r.len(), 3);
        assert_eq!(r.get(b"code"), Some((10, &big[..])));
        r.set(b"m", 30, b"");
        assert_eq!(r.get(b"m"), Some((30, &b""[..])));
        assert_eq!(r.len(), 3);
        assert!(r.set_until(b"dlvfail", 40));
        assert!(!r.set_until(b"chan", 40));
        assert_eq!(r.get(b"dlvfail"), Some((40, &b"0"[..])));
        r.sweep(10);
        assert_eq!(r.get(b"code"), None, "ended at 10");
        assert_eq!(r.len(), 2);
        assert_eq!(r.take(b"m"), Some((30, Vec::new())));
        assert_eq!(r.take(b"m"), None);
        r.set(b"x", u64::MAX, b"y");
        assert_eq!(r.get(b"x"), Some(((1 << 48) - 1, &b"y"[..])));
        r.sweep(40);
        assert_eq!(r.len(), 1);
        r.sweep(1 << 48);
        assert!(r.is_empty());
    }

    /// Lengths at each LEB128 edge (one byte up to 127, a continuation
    /// byte with its high bit set: 200, 1,000, 16,383), with a record
    /// after each, so a length read wrong loses the next one too.
    #[test]
    fn every_length_reads_back_with_the_record_after_it() {
        for len in [0, 1, 127, 128, 200, 255, 256, 1_000, 16_383, 16_384] {
            let value: Vec<u8> = (0..len).map(|i| i as u8).collect();
            let mut r = Records::default();
            r.set(b"code", 50, &value);
            r.set(b"m", 60, b"after");
            assert_eq!(r.get(b"code"), Some((50, &value[..])), "{len}");
            assert_eq!(r.get(b"m"), Some((60, &b"after"[..])), "{len}");
            assert_eq!(r.len(), 2, "{len}");
        }
    }
}
