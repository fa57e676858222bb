//! Which engine gets the next chunk (pure logic, tested without MPI).
//!
//! Least-loaded first: among the engines a job may use, the one with the fewest chunks in
//! flight, as long as it has fewer than `prefetch` (2 by default: while an engine runs one chunk
//! the next is already queued on it, so it never waits for the controller between tasks). Ties
//! go to the engine that has waited longest at that load, so equal engines share work evenly. A
//! slow engine finishes fewer chunks, so it is offered fewer.
//!
//! A job that may use every engine (a load-balanced view of the whole cluster) picks in constant
//! time: engines wait in one queue per load level. A job on a subset of the engines scans its
//! subset.

use std::collections::VecDeque;

use crate::ids::EngineId;

/// Chunks in flight per engine.
#[derive(Debug, Clone)]
pub(crate) struct Scheduler {
    in_flight: Vec<usize>,
    prefetch: usize,
    /// By load level below `prefetch`: engines at that load, oldest first, with the stamp they
    /// had when they entered (an entry whose stamp is old is stale and skipped).
    levels: Vec<VecDeque<(EngineId, u32)>>,
    stamps: Vec<u32>,
    /// Engines with room (load below `prefetch`).
    with_room: usize,
    /// Round-robin start of subset scans.
    next: usize,
}

impl Scheduler {
    pub(crate) fn new(n_engines: usize, prefetch: usize) -> Scheduler {
        let prefetch = prefetch.max(1);
        let mut levels = vec![VecDeque::new(); prefetch];
        levels[0] = (0..n_engines).map(|e| (e, 0)).collect();
        Scheduler {
            in_flight: vec![0; n_engines],
            prefetch,
            levels,
            stamps: vec![0; n_engines],
            with_room: n_engines,
            next: 0,
        }
    }

    /// Messages in flight on `engine` (the tests' view of its load).
    #[cfg(test)]
    pub(crate) fn load(&self, engine: EngineId) -> usize {
        self.in_flight[engine]
    }

    fn is_everyone(&self, allowed: &[EngineId]) -> bool {
        allowed.len() == self.in_flight.len()
    }

    /// The engine for the next chunk among `allowed`, avoiding `avoid` while another engine is
    /// possible (a retry goes elsewhere); `None` if every allowed engine is full. Call
    /// [`assign`](Self::assign) with it once the chunk is sent.
    pub(crate) fn pick(
        &mut self,
        allowed: &[EngineId],
        avoid: Option<EngineId>,
    ) -> Option<EngineId> {
        if self.is_everyone(allowed) && avoid.is_none() {
            return self.pick_any();
        }
        let n = self.in_flight.len();
        let mut best: Option<(usize, usize, EngineId)> = None; // (load, rotation distance, engine)
        let only_avoided = allowed.iter().all(|&e| Some(e) == avoid);
        for &e in allowed {
            if self.in_flight[e] >= self.prefetch || (Some(e) == avoid && !only_avoided) {
                continue;
            }
            let key = (self.in_flight[e], (e + n - self.next % n) % n, e);
            if best.is_none_or(|b| (key.0, key.1) < (b.0, b.1)) {
                best = Some(key);
            }
        }
        let engine = best?.2;
        self.next = (engine + 1) % n;
        Some(engine)
    }

    /// The least-loaded engine of all, in constant time (amortised).
    fn pick_any(&mut self) -> Option<EngineId> {
        for level in 0..self.prefetch {
            let queue = &mut self.levels[level];
            while let Some(&(e, stamp)) = queue.front() {
                if stamp == self.stamps[e] {
                    return Some(e);
                }
                queue.pop_front();
            }
        }
        None
    }

    /// Whether some engine among `allowed` could take a chunk now.
    pub(crate) fn has_room(&self, allowed: &[EngineId]) -> bool {
        if self.is_everyone(allowed) {
            return self.with_room > 0;
        }
        allowed.iter().any(|&e| self.in_flight[e] < self.prefetch)
    }

    fn set_load(&mut self, engine: EngineId, load: usize) {
        let before = self.in_flight[engine];
        self.in_flight[engine] = load;
        self.stamps[engine] = self.stamps[engine].wrapping_add(1);
        if load < self.prefetch {
            self.levels[load].push_back((engine, self.stamps[engine]));
        }
        match (before < self.prefetch, load < self.prefetch) {
            (true, false) => self.with_room -= 1,
            (false, true) => self.with_room += 1,
            _ => {}
        }
    }

    pub(crate) fn assign(&mut self, engine: EngineId) {
        self.set_load(engine, self.in_flight[engine] + 1);
    }

    pub(crate) fn complete(&mut self, engine: EngineId) {
        self.set_load(engine, self.in_flight[engine].saturating_sub(1));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn least_loaded_first_and_bounded_prefetch() {
        let mut s = Scheduler::new(3, 2);
        let all = [0, 1, 2];
        let mut picks = Vec::new();
        while let Some(e) = s.pick(&all, None) {
            s.assign(e);
            picks.push(e);
        }
        assert_eq!(
            picks,
            vec![0, 1, 2, 0, 1, 2],
            "round-robin among equals, two each"
        );
        assert!(!s.has_room(&all));
        s.complete(1);
        assert_eq!(s.pick(&all, None), Some(1));
        assert_eq!(
            s.pick(&[0, 2], None),
            None,
            "a subset view only uses its engines"
        );
    }

    #[test]
    fn picking_among_all_engines_agrees_with_the_scan() {
        // The constant-time path and the subset scan choose the same loads, whatever the order
        // of completions.
        let mut fast = Scheduler::new(4, 3);
        let mut x = 7u64;
        for _ in 0..2000 {
            x = x.wrapping_mul(6364136223846793005).wrapping_add(1);
            if !(x >> 33).is_multiple_of(3) {
                if let Some(e) = fast.pick(&[0, 1, 2, 3], None) {
                    let least = (0..4).map(|e| fast.load(e)).min().unwrap();
                    assert_eq!(fast.load(e), least, "picked a busier engine");
                    fast.assign(e);
                } else {
                    assert!((0..4).all(|e| fast.load(e) == 3));
                }
            } else {
                let busy: Vec<usize> = (0..4).filter(|&e| fast.load(e) > 0).collect();
                if !busy.is_empty() {
                    fast.complete(busy[(x >> 40) as usize % busy.len()]);
                }
            }
            assert_eq!(
                fast.has_room(&[0, 1, 2, 3]),
                (0..4).any(|e| fast.load(e) < 3)
            );
        }
    }

    #[test]
    fn retries_avoid_the_failing_engine_when_they_can() {
        let mut s = Scheduler::new(2, 2);
        assert_eq!(s.pick(&[0, 1], Some(0)), Some(1));
        s.assign(1);
        s.assign(1);
        assert_eq!(s.pick(&[0, 1], Some(0)), None, "wait for the other engine");
        assert_eq!(
            s.pick(&[0], Some(0)),
            Some(0),
            "a one-engine view retries in place"
        );
    }

    /// Event simulation of a map: engines with different speeds, tasks of random length.
    fn simulate(speeds: &[f64], tasks: &[f64], prefetch: usize) -> (Vec<usize>, Vec<f64>) {
        let n = speeds.len();
        let mut s = Scheduler::new(n, prefetch);
        let all: Vec<usize> = (0..n).collect();
        let mut queues: Vec<std::collections::VecDeque<f64>> = vec![Default::default(); n];
        let mut busy_until = vec![0.0f64; n];
        let mut done = vec![0usize; n];
        let mut next_task = 0;
        let mut now = 0.0f64;
        loop {
            while next_task < tasks.len() {
                let Some(e) = s.pick(&all, None) else { break };
                s.assign(e);
                queues[e].push_back(tasks[next_task] / speeds[e]);
                next_task += 1;
            }
            for e in 0..n {
                if busy_until[e] <= now
                    && let Some(t) = queues[e].front().copied()
                {
                    busy_until[e] = now + t;
                }
            }
            // Advance to the next completion.
            let Some((e, t)) = (0..n)
                .filter(|&e| !queues[e].is_empty())
                .map(|e| (e, busy_until[e]))
                .min_by(|a, b| a.1.total_cmp(&b.1))
            else {
                break;
            };
            now = t;
            queues[e].pop_front();
            done[e] += 1;
            s.complete(e);
        }
        (done, busy_until)
    }

    #[test]
    fn a_slow_engine_gets_fewer_tasks() {
        let tasks = vec![1.0; 300];
        let (done, _) = simulate(&[1.0, 3.0], &tasks, 2);
        assert_eq!(done.iter().sum::<usize>(), 300);
        assert!(done[1] > 2 * done[0], "the fast engine does most: {done:?}");
    }

    #[test]
    fn random_tasks_balance_within_ten_percent() {
        // 200 tasks of 0–20 ms on 2 equal engines (a fixed pseudo-random sequence).
        let mut x = 12345u64;
        let tasks: Vec<f64> = (0..200)
            .map(|_| {
                x = x
                    .wrapping_mul(6364136223846793005)
                    .wrapping_add(1442695040888963407);
                (x >> 11) as f64 / (1u64 << 53) as f64 * 0.020
            })
            .collect();
        let ideal = tasks.iter().sum::<f64>() / 2.0;
        let (_, finish) = simulate(&[1.0, 1.0], &tasks, 2);
        let makespan = finish.iter().copied().fold(0.0, f64::max);
        assert!(
            makespan <= ideal * 1.10,
            "makespan {makespan} vs ideal {ideal}"
        );
    }
}
