//! Keeping every engine's requests in the order the driver issued them, across channels.
//!
//! The controller reaches an engine on several channels: its **direct** channel (point-to-point
//! messages: load-balanced tasks, requests to a one-engine view, start-up and shutdown) and the
//! **broadcast** channel of every view of several engines it belongs to (one `MPI_Ibcast` per
//! request). MPI keeps each channel in order, but nothing orders two channels. So every message
//! carries **fences**: how many messages of which other channels the engine must have accepted
//! before this one. An engine accepts a message (puts it on its run queue) only when its fences
//! hold, and runs its queue in order; it therefore runs everything in issue order.
//!
//! The controller's side is [`Sequencer`]; the engine's is [`Acceptor`]. Both are pure logic,
//! tested here without MPI.
//!
//! **Which fences.** A message on channel X to the engines S needs, for each engine of S, every
//! message sent to it earlier. Messages on X itself are ordered by X. For another channel Y, only
//! messages sent after X's previous message matter: those before it were fenced by that previous
//! message, which the engine accepts first. So a message on X carries:
//!
//! - `View { view: Y, count }` for every other view Y that shares an engine with S and had a
//!   message since X's previous one (`count`: all of Y's messages so far); engines that are not
//!   in Y ignore it;
//! - `Direct { engine: e, count }` for every engine e of S that got a direct message since X's
//!   previous one; only e looks at it.
//!
//! The fence list is empty in the steady cases (a task stream, requests to one view), one entry
//! when a driver alternates between two views, and at worst one entry per engine of S (a
//! request to all engines right after tasks went to all of them).
//!
//! **Membership.** An engine learns that it belongs to a view when it runs the view's creation,
//! which the controller completes (every member has answered) before it sends anything on the
//! view's channel or fences on it. So a fence on a view the engine does not know names a view it
//! is not in, and is ignored.
//!
//! Messages that act on arrival and need no order (aborting queued tasks, the second phase of a
//! view's creation) travel **out of band**: they are neither counted nor fenced.

use std::collections::VecDeque;

use serde::{Deserialize, Serialize};

use crate::ids::{EngineId, IdMap, ViewId};

/// What must have been accepted before a message.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
pub(crate) enum Fence {
    /// The first `count` messages on the broadcast channel of `view` (its members wait).
    View { view: ViewId, count: u64 },
    /// The first `count` direct messages to `engine` (that engine waits).
    Direct { engine: EngineId, count: u64 },
}

/// A channel as the controller counts it.
#[derive(Clone, Copy, Debug, Default)]
struct Count {
    /// Messages sent on it.
    sent: u64,
    /// The controller's issue number of the last one (0: none yet).
    last: u64,
}

struct ViewChannel {
    count: Count,
    /// Membership by engine id.
    member: Vec<bool>,
    /// The other views that share an engine with this one.
    overlaps: Vec<ViewId>,
}

/// The controller's side: numbers every message it sends and says what each must wait for.
pub(crate) struct Sequencer {
    /// Messages issued so far, on every channel.
    issued: u64,
    direct: Vec<Count>,
    views: IdMap<ViewId, ViewChannel>,
    /// Direct messages by issue number, ascending: (issue number, engine). Entries older than an
    /// engine's latest are dropped now and then, so it holds about one per engine.
    direct_log: Vec<(u64, EngineId)>,
    /// Issue number of the last message on any view channel.
    last_view: u64,
}

impl Sequencer {
    pub(crate) fn new(n_engines: usize) -> Sequencer {
        Sequencer {
            issued: 0,
            direct: vec![Count::default(); n_engines],
            views: IdMap::default(),
            direct_log: Vec::new(),
            last_view: 0,
        }
    }

    /// Adds the broadcast channel of `view`, whose members are `engines`.
    pub(crate) fn add_view(&mut self, view: ViewId, engines: &[EngineId]) {
        let mut member = vec![false; self.direct.len()];
        for &e in engines {
            member[e] = true;
        }
        let mut overlaps = Vec::new();
        for (&other, channel) in self.views.iter_mut() {
            if engines.iter().any(|&e| channel.member[e]) {
                channel.overlaps.push(view);
                overlaps.push(other);
            }
        }
        self.views.insert(
            view,
            ViewChannel {
                count: Count::default(),
                member,
                overlaps,
            },
        );
    }

    /// Records a direct message to `engine`; the fences it carries.
    pub(crate) fn direct(&mut self, engine: EngineId) -> Vec<Fence> {
        let previous = self.direct[engine].last;
        let mut fences = Vec::new();
        if self.last_view > previous {
            for (&view, channel) in &self.views {
                if channel.count.last > previous && channel.member[engine] {
                    fences.push(Fence::View {
                        view,
                        count: channel.count.sent,
                    });
                }
            }
        }
        self.issued += 1;
        let count = &mut self.direct[engine];
        count.sent += 1;
        count.last = self.issued;
        self.direct_log.push((self.issued, engine));
        if self.direct_log.len() > 2 * self.direct.len() + 64 {
            // Only each engine's latest direct message can be fenced on.
            let direct = &self.direct;
            self.direct_log
                .retain(|&(issued, e)| direct[e].last == issued);
        }
        fences.sort_unstable();
        fences
    }

    /// Records a broadcast on `view`; the fences it carries.
    ///
    /// # Panics
    /// If `view` was not added.
    pub(crate) fn broadcast(&mut self, view: ViewId) -> Vec<Fence> {
        let channel = &self.views[&view];
        let previous = channel.count.last;
        let mut fences = Vec::new();
        if self.last_view > previous {
            for other in &channel.overlaps {
                let y = &self.views[other].count;
                if y.last > previous {
                    fences.push(Fence::View {
                        view: *other,
                        count: y.sent,
                    });
                }
            }
        }
        let start = self
            .direct_log
            .partition_point(|&(issued, _)| issued <= previous);
        for &(issued, engine) in &self.direct_log[start..] {
            if channel.member[engine] && self.direct[engine].last == issued {
                fences.push(Fence::Direct {
                    engine,
                    count: self.direct[engine].sent,
                });
            }
        }
        self.issued += 1;
        self.last_view = self.issued;
        let count = &mut self.views.get_mut(&view).expect("checked above").count;
        count.sent += 1;
        count.last = self.issued;
        fences.sort_unstable();
        fences
    }
}

/// A channel as an engine sees it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub(crate) enum Channel {
    Direct,
    View(ViewId),
}

struct Queue<M> {
    accepted: u64,
    waiting: VecDeque<(Vec<Fence>, M)>,
}

impl<M> Default for Queue<M> {
    fn default() -> Self {
        Queue {
            accepted: 0,
            waiting: VecDeque::new(),
        }
    }
}

/// The engine's side: messages as they arrive on each channel, released in issue order.
pub(crate) struct Acceptor<M> {
    me: EngineId,
    /// The direct channel first, then the views in the order this engine joined them.
    queues: Vec<(Channel, Queue<M>)>,
    /// Where each view's queue is in `queues`.
    index: IdMap<ViewId, usize>,
    /// Messages that arrived and were not yet released.
    waiting: usize,
}

impl<M> Acceptor<M> {
    pub(crate) fn new(me: EngineId) -> Acceptor<M> {
        Acceptor {
            me,
            queues: vec![(Channel::Direct, Queue::default())],
            index: IdMap::default(),
            waiting: 0,
        }
    }

    /// This engine became a member of `view`.
    pub(crate) fn add_view(&mut self, view: ViewId) {
        if !self.index.contains_key(&view) {
            self.index.insert(view, self.queues.len());
            self.queues.push((Channel::View(view), Queue::default()));
        }
    }

    /// A message arrived on `channel` (channels deliver in order).
    ///
    /// # Panics
    /// If `channel` is a view this engine was not added to.
    pub(crate) fn arrive(&mut self, channel: Channel, fences: Vec<Fence>, message: M) {
        let i = match channel {
            Channel::Direct => 0,
            Channel::View(v) => self.index[&v],
        };
        self.queues[i].1.waiting.push_back((fences, message));
        self.waiting += 1;
    }

    fn holds(&self, fence: &Fence) -> bool {
        match *fence {
            Fence::View { view, count } => self
                .index
                .get(&view)
                .is_none_or(|&i| self.queues[i].1.accepted >= count),
            Fence::Direct { engine, count } => {
                engine != self.me || self.queues[0].1.accepted >= count
            }
        }
    }

    /// The next message that may run, if any: the head of a channel whose fences hold.
    pub(crate) fn next(&mut self) -> Option<M> {
        if self.waiting == 0 {
            return None;
        }
        let ready = self.queues.iter().position(|(_, q)| {
            q.waiting
                .front()
                .is_some_and(|(fences, _)| fences.iter().all(|f| self.holds(f)))
        })?;
        let q = &mut self.queues[ready].1;
        q.accepted += 1;
        self.waiting -= 1;
        q.waiting.pop_front().map(|(_, m)| m)
    }

    /// Messages that arrived but may not run yet.
    #[cfg(test)]
    pub(crate) fn waiting(&self) -> usize {
        self.waiting
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::{RngExt, SeedableRng};
    use rand_xoshiro::Xoshiro256PlusPlus;
    use std::collections::HashMap;

    /// Issues `n` random messages (direct ones and broadcasts on `views`) to `engines` engines,
    /// delivers each channel in order but the channels interleaved at random, and checks that
    /// every engine accepts its messages in issue order, all of them.
    fn simulate(engines: usize, views: &[Vec<EngineId>], n: usize, seed: u64) {
        let mut rng = Xoshiro256PlusPlus::seed_from_u64(seed);
        let mut seq = Sequencer::new(engines);
        for (v, members) in views.iter().enumerate() {
            seq.add_view(v as ViewId, members);
        }
        // Per engine, per channel: messages (issue number, fences) in channel order.
        type Inbox = HashMap<Channel, VecDeque<(u64, Vec<Fence>)>>;
        let mut inboxes: Vec<Inbox> = vec![HashMap::new(); engines];
        let mut expected: Vec<Vec<u64>> = vec![Vec::new(); engines];
        for k in 0..n as u64 {
            if views.is_empty() || rng.random_bool(0.5) {
                let e = rng.random_range(0..engines);
                let fences = seq.direct(e);
                inboxes[e]
                    .entry(Channel::Direct)
                    .or_default()
                    .push_back((k, fences));
                expected[e].push(k);
            } else {
                let v = rng.random_range(0..views.len());
                let fences = seq.broadcast(v as ViewId);
                for &e in &views[v] {
                    inboxes[e]
                        .entry(Channel::View(v as ViewId))
                        .or_default()
                        .push_back((k, fences.clone()));
                    expected[e].push(k);
                }
            }
        }
        for (e, mut inbox) in inboxes.into_iter().enumerate() {
            let mut acceptor = Acceptor::new(e);
            for (v, members) in views.iter().enumerate() {
                if members.contains(&e) {
                    acceptor.add_view(v as ViewId);
                }
            }
            let mut got = Vec::new();
            let mut channels: Vec<Channel> = inbox.keys().copied().collect();
            channels.sort_by_key(|c| match c {
                Channel::Direct => 0,
                Channel::View(v) => 1 + u64::from(*v),
            });
            while inbox.values().any(|q| !q.is_empty()) {
                // One arrival on a random channel that still has messages.
                let open: Vec<Channel> = channels
                    .iter()
                    .copied()
                    .filter(|c| !inbox[c].is_empty())
                    .collect();
                let c = open[rng.random_range(0..open.len())];
                let (k, fences) = inbox.get_mut(&c).unwrap().pop_front().unwrap();
                acceptor.arrive(c, fences, k);
                if rng.random_bool(0.5) {
                    while let Some(k) = acceptor.next() {
                        got.push(k);
                    }
                }
            }
            while let Some(k) = acceptor.next() {
                got.push(k);
            }
            assert_eq!(acceptor.waiting(), 0, "engine {e}: messages left waiting");
            assert_eq!(got, expected[e], "engine {e} (seed {seed})");
        }
    }

    #[test]
    fn every_engine_runs_its_messages_in_issue_order() {
        for seed in 0..50 {
            simulate(1, &[vec![0]], 200, seed);
            simulate(2, &[vec![0, 1]], 200, seed);
            simulate(3, &[vec![0, 1, 2], vec![0, 2], vec![2, 1]], 300, seed);
            simulate(
                5,
                &[vec![0, 1, 2, 3, 4], vec![1, 3], vec![4, 0], vec![2]],
                400,
                seed,
            );
        }
    }

    #[test]
    fn steady_streams_carry_no_fences() {
        let mut seq = Sequencer::new(4);
        seq.add_view(0, &[0, 1, 2, 3]);
        seq.add_view(1, &[0, 1]);
        // A task stream alone, or requests to one view alone: no fences.
        for e in [0, 1, 2, 3, 0, 1] {
            assert!(seq.direct(e).is_empty());
        }
        assert_eq!(seq.broadcast(0).len(), 4, "after tasks to all four engines");
        for _ in 0..3 {
            assert!(seq.broadcast(0).is_empty());
        }
        // The first message on another view fences on the first view and on the direct
        // messages its engines got before (implied by the first view's fences, but the sequencer
        // does not look that far); then nothing more.
        assert_eq!(
            seq.broadcast(1),
            vec![
                Fence::View { view: 0, count: 4 },
                Fence::Direct {
                    engine: 0,
                    count: 2
                },
                Fence::Direct {
                    engine: 1,
                    count: 2
                },
            ]
        );
        assert!(seq.broadcast(1).is_empty());
        // A task after broadcasts: fenced on the views of its engine that had messages since its
        // last task.
        assert_eq!(seq.direct(3), vec![Fence::View { view: 0, count: 4 }]);
        assert_eq!(
            seq.direct(0),
            vec![
                Fence::View { view: 0, count: 4 },
                Fence::View { view: 1, count: 2 }
            ]
        );
        assert!(seq.direct(0).is_empty());
    }

    #[test]
    fn fences_on_unknown_views_and_other_engines_are_ignored() {
        let mut a = Acceptor::new(1);
        a.arrive(
            Channel::Direct,
            vec![
                Fence::View { view: 9, count: 5 },
                Fence::Direct {
                    engine: 0,
                    count: 3,
                },
            ],
            "x",
        );
        assert_eq!(a.next(), Some("x"));
        a.add_view(4);
        a.arrive(
            Channel::View(4),
            vec![Fence::Direct {
                engine: 1,
                count: 2,
            }],
            "y",
        );
        assert_eq!(
            a.next(),
            None,
            "waits for this engine's second direct message"
        );
        assert_eq!(a.waiting(), 1);
        a.arrive(Channel::Direct, Vec::new(), "z");
        assert_eq!(a.next(), Some("z"));
        assert_eq!(a.next(), Some("y"));
        assert_eq!(a.next(), None);
    }
}
