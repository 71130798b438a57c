//! Key tests: `may_be_counted(person_key)` and its kin, quick tests, before a join to a set
//! of members, of whether a department record can be about one of them at all.
//!
//! The income and asset sums keep the department rows about counted members with a semi-join
//! on the 2.4 M counted members (1M households): every row of the department tables (28 M
//! income rows, 12 M asset snapshots) is hashed and sent to a partition, then hashed again
//! and looked up in that partition's hash table, though most are about people in no
//! household under check. A Bloom filter of the counted members' keys, built as the members
//! are written, answers "certainly not counted" for most of those rows as the tables are read,
//! so the repartitioning and the semi-join see only the rest. The filter has false positives
//! and no false negatives: the semi-join after it still decides, so the sums are what they
//! were without it (the integration tests hold them to the planted truth, to the fen).
//!
//! The same kind of filter stands before other joins to members: `may_be_declared` (every
//! declared member, counted or not) before the spouse and minor-child rules' joins to the
//! members, `may_be_counted` before the owned units', and `may_be_over_line` /
//! `may_be_over_limit` (the counted members of the households over the income line or the
//! asset limit, some 0.1 M at 1M households) before the income and asset evidence's joins,
//! which then see a few per cent of the department rows.
//!
//! The filter is a blocked Bloom filter: one 64-bit word per key, two bits in it, 4 to 8 bits
//! per counted member (2 MiB at 1M households; 6.5 % false positives there: the semi-joins'
//! input fell from 28.4 M to 11.2 M rows for income and from 11.7 M to 4.4 M for assets),
//! outside the engine's memory pool. Lookups miss the caches while the tables are decoded
//! (about 20 ns each in `perf`), so the filter is kept small. (The Parquet crate's
//! split-block filter sized for 1 % took 27 ns a lookup in a loop on this machine against 5 ns:
//! it hashes with xxHash and tests eight words; this filter at 8 bits per key and three bits a
//! key gave the sums the same time.)

use std::hash::{Hash, Hasher};
use std::sync::Arc;

use arrow::array::{Array, AsArray, BooleanArray, RecordBatch};
use arrow::buffer::BooleanBuffer;
use arrow::datatypes::{DataType, Int64Type};
use datafusion::common::ScalarValue;
use datafusion::error::{DataFusionError, Result as DfResult};
use datafusion::logical_expr::{
    ColumnarValue, ScalarFunctionArgs, ScalarUDF, ScalarUDFImpl, Signature, Volatility,
};

use crate::{Error, Result};

/// The SQL name of the sums' test: the counted members.
pub(crate) const COUNTED: &str = "may_be_counted";
/// The SQL name of the test of the declared members, counted or not (the rules on a
/// household's make-up: an undeclared spouse or minor child).
pub(crate) const DECLARED: &str = "may_be_declared";
/// The SQL name of the income evidence's test: the counted members of the households over
/// the line (the `income_members` table).
pub(crate) const OVER_LINE: &str = "may_be_over_line";
/// The SQL name of the asset evidence's test: the counted members of the households over the
/// limit (the `asset_members` table).
pub(crate) const OVER_LIMIT: &str = "may_be_over_limit";

/// Bits of filter per key, at least (the words are a power of two), for a large set.
const BITS_PER_KEY: usize = 4;

/// Bits of filter per key, at least, for a set whose filter then still fits the 1 MiB of a
/// core's second-level cache (the members of the households over a line or a limit).
const BITS_PER_KEY_SMALL: usize = 16;

/// The keys of the declared members and of the counted ones among them, gathered as the
/// members are written, to become the `may_be_declared` and `may_be_counted` tests.
#[derive(Default)]
pub(crate) struct MemberKeys {
    declared: Keys,
    counted: Keys,
}

impl MemberKeys {
    /// Adds the members `b`: every one as declared, those with no `excluded` reason as
    /// counted.
    pub(crate) fn add(&mut self, b: &RecordBatch) -> Result<()> {
        let keys = key_column(b)?;
        let excluded = b
            .column_by_name("excluded")
            .ok_or_else(|| Error::Inconsistent("members without excluded".into()))?;
        self.declared.add_all(b)?;
        self.counted.keys.extend(
            (0..b.num_rows())
                .filter(|&i| keys.is_valid(i) && excluded.is_null(i))
                .map(|i| keys.value(i)),
        );
        Ok(())
    }

    /// The `may_be_counted` and `may_be_declared` tests.
    pub(crate) fn into_udfs(self) -> [ScalarUDF; 2] {
        [
            self.counted.into_udf(COUNTED),
            self.declared.into_udf(DECLARED),
        ]
    }
}

/// Person keys, gathered to become a filter.
#[derive(Default)]
pub(crate) struct Keys {
    keys: Vec<i64>,
}

impl Keys {
    /// Adds every `person_key` of `b`.
    pub(crate) fn add_all(&mut self, b: &RecordBatch) -> Result<()> {
        self.keys.extend(key_column(b)?.iter().flatten());
        Ok(())
    }

    /// The function `name(person_key)` over the keys added: false when the key is certainly
    /// not among them (or is null), true when it may be.
    pub(crate) fn into_udf(self, name: &'static str) -> ScalarUDF {
        ScalarUDF::from(MayBeIn {
            name,
            signature: Signature::exact(vec![DataType::Int64], Volatility::Immutable),
            filter: Arc::new(KeyFilter::new(&self.keys)),
        })
    }
}

/// The bytes a key test travels in, inside a plan shipped to a cluster's executors
/// (`cluster.rs`): the filter's shift, then its words, little-endian. `None` for any other
/// function.
#[cfg(any(feature = "cluster", test))]
pub(crate) fn key_test_bytes(udf: &ScalarUDF) -> Option<Vec<u8>> {
    let any: &dyn std::any::Any = udf.inner().as_ref();
    let t = any.downcast_ref::<MayBeIn>()?;
    let mut b = Vec::with_capacity(4 + 8 * t.filter.words.len());
    b.extend_from_slice(&t.filter.shift.to_le_bytes());
    for w in &t.filter.words {
        b.extend_from_slice(&w.to_le_bytes());
    }
    Some(b)
}

/// The key test `name` from the bytes of [`key_test_bytes`]; `None` when `name` is no key
/// test's or the bytes are not a filter's.
#[cfg(any(feature = "cluster", test))]
pub(crate) fn key_test_from(name: &str, bytes: &[u8]) -> Option<ScalarUDF> {
    let name = [COUNTED, DECLARED, OVER_LINE, OVER_LIMIT]
        .into_iter()
        .find(|n| *n == name)?;
    let (shift, words) = bytes.split_first_chunk::<4>()?;
    if words.is_empty() || words.len() % 8 != 0 {
        return None;
    }
    let words: Vec<u64> = words
        .chunks_exact(8)
        .map(|c| u64::from_le_bytes(c.try_into().unwrap_or_default()))
        .collect();
    let shift = u32::from_le_bytes(*shift);
    // The shift is 64 less the bits of the word index: the words are a power of two.
    if !words.len().is_power_of_two() || shift != 64 - words.len().trailing_zeros() {
        return None;
    }
    Some(ScalarUDF::from(MayBeIn {
        name,
        signature: Signature::exact(vec![DataType::Int64], Volatility::Immutable),
        filter: Arc::new(KeyFilter { words, shift }),
    }))
}

/// The `person_key` column of `b`.
fn key_column(b: &RecordBatch) -> Result<&arrow::array::Int64Array> {
    b.column_by_name("person_key")
        .and_then(|c| c.as_primitive_opt::<Int64Type>())
        .ok_or_else(|| Error::Inconsistent("no 64-bit person_key to filter on".into()))
}

/// A Bloom filter of 64-bit keys: each key sets two bits of one word.
#[derive(Debug)]
struct KeyFilter {
    words: Vec<u64>,
    /// 64 less the bits of a word's index: the index is the top bits of the key's hash.
    shift: u32,
}

impl KeyFilter {
    fn new(keys: &[i64]) -> Self {
        let small = keys.len() * BITS_PER_KEY_SMALL <= 8 << 20;
        let bits = if small {
            BITS_PER_KEY_SMALL
        } else {
            BITS_PER_KEY
        };
        let n = (keys.len() * bits).div_ceil(64).next_power_of_two();
        let mut f = KeyFilter {
            words: vec![0; n],
            shift: 64 - n.trailing_zeros(),
        };
        for &k in keys {
            let (i, bits) = f.place(k);
            f.words[i] |= bits;
        }
        f
    }

    /// The word a key sets and its two bits (from the low 12 bits of the hash).
    #[inline]
    fn place(&self, key: i64) -> (usize, u64) {
        self.place_hash(mix(key as u64))
    }

    /// [`KeyFilter::place`] from the key's hash.
    #[inline]
    fn place_hash(&self, h: u64) -> (usize, u64) {
        let bits = (1 << (h & 63)) | (1 << ((h >> 6) & 63));
        // A shift by 64 (one word) is no shift: `checked_shr` gives index 0 then.
        (h.checked_shr(self.shift).unwrap_or(0) as usize, bits)
    }

    /// Whether `key` may have been added (false: it certainly was not).
    #[inline]
    fn may_contain(&self, key: i64) -> bool {
        let (i, bits) = self.place(key);
        self.words[i] & bits == bits
    }

    /// [`KeyFilter::may_contain`] of every key, as bits. The keys are hashed 64 at a time
    /// before their words are read: the reads, which miss the caches while the department
    /// tables stream through them, are then issued close together and wait together (`perf`
    /// put 82 % of a one-key-at-a-time loop's time on the load of the word).
    fn may_contain_all(&self, keys: &[i64]) -> BooleanBuffer {
        let mut words = Vec::with_capacity(keys.len().div_ceil(64));
        let mut hashes = [0u64; 64];
        for chunk in keys.chunks(64) {
            for (h, &k) in hashes.iter_mut().zip(chunk) {
                *h = mix(k as u64);
            }
            let mut word = 0u64;
            for (j, &h) in hashes[..chunk.len()].iter().enumerate() {
                let (i, bits) = self.place_hash(h);
                word |= u64::from(self.words[i] & bits == bits) << j;
            }
            words.push(word);
        }
        BooleanBuffer::new(arrow::buffer::Buffer::from_vec(words), 0, keys.len())
    }
}

/// MurmurHash3's 64-bit finaliser: every bit of the key moves every bit of the hash.
#[inline]
fn mix(k: u64) -> u64 {
    let mut h = k ^ (k >> 33);
    h = h.wrapping_mul(0xff51_afd7_ed55_8ccd);
    h ^= h >> 33;
    h = h.wrapping_mul(0xc4ce_b9fe_1a85_ec53);
    h ^ (h >> 33)
}

/// A key test by name (`may_be_counted`, ...) over one filter.
#[derive(Debug)]
struct MayBeIn {
    name: &'static str,
    signature: Signature,
    filter: Arc<KeyFilter>,
}

// One test is equal to another only if it has the same name and holds the same filter.
impl PartialEq for MayBeIn {
    fn eq(&self, other: &Self) -> bool {
        self.name == other.name && Arc::ptr_eq(&self.filter, &other.filter)
    }
}

impl Eq for MayBeIn {}

impl Hash for MayBeIn {
    fn hash<H: Hasher>(&self, state: &mut H) {
        self.name.hash(state);
        std::ptr::hash(Arc::as_ptr(&self.filter), state);
    }
}

impl ScalarUDFImpl for MayBeIn {
    fn name(&self) -> &str {
        self.name
    }

    fn signature(&self) -> &Signature {
        &self.signature
    }

    fn return_type(&self, _args: &[DataType]) -> DfResult<DataType> {
        Ok(DataType::Boolean)
    }

    fn invoke_with_args(&self, args: ScalarFunctionArgs) -> DfResult<ColumnarValue> {
        let check = |k: i64| self.filter.may_contain(k);
        match args.args.first() {
            Some(ColumnarValue::Array(a)) => {
                let keys = a.as_primitive_opt::<Int64Type>().ok_or_else(|| {
                    DataFusionError::Internal(format!(
                        "{}: not a 64-bit key: {}",
                        self.name,
                        a.data_type()
                    ))
                })?;
                let bits = self.filter.may_contain_all(keys.values());
                // A null key is nobody's.
                let bits = match keys.nulls() {
                    None => bits,
                    Some(n) => &bits & n.inner(),
                };
                Ok(ColumnarValue::Array(Arc::new(BooleanArray::new(
                    bits, None,
                ))))
            }
            Some(ColumnarValue::Scalar(ScalarValue::Int64(k))) => Ok(ColumnarValue::Scalar(
                ScalarValue::Boolean(Some(k.is_some_and(check))),
            )),
            other => Err(DataFusionError::Internal(format!(
                "{}: unexpected argument {other:?}",
                self.name
            ))),
        }
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn a_key_test_travels_as_bytes_and_answers_the_same() {
        let keys: Vec<i64> = (0..50_000i64).map(|k| k * 7919 + 3).collect();
        let udf = Keys { keys: keys.clone() }.into_udf(COUNTED);
        let bytes = key_test_bytes(&udf).expect("a key test");
        let back = key_test_from(COUNTED, &bytes).expect("the same test");
        assert_eq!(back.name(), COUNTED);
        let (a, b): (&dyn std::any::Any, &dyn std::any::Any) =
            (udf.inner().as_ref(), back.inner().as_ref());
        let (a, b) = (
            a.downcast_ref::<MayBeIn>().unwrap(),
            b.downcast_ref::<MayBeIn>().unwrap(),
        );
        let probe: Vec<i64> = (0..200_000i64).map(|k| k * 31 + 1).chain(keys).collect();
        assert_eq!(
            a.filter.may_contain_all(&probe),
            b.filter.may_contain_all(&probe)
        );
        // Another name, cut bytes, or a function that is no key test: none.
        assert!(key_test_from("abs", &bytes).is_none());
        assert!(key_test_from(COUNTED, &bytes[..bytes.len() - 3]).is_none());
        assert!(key_test_from(COUNTED, &bytes[..4]).is_none());
        let other = datafusion::logical_expr::create_udf(
            "other",
            vec![DataType::Int64],
            DataType::Boolean,
            Volatility::Immutable,
            Arc::new(|_: &[ColumnarValue]| Ok(ColumnarValue::Scalar(ScalarValue::Boolean(None)))),
        );
        assert!(key_test_bytes(&other).is_none());
    }

    use arrow::array::{Int64Array, StringArray};
    use arrow::datatypes::{Field, Schema};
    use datafusion::prelude::SessionContext;

    use super::*;

    #[tokio::test]
    async fn counted_keys_always_pass_and_most_others_do_not() {
        // Members 0..20,000 (every third one excluded), in two batches.
        let schema = Arc::new(Schema::new(vec![
            Field::new("person_key", DataType::Int64, true),
            Field::new("excluded", DataType::Utf8, true),
        ]));
        let mut keys = MemberKeys::default();
        for part in [0..10_000i64, 10_000..20_000] {
            let b = RecordBatch::try_new(
                schema.clone(),
                vec![
                    Arc::new(Int64Array::from_iter_values(part.clone().map(|k| k * 7919))),
                    Arc::new(StringArray::from_iter(
                        part.map(|k| (k % 3 == 0).then_some("dead")),
                    )),
                ],
            )
            .unwrap();
            keys.add(&b).unwrap();
        }
        let ctx = SessionContext::new();
        let [counted, _] = keys.into_udfs();
        ctx.register_udf(counted);
        let ask = |sql: String| {
            let ctx = ctx.clone();
            async move {
                let b = ctx.sql(&sql).await.unwrap().collect().await.unwrap();
                b[0].column(0).as_primitive::<Int64Type>().value(0)
            }
        };
        // Every counted member passes.
        let counted =
            "SELECT value * 7919 AS k FROM generate_series(0, 19999) WHERE value % 3 <> 0";
        assert_eq!(
            ask(format!(
                "SELECT COUNT(*) FROM ({counted}) WHERE NOT {COUNTED}(k)"
            ))
            .await,
            0
        );
        // Of 100,000 keys of nobody counted (the excluded members among them), few pass: a
        // set this small gets 16 bits a key or more (13,334 keys in 4,096 words).
        let others = "SELECT value * 7919 + 1 AS k FROM generate_series(0, 89999) \
                      UNION ALL SELECT value * 7919 FROM generate_series(0, 29999) WHERE value % 3 = 0";
        let passed = ask(format!(
            "SELECT COUNT(*) FROM ({others}) WHERE {COUNTED}(k)"
        ))
        .await;
        assert!(passed < 3_000, "{passed} of 100,000 passed");
        // A null key is nobody's, alone or among others (7919 is a counted member's).
        assert_eq!(
            ask(format!(
                "SELECT COUNT(*) FROM (SELECT CAST(NULL AS BIGINT) AS k) WHERE {COUNTED}(k)"
            ))
            .await,
            0
        );
        assert_eq!(
            ask(format!(
                "SELECT COUNT(*) FROM (VALUES (CAST(NULL AS BIGINT)), (7919), (NULL)) t(k) \
                 WHERE {COUNTED}(k)"
            ))
            .await,
            1
        );
    }

    #[test]
    fn a_large_set_gets_4_to_8_bits_a_key_and_still_misses_none() {
        // 600,000 spread keys (the counted members of some 250,000 households).
        let key = |i: i64| i.wrapping_mul(0x2545_f491_4f6c_dd1d) >> 4;
        let keys: Vec<i64> = (0..600_000).map(key).collect();
        let f = KeyFilter::new(&keys);
        assert_eq!(f.words.len(), 65_536, "600,000 x 4 bits, to a power of two");
        assert!(keys.iter().all(|&k| f.may_contain(k)));
        let passed = (600_000..800_000)
            .filter(|&i| f.may_contain(key(i)))
            .count();
        assert!(passed < 30_000, "{passed} of 200,000 others passed");
    }

    #[test]
    fn keys_tested_together_answer_as_one_by_one() {
        let key = |i: i64| i.wrapping_mul(0x2545_f491_4f6c_dd1d);
        let f = KeyFilter::new(&(0..500).map(key).collect::<Vec<_>>());
        // 1,000 keys: 15 full words of 64 and 40 over; half added, half not.
        let keys: Vec<i64> = (250..1_250).map(key).collect();
        let bits = f.may_contain_all(&keys);
        assert_eq!(bits.len(), 1_000);
        for (i, &k) in keys.iter().enumerate() {
            assert_eq!(bits.value(i), f.may_contain(k), "key {i}");
        }
        assert!((0..250).all(|i| bits.value(i)));
    }

    #[test]
    fn no_counted_members_let_nothing_pass() {
        let f = KeyFilter::new(&[]);
        assert_eq!(f.words.len(), 1);
        assert!((0..10_000).all(|k| !f.may_contain(k * 104_729)));
        let one = KeyFilter::new(&[42]);
        assert!(one.may_contain(42));
    }
}
