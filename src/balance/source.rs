//! Inputs of a map, encoded a chunk at a time as they are needed.

use serde::Serialize;

use crate::error::Result;

/// A chunk of encoded inputs: exactly postcard's encoding of a `Vec<A>` of `count` items.
pub(crate) struct Encoded {
    pub bytes: Vec<u8>,
    pub count: usize,
    /// Where each item's encoding starts in `bytes` (kept when items may be retried alone).
    pub offsets: Option<Vec<u32>>,
}

impl Encoded {
    /// The chunk holding only item `k` of this one (for a retry).
    pub(crate) fn item(&self, k: usize) -> Vec<u8> {
        let offsets = self.offsets.as_ref().expect("offsets are kept for retries");
        let end = offsets.get(k + 1).map_or(self.bytes.len(), |&o| o as usize);
        let mut bytes = postcard::to_stdvec(&1usize).expect("a length encodes");
        bytes.extend_from_slice(&self.bytes[offsets[k] as usize..end]);
        bytes
    }
}

/// Where a map's inputs come from.
pub(crate) trait ChunkSource {
    /// Encodes up to `max` more items; `None` when there are no more.
    fn take(&mut self, max: usize) -> Option<Result<Encoded>>;
}

/// Inputs from an iterator, pulled only when a chunk is needed (so an endless iterator works).
pub(crate) struct IterSource<I> {
    iter: I,
    keep_offsets: bool,
    done: bool,
}

impl<I> IterSource<I> {
    pub(crate) fn new(iter: I, keep_offsets: bool) -> Self {
        IterSource {
            iter,
            keep_offsets,
            done: false,
        }
    }
}

impl<A: Serialize, I: Iterator<Item = A>> ChunkSource for IterSource<I> {
    fn take(&mut self, max: usize) -> Option<Result<Encoded>> {
        if self.done {
            return None;
        }
        let max = max.max(1);
        if max == 1 && !self.keep_offsets {
            // One item (a task stream): encoded as a one-element `Vec<A>` without collecting.
            let Some(item) = self.iter.next() else {
                self.done = true;
                return None;
            };
            // The length (1, one byte), then the item, in one allocation for small items.
            let mut bytes = Vec::with_capacity(16);
            bytes.push(1u8);
            let encoded = postcard::to_extend(&item, bytes).map_err(Into::into);
            return Some(encoded.map(|bytes| Encoded {
                bytes,
                count: 1,
                offsets: None,
            }));
        }
        let items: Vec<A> = self.iter.by_ref().take(max).collect();
        if items.len() < max.max(1) {
            self.done = true;
        }
        if items.is_empty() {
            return None;
        }
        let count = items.len();
        Some((|| {
            if !self.keep_offsets {
                return Ok(Encoded {
                    bytes: postcard::to_stdvec(&items)?,
                    count,
                    offsets: None,
                });
            }
            let mut bytes = postcard::to_stdvec(&count)?;
            let mut offsets = Vec::with_capacity(count);
            for item in &items {
                offsets.push(bytes.len() as u32);
                bytes = postcard::to_extend(item, bytes)?;
            }
            Ok(Encoded {
                bytes,
                count,
                offsets: Some(offsets),
            })
        })())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn chunks_encode_like_a_vec_and_items_split_out() {
        let mut src = IterSource::new((0..5u64).map(|i| (i, format!("item{i}"))), true);
        let c = src.take(3).unwrap().unwrap();
        assert_eq!(c.count, 3);
        let back: Vec<(u64, String)> = postcard::from_bytes(&c.bytes).unwrap();
        assert_eq!(back[2], (2, "item2".to_string()));
        let one: Vec<(u64, String)> = postcard::from_bytes(&c.item(1)).unwrap();
        assert_eq!(one, vec![(1, "item1".to_string())]);
        let c = src.take(3).unwrap().unwrap();
        assert_eq!(c.count, 2);
        assert!(src.take(3).is_none());
        let mut plain = IterSource::new(0..1000u32, false);
        let c = plain.take(1000).unwrap().unwrap();
        assert_eq!(
            postcard::from_bytes::<Vec<u32>>(&c.bytes).unwrap().len(),
            1000
        );
        assert!(plain.take(1).is_none());
    }

    #[test]
    fn endless_inputs_are_pulled_lazily() {
        let mut src = IterSource::new(0u64.., false);
        for _ in 0..3 {
            assert_eq!(src.take(7).unwrap().unwrap().count, 7);
        }
    }
}
