//! 10⁶ Monte Carlo trials of a nonlinear five-input model (issue 17): the engine
//! (`evaluate_model`, method `monte_carlo`: request checked, model compiled, inputs drawn,
//! the program evaluated in blocks, mean, u(y), sorted for the interval, histogram) against a
//! hand-written Rust loop of the same model with the same generator and samplers (ChaCha12,
//! one stream per 10 000 trials, rand_distr's normal and t; the same summary: mean, standard
//! deviation, sort, symmetric 95 % interval), on one thread and on two as the engine runs.
//!
//! cargo run --release --example monte_carlo_bench [-- trials passes]
//!
//! Prints the median of `passes` runs of each; `bench/monte_carlo_bench.sh` runs it beside the
//! same simulation vectorised in numpy. The model, as a metrologist writes it:
//! P = V² / R0 / (1 + α (t − t0)), in mW, with V normal, R0 from five readings (t₄), α
//! rectangular, t normal and the reference temperature t0 triangular.

use std::time::Instant;

use caltrace::domain::model::{evaluate_model, EvaluateRequest};
use rand::rngs::ChaCha12Rng;
use rand::{RngExt, SeedableRng};
use rand_distr::{Distribution, StandardNormal, StudentT};

const CHUNK: usize = 10_000;
const R0_READINGS: [f64; 5] = [100.02, 99.98, 100.01, 100.00, 99.99];

fn request(trials: usize) -> EvaluateRequest {
    serde_json::from_value(serde_json::json!({
        "measurand": {"name": "Power dissipated", "unit": "mW"},
        "coverage_probability": 0.95,
        "model": "V^2 / R0 / (1 + alpha * (t - t0))",
        "inputs": [
            {"name": "V", "estimate": {"value": 1.0, "unit": "V"}, "type": "B",
             "distribution": "normal", "standard_uncertainty": 0.002},
            {"name": "R0", "type": "A", "readings": R0_READINGS, "unit": "ohm"},
            {"name": "alpha", "estimate": {"value": 0.0039, "unit": "1/K"}, "type": "B",
             "distribution": "rectangular", "half_width": 0.0001},
            {"name": "t", "estimate": {"value": 23.0, "unit": "degC"}, "type": "B",
             "distribution": "normal", "standard_uncertainty": 0.1},
            {"name": "t0", "estimate": {"value": 20.0, "unit": "degC"}, "type": "B",
             "distribution": "triangular", "half_width": 0.05}
        ],
        "method": "monte_carlo",
        "monte_carlo": {"trials": trials, "seed": 1, "interval": "symmetric"}
    }))
    .expect("a well-formed request")
}

/// (mean, u, low, high) from the engine.
fn engine(trials: usize) -> (f64, f64, f64, f64) {
    let m = match evaluate_model(&request(trials), 0) {
        Ok(m) => m,
        Err(e) => panic!("{e:?}"),
    };
    let mc = m.monte_carlo.expect("a Monte Carlo result");
    (
        mc.estimate.value,
        mc.standard_uncertainty.value,
        mc.coverage_interval.low,
        mc.coverage_interval.high,
    )
}

/// The model values of chunk `c`, drawn trial by trial.
fn hand_chunk(seed: u64, c: u64, out: &mut [f64]) {
    let mean_r0 = R0_READINGS.iter().sum::<f64>() / 5.0;
    let s = (R0_READINGS
        .iter()
        .map(|r| (r - mean_r0).powi(2))
        .sum::<f64>()
        / 4.0)
        .sqrt();
    let u_r0 = s / 5f64.sqrt();
    let t4 = StudentT::new(4.0).expect("ν = 4");
    let mut rng = ChaCha12Rng::seed_from_u64(seed);
    rng.set_stream(c);
    for y in out {
        let zv: f64 = StandardNormal.sample(&mut rng);
        let v = 1.0 + 0.002 * zv;
        let r0 = mean_r0 + u_r0 * t4.sample(&mut rng);
        let ra: f64 = rng.random();
        let alpha = 0.0039 + 0.0001 * (2.0 * ra - 1.0);
        let zt: f64 = StandardNormal.sample(&mut rng);
        let t = 23.0 + 0.1 * zt;
        let (r1, r2): (f64, f64) = (rng.random(), rng.random());
        let t0 = 20.0 + 0.05 * (r1 + r2 - 1.0);
        *y = 1000.0 * v * v / r0 / (1.0 + alpha * (t - t0));
    }
}

fn summary(values: &mut [f64], p: f64) -> (f64, f64, f64, f64) {
    let n = values.len() as f64;
    let mean = values.iter().sum::<f64>() / n;
    let sd = (values.iter().map(|v| (v - mean).powi(2)).sum::<f64>() / (n - 1.0)).sqrt();
    values.sort_unstable_by(f64::total_cmp);
    // JCGM 101 7.7.1: q = pM + 1/2 rounded, the interval [y_r, y_{r+q}] with r = (M − q)/2.
    let m = values.len();
    let q = (p * m as f64 + 0.5) as usize;
    let r = (m - q) / 2;
    (mean, sd, values[r], values[r + q - 1])
}

fn hand(trials: usize, threads: usize) -> (f64, f64, f64, f64) {
    let mut values = vec![0.0; trials];
    if threads < 2 {
        for (c, out) in values.chunks_mut(CHUNK).enumerate() {
            hand_chunk(1, c as u64, out);
        }
    } else {
        let (even, odd): (Vec<_>, Vec<_>) = values
            .chunks_mut(CHUNK)
            .enumerate()
            .partition(|(c, _)| c % 2 == 0);
        std::thread::scope(|s| {
            s.spawn(|| {
                odd.into_iter()
                    .for_each(|(c, o)| hand_chunk(1, c as u64, o))
            });
            even.into_iter()
                .for_each(|(c, o)| hand_chunk(1, c as u64, o));
        });
    }
    summary(&mut values, 0.95)
}

fn median_seconds(
    passes: usize,
    mut f: impl FnMut() -> (f64, f64, f64, f64),
) -> (f64, (f64, f64, f64, f64)) {
    let mut times = Vec::with_capacity(passes);
    let mut last = (0.0, 0.0, 0.0, 0.0);
    for _ in 0..passes {
        let start = Instant::now();
        last = std::hint::black_box(f());
        times.push(start.elapsed().as_secs_f64());
    }
    times.sort_by(f64::total_cmp);
    (times[times.len() / 2], last)
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let trials: usize = args
        .get(1)
        .map_or(1_000_000, |s| s.parse().expect("trials"));
    let passes: usize = args.get(2).map_or(7, |s| s.parse().expect("passes"));
    let (e, er) = median_seconds(passes, || engine(trials));
    let (h1, hr1) = median_seconds(passes, || hand(trials, 1));
    let (h2, hr2) = median_seconds(passes, || hand(trials, 2));
    let show =
        |r: (f64, f64, f64, f64)| format!("y={:.6} u={:.6} [{:.5}, {:.5}] mW", r.0, r.1, r.2, r.3);
    println!("trials={trials} passes={passes} (median)");
    println!("engine_seconds={e:.6}  {}", show(er));
    println!("hand_1_thread_seconds={h1:.6}  {}", show(hr1));
    println!("hand_2_threads_seconds={h2:.6}  {}", show(hr2));
    println!(
        "engine / hand loop (2 threads, as the engine) = {:.2}",
        e / h2
    );
    println!("engine / hand loop (1 thread) = {:.2}", e / h1);
}
