//! The views the controller has made: their engines, their reply gathers in flight, and the
//! reply-slot sizes they have learned.

use std::collections::VecDeque;
use std::rc::Rc;

use crate::comm::channel::RootGather;
use crate::ids::{ALL_ENGINES, EngineId, IdMap, RequestId, ViewId};
use crate::protocol::{Request, Slot};

/// What a reply slot's size is learned for: each function's results, or a kind of request.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub(crate) enum SlotKey {
    Apply(u32),
    Kind(&'static str),
}

impl SlotKey {
    pub(crate) fn of(request: &Request) -> SlotKey {
        match request {
            Request::Apply { func, .. } => SlotKey::Apply(*func),
            Request::Pull { .. } => SlotKey::Kind("pull"),
            Request::Gather { .. } => SlotKey::Kind("gather"),
            _ => SlotKey::Kind("ack"),
        }
    }
}

/// The largest slot: larger replies go point-to-point.
const MAX_SLOT: usize = 4096;
/// The gathered slots of one request take at most this much of the controller's memory; with
/// more engines, slots shrink (and more replies go point-to-point).
const MAX_GATHER_BYTES: usize = 1 << 20;

/// One view.
pub(crate) struct ViewEntry {
    pub targets: Rc<[EngineId]>,
    /// By engine id: its position in `targets` (`u32::MAX`: not a member).
    pub positions: Rc<[u32]>,
    /// Reply gathers in flight, oldest first (they complete in this order).
    pub gathers: VecDeque<(RequestId, RootGather)>,
    /// World ranks the controller rings after broadcasting on this view.
    pub wake: Vec<i32>,
    slot_sizes: IdMap<SlotKey, usize>,
}

impl ViewEntry {
    fn new(targets: Rc<[EngineId]>, n_engines: usize, wake: Vec<i32>) -> ViewEntry {
        let mut positions = vec![u32::MAX; n_engines];
        for (p, &e) in targets.iter().enumerate() {
            positions[e] = p as u32;
        }
        ViewEntry {
            targets,
            positions: positions.into(),
            gathers: VecDeque::new(),
            wake,
            slot_sizes: IdMap::default(),
        }
    }

    /// The reply slot for a request of this kind: what was learned, within the bounds.
    pub(crate) fn slot_size(&self, key: SlotKey) -> usize {
        let cap = (MAX_GATHER_BYTES / (self.targets.len() + 1)) & !7;
        let learned = self.slot_sizes.get(&key).copied().unwrap_or(Slot::MIN);
        learned.min(cap.clamp(Slot::MIN, MAX_SLOT))
    }

    /// A reply of `bytes` did not fit its slot: make the next ones large enough (up to the
    /// largest slot).
    pub(crate) fn learn(&mut self, key: SlotKey, bytes: usize) {
        let size = (bytes + Slot::HEADER).next_power_of_two().min(MAX_SLOT);
        let entry = self.slot_sizes.entry(key).or_insert(Slot::MIN);
        *entry = (*entry).max(size);
    }
}

/// Every view, by id and by target list.
pub(crate) struct Views {
    by_targets: IdMap<Rc<[EngineId]>, ViewId>,
    entries: IdMap<ViewId, ViewEntry>,
    next: ViewId,
    n_engines: usize,
}

impl Views {
    /// The table with the all-engines view (`all`), whose wake tree starts at `wake`.
    pub(crate) fn new(all: Rc<[EngineId]>, wake: Vec<i32>) -> Views {
        let n_engines = all.len();
        let mut views = Views {
            by_targets: IdMap::default(),
            entries: IdMap::default(),
            next: ALL_ENGINES,
            n_engines,
        };
        views.add(all, wake);
        views
    }

    /// The view of exactly these engines in this order, if it was made.
    pub(crate) fn find(&self, targets: &[EngineId]) -> Option<ViewId> {
        self.by_targets.get(targets).copied()
    }

    /// The id the next view will get.
    pub(crate) fn next_id(&self) -> ViewId {
        self.next
    }

    /// Adds a view; its id.
    pub(crate) fn add(&mut self, targets: Rc<[EngineId]>, wake: Vec<i32>) -> ViewId {
        let id = self.next;
        self.next += 1;
        self.by_targets.insert(targets.clone(), id);
        self.entries
            .insert(id, ViewEntry::new(targets, self.n_engines, wake));
        id
    }

    pub(crate) fn get(&self, view: ViewId) -> &ViewEntry {
        &self.entries[&view]
    }

    pub(crate) fn get_mut(&mut self, view: ViewId) -> &mut ViewEntry {
        self.entries.get_mut(&view).expect("a known view")
    }

    /// Every view with reply gathers in flight.
    pub(crate) fn with_gathers(&self) -> Vec<ViewId> {
        self.entries
            .iter()
            .filter(|(_, e)| !e.gathers.is_empty())
            .map(|(&v, _)| v)
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn slots_grow_with_what_they_learn_within_bounds() {
        let mut views = Views::new((0..4).collect(), Vec::new());
        let v = views.get_mut(ALL_ENGINES);
        let key = SlotKey::Apply(3);
        assert_eq!(v.slot_size(key), Slot::MIN);
        v.learn(key, 100);
        assert_eq!(v.slot_size(key), 128);
        v.learn(key, 60);
        assert_eq!(v.slot_size(key), 128, "never shrinks");
        v.learn(key, 1 << 20);
        assert_eq!(v.slot_size(key), MAX_SLOT);
        assert_eq!(v.slot_size(SlotKey::Kind("ack")), Slot::MIN);
        // Ten thousand engines: slots stay small enough for the gather buffer.
        let mut big = Views::new((0..10_000).collect(), Vec::new());
        let v = big.get_mut(ALL_ENGINES);
        v.learn(key, 1000);
        assert_eq!(v.slot_size(key), 104);
        assert_eq!(v.positions[9_999], 9_999);
        let sub = big.add(Rc::from(vec![7, 3]), Vec::new());
        assert_eq!(big.find(&[7, 3]), Some(sub));
        assert_eq!(big.find(&[3, 7]), None);
        assert_eq!(big.get(sub).positions[3], 1);
        assert_eq!(big.get(sub).positions[0], u32::MAX);
    }
}
