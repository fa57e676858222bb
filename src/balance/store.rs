//! Where a map's results wait until they are read: one slot per item, in input order.

use std::collections::{BTreeMap, VecDeque};

use crate::error::{Error, RemoteError, RemoteErrors};

/// One item's state.
#[derive(Debug)]
pub(crate) enum Slot<R> {
    Pending,
    Ready(R),
    Failed,
    Taken,
}

/// Results of one map, by item index. Items are added when their chunk is sent; a read by
/// iteration takes the value out, and slots read at the front are dropped, so an `imap`
/// consumed as it goes keeps only what is in flight or not yet read.
#[derive(Debug)]
pub(crate) struct Store<R> {
    base: u64,
    slots: VecDeque<Slot<R>>,
    errors: BTreeMap<u64, RemoteError>,
    /// Indices in the order their outcome arrived, not yet taken by unordered iteration (kept
    /// only for maps read in arrival order).
    arrivals: VecDeque<u64>,
    track_arrivals: bool,
    /// Items with a final outcome.
    pub done: u64,
    /// Items added so far (the next item's index).
    pub added: u64,
}

impl<R> Store<R> {
    /// An empty store; `track_arrivals` keeps the arrival order for unordered reading.
    pub(crate) fn new(track_arrivals: bool) -> Self {
        Store {
            base: 0,
            slots: VecDeque::new(),
            errors: BTreeMap::new(),
            arrivals: VecDeque::new(),
            track_arrivals,
            done: 0,
            added: 0,
        }
    }

    /// Makes room for `n` items up front (a map of known length).
    pub(crate) fn reserve(&mut self, n: usize) {
        self.slots.reserve(n);
    }

    /// Adds `count` pending items (a chunk was sent).
    pub(crate) fn add(&mut self, count: usize) {
        self.slots.extend((0..count).map(|_| Slot::Pending));
        self.added += count as u64;
    }

    fn slot(&mut self, index: u64) -> &mut Slot<R> {
        let k = (index - self.base) as usize;
        &mut self.slots[k]
    }

    pub(crate) fn set_ready(&mut self, index: u64, value: R) {
        *self.slot(index) = Slot::Ready(value);
        if self.track_arrivals {
            self.arrivals.push_back(index);
        }
        self.done += 1;
    }

    pub(crate) fn set_failed(&mut self, error: RemoteError) {
        let index = error.item.expect("a map failure names its item");
        *self.slot(index) = Slot::Failed;
        self.errors.insert(index, error);
        if self.track_arrivals {
            self.arrivals.push_back(index);
        }
        self.done += 1;
    }

    /// Whether item `index` has its outcome.
    pub(crate) fn is_final(&self, index: u64) -> bool {
        index < self.base
            || self
                .slots
                .get((index - self.base) as usize)
                .is_some_and(|s| !matches!(s, Slot::Pending))
    }

    /// The index of the next item in input order not yet taken.
    pub(crate) fn next_in_order(&self) -> u64 {
        self.base
    }

    /// The next arrived item not yet taken (arrival order).
    pub(crate) fn next_arrival(&mut self) -> Option<u64> {
        while let Some(&i) = self.arrivals.front() {
            if i >= self.base && !matches!(self.slots[(i - self.base) as usize], Slot::Taken) {
                return Some(i);
            }
            self.arrivals.pop_front();
        }
        None
    }

    /// Takes item `index` out (it must be final).
    pub(crate) fn take(&mut self, index: u64) -> Result<R, RemoteError> {
        let slot = std::mem::replace(self.slot(index), Slot::Taken);
        let outcome = match slot {
            Slot::Ready(v) => Ok(v),
            Slot::Failed => Err(self
                .errors
                .remove(&index)
                .expect("a failed slot has its error")),
            Slot::Pending | Slot::Taken => unreachable!("take of an item that is not ready"),
        };
        while matches!(self.slots.front(), Some(Slot::Taken)) {
            self.slots.pop_front();
            self.base += 1;
        }
        outcome
    }

    /// Item `index`'s outcome (it must be final), cloned and left in place; `None` if it was
    /// taken out already.
    pub(crate) fn peek(&self, index: u64) -> Option<Result<R, RemoteError>>
    where
        R: Clone,
    {
        let slot = index
            .checked_sub(self.base)
            .and_then(|k| self.slots.get(k as usize))?;
        match slot {
            Slot::Ready(v) => Some(Ok(v.clone())),
            Slot::Failed => Some(Err(self.errors[&index].clone())),
            Slot::Taken => None,
            Slot::Pending => unreachable!("peek of an item that is not ready"),
        }
    }

    /// The index of the `k`-th item whose outcome arrived (kept for maps read in arrival
    /// order), while nothing was taken out.
    pub(crate) fn arrival(&self, k: usize) -> Option<u64> {
        self.arrivals.get(k).copied()
    }

    /// Every item's outcome in input order, without taking (`R: Clone`).
    pub(crate) fn each(&self) -> Vec<Result<R, RemoteError>>
    where
        R: Clone,
    {
        self.slots
            .iter()
            .enumerate()
            .map(|(k, s)| match s {
                Slot::Ready(v) => Ok(v.clone()),
                Slot::Failed => Err(self.errors[&(self.base + k as u64)].clone()),
                Slot::Pending | Slot::Taken => {
                    unreachable!("each() on an incomplete or consumed map")
                }
            })
            .collect()
    }

    /// Every value in input order, or all remote errors together.
    pub(crate) fn values(&self) -> Result<Vec<R>, Error>
    where
        R: Clone,
    {
        if !self.errors.is_empty() {
            return Err(Error::Remote(RemoteErrors(
                self.errors.values().cloned().collect(),
            )));
        }
        Ok(self
            .slots
            .iter()
            .map(|s| match s {
                Slot::Ready(v) => v.clone(),
                _ => unreachable!("values() on an incomplete or consumed map"),
            })
            .collect())
    }

    /// Takes every item out at once, in input order: the values, and the failures (every item
    /// must be final).
    pub(crate) fn take_all(&mut self) -> (Vec<R>, Vec<RemoteError>) {
        let mut values = Vec::with_capacity(self.slots.len());
        let base = self.base;
        for (k, slot) in self.slots.iter_mut().enumerate() {
            match std::mem::replace(slot, Slot::Taken) {
                Slot::Ready(v) => values.push(v),
                Slot::Failed => {}
                Slot::Pending | Slot::Taken => unreachable!(
                    "take_all() on an incomplete or consumed map (item {})",
                    base + k as u64
                ),
            }
        }
        self.base += self.slots.len() as u64;
        self.slots.clear();
        self.arrivals.clear();
        let errors = std::mem::take(&mut self.errors).into_values().collect();
        (values, errors)
    }

    /// Whether anything was taken out already.
    pub(crate) fn consumed(&self) -> bool {
        self.base > 0 || self.slots.iter().any(|s| matches!(s, Slot::Taken))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::{Call, RemoteErrorKind};

    fn failure(item: u64) -> RemoteError {
        RemoteError {
            engine: 1,
            call: Call::Map,
            function: "f".into(),
            kind: RemoteErrorKind::Failed,
            message: "no".into(),
            item: Some(item),
        }
    }

    #[test]
    fn values_in_order_and_errors_in_place() {
        let mut s = Store::new(false);
        s.add(3);
        s.set_ready(2, "c");
        s.set_failed(failure(1));
        assert!(!s.is_final(0) && s.is_final(1) && s.is_final(2));
        s.set_ready(0, "a");
        assert_eq!(s.done, 3);
        let each = s.each();
        assert_eq!(each[0], Ok("a"));
        assert_eq!(each[1].as_ref().unwrap_err().item, Some(1));
        assert!(s.values().unwrap_err().to_string().contains("item 1"));
    }

    #[test]
    fn taking_frees_the_front_and_arrivals_skip_taken_items() {
        let mut s = Store::new(true);
        s.add(4);
        s.set_ready(1, 10);
        s.set_ready(0, 0);
        assert_eq!(s.next_arrival(), Some(1));
        assert_eq!(s.take(1), Ok(10));
        assert_eq!(s.next_arrival(), Some(0));
        assert_eq!(s.take(0), Ok(0));
        assert_eq!(s.next_in_order(), 2, "both front slots are gone");
        assert_eq!(s.slots.len(), 2);
        assert_eq!(s.next_arrival(), None);
        assert!(s.consumed());
    }

    #[test]
    fn peeking_leaves_every_outcome_in_place() {
        let mut s = Store::new(true);
        s.add(3);
        s.set_ready(2, "c");
        s.set_failed(failure(0));
        assert_eq!(
            (s.arrival(0), s.arrival(1), s.arrival(2)),
            (Some(2), Some(0), None)
        );
        assert_eq!(s.peek(2), Some(Ok("c")));
        assert_eq!(s.peek(2), Some(Ok("c")), "a peek takes nothing");
        assert_eq!(s.peek(0).unwrap().unwrap_err().item, Some(0));
        s.set_ready(1, "b");
        assert_eq!(s.arrival(2), Some(1));
        assert!(!s.consumed());
        assert!(s.values().is_err(), "item 0 failed");
        assert_eq!(s.take(0).unwrap_err().item, Some(0));
        assert_eq!(s.peek(0), None, "taken out");
        assert_eq!(s.peek(1), Some(Ok("b")));
    }
}
