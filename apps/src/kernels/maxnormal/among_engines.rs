//! The statistics of samples spread over the engines, computed among the engines with MPI (on
//! [`Context::engines`](mpiview::Context::engines)): nothing per sample reaches the controller.
//!
//! **Collective**: every rank of the communicator calls each function, in the same order.

use mpi::Count;
use mpi::collective::{CommunicatorCollectives, SystemOperation};
use mpi::datatype::{Partition, PartitionMut};
use mpi::topology::{Communicator, SimpleCommunicator};

use super::Histogram;
use super::sample_sort::{bucket_counts, ks_part, regular_samples, round_buckets, splitters};

/// The sample sort's rounds: each moves about a quarter of the samples, so that what a rank
/// holds besides its own samples stays near half of them.
pub const SORT_ROUNDS: usize = 4;

/// Samples each rank offers for the splitters, per round: 64 per bucket of a rank, enough for
/// buckets within about 15% of even, few enough that every rank can hold all offers.
const OFFERS_PER_ROUND: usize = 64;

/// What [`ks_distance_among`] needs at its peak on a rank, in bytes per sample the rank holds,
/// its own samples included: its samples (8), the bucket it sends and the stretch it receives
/// in one round (8 / [`SORT_ROUNDS`] each), with room for uneven buckets (1.5×).
pub const KS_PEAK_BYTES_PER_SAMPLE: u64 = 8 + 2 * 12 / SORT_ROUNDS as u64;

/// The histogram of every rank's samples: `mine`'s counts summed over `comm` (every rank gets
/// the total).
pub fn histogram_among(comm: &SimpleCommunicator, mine: &Histogram) -> Histogram {
    let mut total = Histogram::new(mine.edges.clone());
    comm.all_reduce_into(
        &mine.counts[..],
        &mut total.counts[..],
        SystemOperation::sum(),
    );
    let outside = [mine.below, mine.above];
    let mut sums = [0u64; 2];
    comm.all_reduce_into(&outside[..], &mut sums[..], SystemOperation::sum());
    [total.below, total.above] = sums;
    total
}

/// The exact Kolmogorov–Smirnov distance of every rank's `samples` (`m` in all) to `cdf`, by a
/// sample sort in [`SORT_ROUNDS`] rounds (splitters, buckets, one sort per round; see
/// [`round_buckets`](super::round_buckets) and [`ks_part`](super::ks_part)); every rank gets
/// it. Equal, bit for bit, to [`ks_distance`](super::ks_distance) of all the samples in one
/// place. Besides `samples`, a rank holds one round's bucket to send and stretch received:
/// about half as much again (see [`KS_PEAK_BYTES_PER_SAMPLE`]).
///
/// # Panics
/// Panics if a sample is NaN, or a rank would receive 2³¹ samples or more in one round.
pub fn ks_distance_among(
    comm: &SimpleCommunicator,
    samples: &[f64],
    m: u64,
    cdf: impl Fn(f64) -> f64,
) -> f64 {
    assert!(
        samples.iter().all(|v| !v.is_nan()),
        "ks_distance_among: NaN sample"
    );
    let parts = comm.size() as usize;

    // Splitters: every rank gets every rank's offers and picks the same ones.
    let offers = regular_samples(samples, OFFERS_PER_ROUND * SORT_ROUNDS);
    let offered_counts = all_counts(comm, offers.len());
    let mut offered = vec![0.0; offered_counts.iter().map(|&c| c as usize).sum()];
    let displs = displacements(&offered_counts);
    comm.all_gather_varcount_into(
        &offers[..],
        &mut PartitionMut::new(&mut offered[..], &offered_counts[..], &displs[..]),
    );
    let cut = splitters(offered, parts * SORT_ROUNDS);

    let counts = bucket_counts(samples, &cut);
    let (mut largest_here, mut before) = (0.0f64, 0u64);
    for round in 0..SORT_ROUNDS {
        let stretch = receive_stretch(comm, samples, &cut, &counts, round);
        // Where this rank's stretch starts among all samples.
        let held = stretch.len() as u64;
        let mut below = 0u64;
        comm.exclusive_scan_into(&held, &mut below, SystemOperation::sum());
        if comm.rank() == 0 {
            // MPI leaves rank 0's exclusive scan undefined.
            below = 0;
        }
        largest_here = largest_here.max(ks_part(&stretch, before + below, m, &cdf));
        let mut in_round = 0u64;
        comm.all_reduce_into(&held, &mut in_round, SystemOperation::sum());
        before += in_round;
    }
    let mut largest = 0.0f64;
    comm.all_reduce_into(&largest_here, &mut largest, SystemOperation::max());
    largest
}

/// Round `round` of the sample sort: every rank sends bucket `j` of the round to rank `j`
/// and gets back its stretch of the globally sorted samples, sorted.
fn receive_stretch(
    comm: &SimpleCommunicator,
    samples: &[f64],
    cut: &[f64],
    counts: &[usize],
    round: usize,
) -> Vec<f64> {
    let parts = comm.size() as usize;
    let (buckets, starts) = round_buckets(samples, cut, counts, parts, round);
    let send_counts: Vec<Count> = starts.windows(2).map(|w| count(w[1] - w[0])).collect();
    let send_displs: Vec<Count> = starts[..parts].iter().map(|&s| count(s)).collect();
    let mut recv_counts: Vec<Count> = vec![0; parts];
    comm.all_to_all_into(&send_counts[..], &mut recv_counts[..]);
    let recv_displs = displacements(&recv_counts);
    let mut mine = vec![0.0; recv_counts.iter().map(|&c| c as usize).sum()];
    comm.all_to_all_varcount_into(
        &Partition::new(&buckets[..], &send_counts[..], &send_displs[..]),
        &mut PartitionMut::new(&mut mine[..], &recv_counts[..], &recv_displs[..]),
    );
    drop(buckets);
    mine.sort_unstable_by(f64::total_cmp);
    mine
}

/// Every rank's `n`, by rank.
fn all_counts(comm: &SimpleCommunicator, n: usize) -> Vec<Count> {
    let mut all = vec![0 as Count; comm.size() as usize];
    comm.all_gather_into(&count(n), &mut all[..]);
    all
}

/// Where each rank's part starts, from the parts' lengths.
fn displacements(counts: &[Count]) -> Vec<Count> {
    counts
        .iter()
        .scan(0 as Count, |at, &c| {
            let start = *at;
            *at += c;
            Some(start)
        })
        .collect()
}

fn count(n: usize) -> Count {
    Count::try_from(n).expect("ks_distance_among: a rank holds 2^31 samples or more")
}
