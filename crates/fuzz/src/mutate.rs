//! Mutations of valid inputs, the way a coverage-blind fuzzer makes hostile bytes that still get
//! past the first checks: a seed from a [`Corpus`], then a few [`Edit`]s.
//!
//! Integer edits write big-endian values (every length in these formats is big-endian) chosen
//! among the boundary values and the number of bytes that follow the edit, so length fields are
//! hit with "one too many" and "one too few" as often as with garbage. Token edits insert a word
//! of the corpus's dictionary (JSON punctuation, property-file syntax, key names).

use std::sync::Arc;

use proptest::prelude::*;
use proptest::sample::Index;

/// Valid inputs to start from and words worth inserting.
#[derive(Debug, Clone, Default)]
pub struct Corpus {
    /// Valid inputs; must not be empty.
    pub seeds: Vec<Vec<u8>>,
    /// Tokens inserted by [`Edit::Token`].
    pub dictionary: Vec<Vec<u8>>,
}

/// A generated input; its `Debug` is one escaped byte string, so a shrunk failure prints on a
/// line instead of one line per byte.
#[derive(Clone, PartialEq, Eq)]
pub struct Input(pub Vec<u8>);

impl std::fmt::Debug for Input {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "b\"{}\" ({} bytes)", self.0.escape_ascii(), self.0.len())
    }
}

impl std::ops::Deref for Input {
    type Target = [u8];
    fn deref(&self) -> &[u8] {
        &self.0
    }
}

/// One change to the input.
#[derive(Debug, Clone)]
pub enum Edit {
    /// Overwrite one byte.
    Set(Index, u8),
    /// Flip one bit of one byte.
    Flip(Index, u8),
    /// Insert bytes.
    Insert(Index, Vec<u8>),
    /// Insert a dictionary word.
    Token(Index, Index),
    /// Remove up to this many bytes.
    Delete(Index, u8),
    /// Repeat up to this many bytes in place.
    Duplicate(Index, u8),
    /// Overwrite a big-endian integer of 1, 2, 4 or 8 bytes.
    Int(Index, u8, IntValue),
    /// Copy a range of another seed over this input: (seed, from, length, at).
    Splice(Index, Index, u8, Index),
    /// Cut the input here.
    Truncate(Index),
}

/// The value of an [`Edit::Int`].
#[derive(Debug, Clone, Copy)]
pub enum IntValue {
    /// A fixed value.
    Fixed(i64),
    /// The number of bytes after the integer, plus this.
    Remaining(i8),
}

const BOUNDARIES: &[i64] = &[
    0,
    1,
    -1,
    2,
    4,
    20,
    22,
    127,
    128,
    255,
    256,
    0x7FFF,
    -0x8000,
    0xFFFF,
    0x00FF_FFFF,
    0x0100_0000,
    i32::MAX as i64,
    i32::MIN as i64,
    i64::MAX,
    i64::MIN,
];

fn int_value() -> impl Strategy<Value = IntValue> {
    prop_oneof![
        prop::sample::select(BOUNDARIES).prop_map(IntValue::Fixed),
        any::<i64>().prop_map(IntValue::Fixed),
        (-4i8..=4).prop_map(IntValue::Remaining),
    ]
}

fn edit() -> impl Strategy<Value = Edit> {
    prop_oneof![
        (any::<Index>(), any::<u8>()).prop_map(|(i, b)| Edit::Set(i, b)),
        (any::<Index>(), 0u8..8).prop_map(|(i, b)| Edit::Flip(i, b)),
        (any::<Index>(), prop::collection::vec(any::<u8>(), 1..16)).prop_map(|(i, v)| Edit::Insert(i, v)),
        (any::<Index>(), any::<Index>()).prop_map(|(i, t)| Edit::Token(i, t)),
        (any::<Index>(), 1u8..32).prop_map(|(i, n)| Edit::Delete(i, n)),
        (any::<Index>(), 1u8..32).prop_map(|(i, n)| Edit::Duplicate(i, n)),
        (
            any::<Index>(),
            prop::sample::select(&[1u8, 2, 4, 8][..]),
            int_value()
        )
            .prop_map(|(i, w, v)| Edit::Int(i, w, v)),
        (any::<Index>(), any::<Index>(), 1u8..64, any::<Index>())
            .prop_map(|(s, f, n, a)| Edit::Splice(s, f, n, a)),
        any::<Index>().prop_map(Edit::Truncate),
    ]
}

fn apply(corpus: &Corpus, buf: &mut Vec<u8>, edit: &Edit) {
    let at = |i: &Index, len: usize| i.index(len + 1);
    match edit {
        Edit::Set(i, b) if !buf.is_empty() => {
            let i = i.index(buf.len());
            buf[i] = *b;
        }
        Edit::Flip(i, bit) if !buf.is_empty() => {
            let i = i.index(buf.len());
            buf[i] ^= 1 << bit;
        }
        Edit::Insert(i, bytes) => {
            let i = at(i, buf.len());
            buf.splice(i..i, bytes.iter().copied());
        }
        Edit::Token(i, t) if !corpus.dictionary.is_empty() => {
            let word = &corpus.dictionary[t.index(corpus.dictionary.len())];
            let i = at(i, buf.len());
            buf.splice(i..i, word.iter().copied());
        }
        Edit::Delete(i, n) => {
            let i = at(i, buf.len());
            let end = (i + usize::from(*n)).min(buf.len());
            buf.drain(i..end);
        }
        Edit::Duplicate(i, n) => {
            let i = at(i, buf.len());
            let end = (i + usize::from(*n)).min(buf.len());
            let copy = buf[i..end].to_vec();
            buf.splice(i..i, copy);
        }
        Edit::Int(i, width, value) => {
            let width = usize::from(*width);
            if buf.len() < width {
                return;
            }
            let i = i.index(buf.len() - width + 1);
            write_int(buf, i, width, *value);
        }
        Edit::Splice(s, f, n, a) => {
            let other = &corpus.seeds[s.index(corpus.seeds.len())];
            let from = at(f, other.len());
            let end = (from + usize::from(*n)).min(other.len());
            let i = at(a, buf.len());
            let stop = (i + end - from).min(buf.len());
            buf.splice(i..stop, other[from..end].iter().copied());
        }
        Edit::Truncate(i) => {
            let i = at(i, buf.len());
            buf.truncate(i);
        }
        _ => {}
    }
}

/// Writes `value` big-endian in `width` bytes at `at`; the caller checks that they fit.
fn write_int(buf: &mut [u8], at: usize, width: usize, value: IntValue) {
    let v = match value {
        IntValue::Fixed(v) => v,
        IntValue::Remaining(d) => (buf.len() - at - width) as i64 + i64::from(d),
    };
    buf[at..at + width].copy_from_slice(&v.to_be_bytes()[8 - width..]);
}

/// A seed of `corpus` (any of them, unchanged, as often as one edit) with up to `max_edits`
/// edits applied.
pub fn mutated(corpus: Arc<Corpus>, max_edits: usize) -> impl Strategy<Value = Input> {
    assert!(!corpus.seeds.is_empty(), "a corpus needs at least one seed");
    (any::<Index>(), prop::collection::vec(edit(), 0..=max_edits)).prop_map(move |(pick, edits)| {
        let mut buf = corpus.seeds[pick.index(corpus.seeds.len())].clone();
        for e in &edits {
            apply(&corpus, &mut buf, e);
        }
        Input(buf)
    })
}

/// Mostly mutated seeds, sometimes bytes with no structure at all.
pub fn hostile(corpus: Arc<Corpus>) -> impl Strategy<Value = Input> {
    prop_oneof![
        4 => mutated(corpus, 8),
        1 => prop::collection::vec(any::<u8>(), 0..1024).prop_map(Input),
    ]
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::strategy::ValueTree;
    use proptest::test_runner::TestRunner;

    fn corpus() -> Corpus {
        Corpus {
            seeds: vec![b"0123456789".to_vec(), b"abcdef".to_vec()],
            dictionary: vec![b"{}".to_vec()],
        }
    }

    #[test]
    fn int_edits_write_big_endian_and_remaining_counts_what_follows() {
        let mut buf = vec![0u8; 8];
        write_int(&mut buf, 0, 4, IntValue::Fixed(0x0102_0304));
        assert_eq!(&buf[..4], &[1, 2, 3, 4]);
        let mut buf = vec![0u8; 8];
        write_int(&mut buf, 2, 2, IntValue::Remaining(1));
        assert_eq!(buf, [0, 0, 0, 5, 0, 0, 0, 0]);
        write_int(&mut buf, 0, 1, IntValue::Fixed(-1));
        assert_eq!(buf[0], 0xFF);
    }

    #[test]
    fn mutations_start_from_seeds_and_change_them() {
        let c = Arc::new(corpus());
        let mut runner = TestRunner::deterministic();
        let strategy = mutated(c.clone(), 4);
        let (mut same, mut changed) = (0, 0);
        for _ in 0..200 {
            let v = strategy.new_tree(&mut runner).unwrap().current();
            if c.seeds.contains(&v.0) {
                same += 1;
            } else {
                changed += 1;
            }
        }
        assert!(same > 0 && changed > 100, "same {same}, changed {changed}");
    }
}
