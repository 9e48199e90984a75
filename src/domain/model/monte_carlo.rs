//! Propagation of distributions by the Monte Carlo method of JCGM 101:2008 (GUM Supplement 1).
//!
//! - Inputs are drawn from the distributions of JCGM 101 6.4 as DESIGN 5b assigns them
//!   ([`Draw`]); correlated inputs from one multivariate Gaussian (6.4.8).
//! - Generator: ChaCha12 (`rand::rngs::ChaCha12Rng`, the algorithm of rand's `StdRng`, but named
//!   so that it is portable and reproducible across platforms and rand releases). The trials are
//!   cut into chunks of [`CHUNK`]; chunk c draws from the generator seeded with the request's seed
//!   and set to stream c. A chunk's values therefore depend only on (seed, c), whichever thread
//!   computes it and in whatever order: the same seed gives the same bytes, on one core or two.
//! - The model is evaluated in blocks of [`BLOCK`] trials by the compiled program
//!   ([`Program::eval_block`]); nothing is allocated per trial.
//! - Results per JCGM 101 7.5–7.7: y the mean, u(y) the standard deviation of the model values,
//!   the probabilistically symmetric (7.7.1) or shortest (7.7.2) coverage interval; the adaptive
//!   procedure of 7.9.4; the validation of the GUM result of 8.2.

use rand::rngs::ChaCha12Rng;
use rand::{RngExt, SeedableRng};
use rand_distr::{Distribution, StandardNormal, StudentT};

use super::compile::Program;

/// Trials per generator stream, and per batch of the adaptive procedure (JCGM 101 7.9.4 b).
pub const CHUNK: usize = 10_000;
/// Trials evaluated together by the compiled program.
pub const BLOCK: usize = 256;
/// The most trials a request may cost (fixed or adaptive).
pub const MAX_TRIALS: usize = 10_000_000;
pub const MIN_TRIALS: usize = 10_000;
/// Below this many trials one thread is faster than starting a second.
const PARALLEL_FROM: usize = 40_000;
/// Interior bins of the histogram.
const BINS: usize = 100;

/// How one input is drawn (JCGM 101 6.4).
#[derive(Debug, Clone)]
pub enum Draw {
    /// An exact constant.
    Fixed(f64),
    /// N(mean, sd²), 6.4.7.
    Gaussian { mean: f64, sd: f64 },
    /// mean + scale·t_ν, 6.4.9.
    T {
        mean: f64,
        scale: f64,
        t: StudentT<f64>,
    },
    /// R(mean − a, mean + a), 6.4.2.
    Rectangular { mean: f64, half_width: f64 },
    /// Symmetric triangular on [mean − a, mean + a], 6.4.5.
    Triangular { mean: f64, half_width: f64 },
    /// Arcsine (U-shaped) on [mean − a, mean + a], 6.4.6.
    Arcsine { mean: f64, half_width: f64 },
    /// Drawn with the correlated group.
    Grouped,
}

/// Correlated inputs: x = mean + F·z with z standard normal and F·Fᵀ the covariance matrix.
#[derive(Debug, Clone)]
pub struct Group {
    pub members: Vec<usize>,
    pub means: Vec<f64>,
    /// m × m, row-major.
    pub factor: Vec<f64>,
}

#[derive(Debug, Clone)]
pub struct Setup {
    pub program: Program,
    pub draws: Vec<Draw>,
    /// The order inputs are drawn in (by name, so that listing the inputs in another order
    /// draws the same numbers for each).
    pub order: Vec<usize>,
    pub group: Option<Group>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Trials {
    Fixed(usize),
    Adaptive { significant_digits: u8 },
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum IntervalKind {
    Symmetric,
    Shortest,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Outcome {
    pub trials: usize,
    pub converged: bool,
    pub estimate: f64,
    pub standard_uncertainty: f64,
    pub low: f64,
    pub high: f64,
    pub edges: Vec<f64>,
    pub counts: Vec<u64>,
}

/// The model was not finite in `bad` of `trials` trials.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct NotFinite {
    pub bad: usize,
    pub trials: usize,
}

struct Scratch {
    x: Vec<f64>,
    z: Vec<f64>,
    regs: Vec<f64>,
}

impl Scratch {
    fn new(setup: &Setup) -> Scratch {
        Scratch {
            x: vec![0.0; setup.draws.len() * BLOCK],
            z: vec![0.0; setup.group.as_ref().map_or(0, |g| g.members.len())],
            regs: vec![0.0; setup.program.ops.len() * BLOCK],
        }
    }
}

fn fill_block(setup: &Setup, rng: &mut ChaCha12Rng, n: usize, scratch: &mut Scratch) {
    for &i in &setup.order {
        let draw = &setup.draws[i];
        let x = &mut scratch.x[i * BLOCK..i * BLOCK + n];
        match draw {
            Draw::Fixed(v) => x.fill(*v),
            Draw::Gaussian { mean, sd } => {
                for v in x {
                    let z: f64 = StandardNormal.sample(rng);
                    *v = mean + sd * z;
                }
            }
            Draw::T { mean, scale, t } => {
                for v in x {
                    *v = mean + scale * t.sample(rng);
                }
            }
            Draw::Rectangular { mean, half_width } => {
                for v in x {
                    let r: f64 = rng.random();
                    *v = mean + half_width * (2.0 * r - 1.0);
                }
            }
            Draw::Triangular { mean, half_width } => {
                for v in x {
                    let r1: f64 = rng.random();
                    let r2: f64 = rng.random();
                    *v = mean + half_width * (r1 + r2 - 1.0);
                }
            }
            Draw::Arcsine { mean, half_width } => {
                for v in x {
                    let r: f64 = rng.random();
                    *v = mean + half_width * (std::f64::consts::TAU * r).sin();
                }
            }
            Draw::Grouped => {}
        }
    }
    if let Some(group) = &setup.group {
        let m = group.members.len();
        for t in 0..n {
            for z in scratch.z.iter_mut() {
                *z = StandardNormal.sample(rng);
            }
            for (row, &input) in group.members.iter().enumerate() {
                let f = &group.factor[row * m..(row + 1) * m];
                let dot: f64 = f.iter().zip(&scratch.z).map(|(a, b)| a * b).sum();
                scratch.x[input * BLOCK + t] = group.means[row] + dot;
            }
        }
    }
}

/// Fills `out` with the model values of chunk `chunk`; returns how many are not finite.
fn simulate_chunk(
    setup: &Setup,
    seed: u64,
    chunk: u64,
    out: &mut [f64],
    scratch: &mut Scratch,
) -> usize {
    let mut rng = ChaCha12Rng::seed_from_u64(seed);
    rng.set_stream(chunk);
    let mut bad = 0;
    for block in out.chunks_mut(BLOCK) {
        let n = block.len();
        fill_block(setup, &mut rng, n, scratch);
        setup
            .program
            .eval_block(&scratch.x, BLOCK, n, &mut scratch.regs, block);
        bad += block.iter().filter(|v| !v.is_finite()).count();
    }
    bad
}

/// Model values for chunks `first_chunk..` into `out` (its length a multiple of CHUNK except
/// the last chunk), on two threads when it pays. Returns the count of non-finite values.
fn simulate(setup: &Setup, seed: u64, first_chunk: u64, out: &mut [f64]) -> usize {
    let threads = std::thread::available_parallelism()
        .map(|n| n.get())
        .unwrap_or(1)
        .min(2);
    if threads < 2 || out.len() < PARALLEL_FROM {
        let mut scratch = Scratch::new(setup);
        return out
            .chunks_mut(CHUNK)
            .enumerate()
            .map(|(c, o)| simulate_chunk(setup, seed, first_chunk + c as u64, o, &mut scratch))
            .sum();
    }
    let mut even = Vec::new();
    let mut odd = Vec::new();
    for (c, o) in out.chunks_mut(CHUNK).enumerate() {
        if c % 2 == 0 {
            even.push((first_chunk + c as u64, o));
        } else {
            odd.push((first_chunk + c as u64, o));
        }
    }
    let run = |work: Vec<(u64, &mut [f64])>| {
        let mut scratch = Scratch::new(setup);
        work.into_iter()
            .map(|(c, o)| simulate_chunk(setup, seed, c, o, &mut scratch))
            .sum::<usize>()
    };
    std::thread::scope(|s| {
        let other = s.spawn(|| run(odd));
        let mine = run(even);
        mine + other.join().expect("a Monte Carlo thread panicked")
    })
}

/// Mean and standard deviation (n − 1) of finite values, two-pass.
fn mean_sd(values: &[f64]) -> (f64, f64) {
    let n = values.len() as f64;
    let mean = values.iter().sum::<f64>() / n;
    let ss: f64 = values.iter().map(|v| (v - mean) * (v - mean)).sum();
    (mean, (ss / (n - 1.0)).sqrt())
}

/// JCGM 101 7.7.1: q = pM when an integer, else ⌊pM + 1/2⌋.
fn interval_count(p: f64, m: usize) -> usize {
    let pm = p * m as f64;
    let q = if pm == pm.trunc() {
        pm
    } else {
        (pm + 0.5).floor()
    };
    (q as usize).clamp(1, m - 1)
}

/// Coverage interval of sorted values (JCGM 101 7.7): indices are 1-based there.
pub fn coverage_interval(sorted: &[f64], p: f64, kind: IntervalKind) -> (f64, f64) {
    let m = sorted.len();
    let q = interval_count(p, m);
    match kind {
        IntervalKind::Symmetric => {
            // r = (M − q)/2 when M − q is even, (M − q + 1)/2 otherwise
            let r = (m - q).div_ceil(2).max(1);
            let r = r.min(m - q);
            (sorted[r - 1], sorted[r + q - 1])
        }
        IntervalKind::Shortest => {
            let mut best = 1;
            let mut width = f64::INFINITY;
            for r in 1..=m - q {
                let w = sorted[r + q - 1] - sorted[r - 1];
                if w < width {
                    width = w;
                    best = r;
                }
            }
            (sorted[best - 1], sorted[best + q - 1])
        }
    }
}

/// JCGM 101 7.9.2: δ = ½·10^l where u = c·10^l with c an integer of `digits` digits.
pub fn numerical_tolerance(u: f64, digits: u8) -> f64 {
    if !(u.is_finite() && u > 0.0) {
        return 0.0;
    }
    let mut l = u.log10().floor() as i32 - (i32::from(digits) - 1);
    if (u / 10f64.powi(l)).round() >= 10f64.powi(i32::from(digits)) {
        l += 1;
    }
    0.5 * 10f64.powi(l)
}

fn histogram(sorted: &[f64]) -> (Vec<f64>, Vec<u64>) {
    let m = sorted.len();
    let (min, max) = (sorted[0], sorted[m - 1]);
    let quantile = |f: f64| sorted[((f * (m - 1) as f64).round() as usize).min(m - 1)];
    let (a, b) = (quantile(0.0005), quantile(0.9995));
    let mut edges = Vec::with_capacity(BINS + 3);
    if max - min <= 1.5 * (b - a) || b <= a {
        for k in 0..=BINS {
            edges.push(min + (max - min) * k as f64 / BINS as f64);
        }
    } else {
        // Long tails (t with few degrees of freedom): equal bins over the central 99.9 %,
        // and one bin on each side out to the extreme values.
        if min < a {
            edges.push(min);
        }
        for k in 0..=BINS {
            edges.push(a + (b - a) * k as f64 / BINS as f64);
        }
        if max > b {
            edges.push(max);
        }
    }
    if let Some(last) = edges.last_mut() {
        *last = max;
    }
    edges[0] = min;
    let mut counts = vec![0u64; edges.len().saturating_sub(1).max(1)];
    let mut bin = 0;
    for &v in sorted {
        while bin + 1 < counts.len() && v >= edges[bin + 1] {
            bin += 1;
        }
        counts[bin] += 1;
    }
    (edges, counts)
}

fn summarise(values: &mut [f64], p: f64, kind: IntervalKind, converged: bool) -> Outcome {
    let (estimate, standard_uncertainty) = mean_sd(values);
    values.sort_unstable_by(f64::total_cmp);
    let (low, high) = coverage_interval(values, p, kind);
    let (edges, counts) = histogram(values);
    Outcome {
        trials: values.len(),
        converged,
        estimate,
        standard_uncertainty,
        low,
        high,
        edges,
        counts,
    }
}

/// Runs the Monte Carlo method: fixed trials, or the adaptive procedure of JCGM 101 7.9.4
/// (batches of max(10⁴, 100/(1 − p)) trials until twice the standard deviation of the batch
/// means of y, u(y) and both interval ends is within the numerical tolerance of u(y); at most
/// [`MAX_TRIALS`], `converged` false when that was reached first).
pub fn run(
    setup: &Setup,
    trials: Trials,
    seed: u64,
    p: f64,
    kind: IntervalKind,
) -> Result<Outcome, NotFinite> {
    match trials {
        Trials::Fixed(m) => {
            let mut values = vec![0.0; m];
            let bad = simulate(setup, seed, 0, &mut values);
            if bad > 0 {
                return Err(NotFinite { bad, trials: m });
            }
            Ok(summarise(&mut values, p, kind, true))
        }
        Trials::Adaptive { significant_digits } => {
            run_adaptive(setup, seed, p, kind, significant_digits)
        }
    }
}

/// The adaptive procedure of JCGM 101 7.9.4: batch after batch until the batch statistics
/// are stable to `significant_digits` of u(y), or [`MAX_TRIALS`] would be passed.
fn run_adaptive(
    setup: &Setup,
    seed: u64,
    p: f64,
    kind: IntervalKind,
    significant_digits: u8,
) -> Result<Outcome, NotFinite> {
    let batch = batch_size(p);
    let chunks_per_batch = (batch / CHUNK) as u64;
    let mut values: Vec<f64> = Vec::new();
    let mut batches = BatchStatistics::new(batch);
    let mut converged = false;
    while values.len() + batch <= MAX_TRIALS {
        let start = values.len();
        values.resize(start + batch, 0.0);
        let first_chunk = batches.count() as u64 * chunks_per_batch;
        let bad = simulate(setup, seed, first_chunk, &mut values[start..]);
        if bad > 0 {
            return Err(NotFinite {
                bad,
                trials: values.len(),
            });
        }
        batches.record(&values[start..], p, kind);
        if batches.stabilised(values.len(), significant_digits) {
            converged = true;
            break;
        }
    }
    Ok(summarise(&mut values, p, kind, converged))
}

/// JCGM 101 7.9.4 b: J = max(100/(1 − p), 10⁴) trials per batch.
fn batch_size(p: f64) -> usize {
    let j = (100.0 / (1.0 - p)).ceil();
    if j.is_finite() && j > CHUNK as f64 {
        // whole chunks, so that each batch starts a fresh stream
        ((j as usize).div_ceil(CHUNK) * CHUNK).min(MAX_TRIALS)
    } else {
        CHUNK
    }
}

/// What the adaptive procedure keeps of the batches so far (JCGM 101 7.9.4).
struct BatchStatistics {
    /// y, u(y), y_low and y_high of each batch.
    per_batch: Vec<[f64; 4]>,
    /// A batch's values sorted for its coverage interval; reused, allocated once.
    sorted: Vec<f64>,
    /// Running sums about the first batch's mean, so that u(y) of all values so far costs
    /// nothing per batch (recomputing it would make 10³ batches quadratic).
    shift: f64,
    s1: f64,
    s2: f64,
}

impl BatchStatistics {
    fn new(batch: usize) -> BatchStatistics {
        BatchStatistics {
            per_batch: Vec::new(),
            sorted: Vec::with_capacity(batch),
            shift: f64::NAN,
            s1: 0.0,
            s2: 0.0,
        }
    }

    fn count(&self) -> usize {
        self.per_batch.len()
    }

    /// The estimate, standard uncertainty and coverage interval of one batch.
    #[inline]
    fn record(&mut self, batch: &[f64], p: f64, kind: IntervalKind) {
        let (y, u) = mean_sd(batch);
        if self.shift.is_nan() {
            self.shift = y;
        }
        for v in batch {
            let d = v - self.shift;
            self.s1 += d;
            self.s2 += d * d;
        }
        self.sorted.clear();
        self.sorted.extend_from_slice(batch);
        self.sorted.sort_unstable_by(f64::total_cmp);
        let (lo, hi) = coverage_interval(&self.sorted, p, kind);
        self.per_batch.push([y, u, lo, hi]);
    }

    /// JCGM 101 7.9.4: twice the standard deviation of the batch means of y, u(y), y_low and
    /// y_high each within the numerical tolerance (7.9.2) of u(y) of all `n` values so far.
    #[inline]
    fn stabilised(&self, n: usize, significant_digits: u8) -> bool {
        let stats = &self.per_batch;
        if stats.len() < 2 {
            return false;
        }
        let hn = stats.len() as f64;
        let n = n as f64;
        let (s1, s2) = (self.s1, self.s2);
        let u_all = ((s2 - s1 * s1 / n) / (n - 1.0)).max(0.0).sqrt();
        let delta = numerical_tolerance(u_all, significant_digits);
        (0..4).all(|k| {
            let mean = stats.iter().map(|s| s[k]).sum::<f64>() / hn;
            let var = stats.iter().map(|s| (s[k] - mean).powi(2)).sum::<f64>() / (hn * (hn - 1.0));
            2.0 * var.sqrt() <= delta
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn intervals_follow_jcgm_101_indices() {
        let sorted: Vec<f64> = (1..=100).map(f64::from).collect();
        // q = 95, M − q = 5 odd → r = 3: y(3) and y(98)
        assert_eq!(
            coverage_interval(&sorted, 0.95, IntervalKind::Symmetric),
            (3.0, 98.0)
        );
        // q = 90, r = 5: y(5), y(95)
        assert_eq!(
            coverage_interval(&sorted, 0.90, IntervalKind::Symmetric),
            (5.0, 95.0)
        );
        let skewed: Vec<f64> = (0..100).map(|i| f64::from(i).powi(2)).collect();
        let (lo, hi) = coverage_interval(&skewed, 0.9, IntervalKind::Shortest);
        // q = 90: windows y(r)..y(r + 90); the first, [0, 90²], is the shortest.
        assert_eq!((lo, hi), (0.0, 8100.0));
    }

    #[test]
    fn tolerance_of_two_significant_digits() {
        assert!((numerical_tolerance(2.0, 2) - 0.05).abs() < 1e-15);
        assert!((numerical_tolerance(0.0539, 2) - 0.0005).abs() < 1e-15);
        assert!((numerical_tolerance(0.0539, 1) - 0.005).abs() < 1e-15);
        assert!((numerical_tolerance(0.0999, 2) - 0.005).abs() < 1e-15);
        assert!((numerical_tolerance(31.66, 2) - 0.5).abs() < 1e-15);
    }

    /// Two threads compute exactly what one computes chunk by chunk: a chunk's numbers depend
    /// only on the seed and the chunk's index.
    #[test]
    fn two_threads_give_the_bytes_of_one() {
        use crate::domain::model::compile::{compile, InputScale};
        use crate::domain::model::parser::parse;
        use crate::domain::quantity::Dimension;
        let one = InputScale {
            dimension: Dimension::DIMENSIONLESS,
            factor: 1.0,
            offset: 0.0,
        };
        let names = ["a", "b", "c"];
        let program = compile(
            &parse("a * exp(b) / (2 + c^2)").unwrap(),
            &names,
            &[one; 3],
            Dimension::DIMENSIONLESS,
            1.0,
        )
        .unwrap();
        let setup = Setup {
            program,
            draws: vec![
                Draw::Gaussian { mean: 1.0, sd: 0.1 },
                Draw::T {
                    mean: 0.0,
                    scale: 0.2,
                    t: StudentT::new(4.0).unwrap(),
                },
                Draw::Arcsine {
                    mean: 0.5,
                    half_width: 0.3,
                },
            ],
            order: vec![0, 1, 2],
            group: None,
        };
        let m = 5 * CHUNK + 1234;
        let mut parallel = vec![0.0; m];
        assert_eq!(simulate(&setup, 99, 0, &mut parallel), 0);
        let mut sequential = vec![0.0; m];
        let mut scratch = Scratch::new(&setup);
        for (c, out) in sequential.chunks_mut(CHUNK).enumerate() {
            simulate_chunk(&setup, 99, c as u64, out, &mut scratch);
        }
        assert!(parallel
            .iter()
            .zip(&sequential)
            .all(|(a, b)| a.to_bits() == b.to_bits()));
        let mut other_seed = vec![0.0; m];
        simulate(&setup, 100, 0, &mut other_seed);
        assert_ne!(parallel, other_seed);
    }

    #[test]
    fn histogram_counts_every_value() {
        let sorted: Vec<f64> = (0..10_000).map(|i| f64::from(i) / 10.0).collect();
        let (edges, counts) = histogram(&sorted);
        assert_eq!(edges.len(), counts.len() + 1);
        assert_eq!(counts.iter().sum::<u64>(), 10_000);
        let mut tailed = sorted.clone();
        tailed.push(1e9);
        tailed.insert(0, -1e9);
        let (edges, counts) = histogram(&tailed);
        assert_eq!(edges.len(), counts.len() + 1);
        assert_eq!(counts.iter().sum::<u64>(), 10_002);
        assert_eq!(edges[0], -1e9);
        assert_eq!(*edges.last().unwrap(), 1e9);
        assert!(edges.windows(2).all(|w| w[0] <= w[1]));
    }
}
