//! Anchor-keyed capture logs on the host's kv capability (already scoped per
//! tenant and plugin by the host).
//!
//! A log holds at most one record per time anchor (a Chaos Chest week, a
//! challenge window, a Luxion run start). Records are grouped into buckets of
//! `bucket_span` seconds so that a bucket stays a small JSON array and
//! listing a long history does not need one key per record:
//!
//! * `<prefix>/b/<bucket>`: JSON array of the bucket's records, newest anchor first;
//! * `<prefix>/index`: JSON object `{"<bucket>": <record count>}`.
//!
//! The index is rewritten from the bucket's real length after every write, so
//! re-running a write (e.g. a retried insert) repairs it. The kv capability has
//! no transactions: two concurrent inserts into the same bucket can race and
//! the last writer wins.

use std::collections::BTreeMap;

use kiwi_sdk::Result;
use kiwi_sdk::host::Kv;
use serde::Serialize;
use serde::de::DeserializeOwned;

use crate::time::fl;

/// A stored capture, identified by its time anchor.
pub trait Record: Serialize + DeserializeOwned {
    /// The unix-second anchor this record is stored under (unique per log).
    fn anchor(&self) -> i64;
}

/// One capture log in kv.
#[derive(Debug, Clone, Copy)]
pub struct Log {
    /// Key prefix (`chaos`, `challenge`, `luxion`).
    pub prefix: &'static str,
    /// Bucket width in seconds.
    pub bucket_span: i64,
}

type Index = BTreeMap<i64, u64>;

impl Log {
    fn bucket_of(&self, anchor: i64) -> i64 {
        fl(anchor, self.bucket_span)
    }

    fn bucket_key(&self, bucket: i64) -> String {
        format!("{}/b/{bucket}", self.prefix)
    }

    fn index_key(&self) -> String {
        format!("{}/index", self.prefix)
    }

    fn read_index(&self, kv: Kv<'_>) -> Result<Index> {
        Ok(kv.get_json(&self.index_key())?.unwrap_or_default())
    }

    fn read_bucket<T: Record>(&self, kv: Kv<'_>, bucket: i64) -> Result<Vec<T>> {
        Ok(kv.get_json(&self.bucket_key(bucket))?.unwrap_or_default())
    }

    /// The record stored under `anchor`, if any.
    pub fn get<T: Record>(&self, kv: Kv<'_>, anchor: i64) -> Result<Option<T>> {
        let bucket: Vec<T> = self.read_bucket(kv, self.bucket_of(anchor))?;
        Ok(bucket.into_iter().find(|r| r.anchor() == anchor))
    }

    /// Inserts or replaces the record under `anchor`. `build` gets the existing
    /// record (if any) and returns the one to store, which must keep `anchor`.
    /// Returns the stored record and whether it is new.
    pub fn upsert<T: Record + Clone>(
        &self,
        kv: Kv<'_>,
        anchor: i64,
        build: impl FnOnce(Option<T>) -> T,
    ) -> Result<(T, bool)> {
        let bucket_id = self.bucket_of(anchor);
        let mut bucket: Vec<T> = self.read_bucket(kv, bucket_id)?;
        let existing = bucket.iter().position(|r| r.anchor() == anchor);
        let was_new = existing.is_none();
        let record = build(existing.map(|i| bucket.remove(i)));
        if record.anchor() != anchor {
            return Err(kiwi_sdk::Error::internal("capture anchor changed on upsert"));
        }
        bucket.push(record.clone());
        bucket.sort_by_key(|r| std::cmp::Reverse(r.anchor()));
        kv.set_json(&self.bucket_key(bucket_id), &bucket, None)?;
        let mut index = self.read_index(kv)?;
        let len = u64::try_from(bucket.len()).unwrap_or(u64::MAX);
        if index.get(&bucket_id) != Some(&len) {
            index.insert(bucket_id, len);
            kv.set_json(&self.index_key(), &index, None)?;
        }
        Ok((record, was_new))
    }

    /// The record with the greatest anchor.
    pub fn latest<T: Record>(&self, kv: Kv<'_>) -> Result<Option<T>> {
        Ok(self.page(kv, 1, 0)?.0.into_iter().next())
    }

    /// Records newest anchor first, skipping `offset` and returning at most
    /// `limit`, plus the total number of records.
    pub fn page<T: Record>(&self, kv: Kv<'_>, limit: usize, offset: usize) -> Result<(Vec<T>, u64)> {
        let index = self.read_index(kv)?;
        let total = index.values().fold(0u64, |acc, n| acc.saturating_add(*n));
        let mut skip = offset;
        let mut out = Vec::new();
        for (&bucket_id, &count) in index.iter().rev() {
            if out.len() >= limit {
                break;
            }
            let count = usize::try_from(count).unwrap_or(usize::MAX);
            if count == 0 {
                continue;
            }
            if skip >= count {
                skip -= count;
                continue;
            }
            let bucket: Vec<T> = self.read_bucket(kv, bucket_id)?;
            let wanted = limit - out.len();
            out.extend(bucket.into_iter().skip(skip).take(wanted));
            skip = 0;
        }
        Ok((out, total))
    }

    /// Every record, newest anchor first.
    pub fn all<T: Record>(&self, kv: Kv<'_>) -> Result<Vec<T>> {
        Ok(self.page(kv, usize::MAX, 0)?.0)
    }
}
