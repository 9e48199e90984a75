//! Times in-process GUM evaluation of measurement-model budgets (DESIGN 5b), for
//! `bench/model_vs_gtc.py` (issue 17: ≥ 100× the GUM Tree Calculator on 10 000 generated
//! models).
//!
//! cargo run --release --example model_bench -- models.jsonl results.jsonl [passes]
//!
//! Reads one model request per line (`EvaluateRequest` with `model`, `inputs`, optional
//! `correlations`; method GUM), evaluates them all `passes` times (default 5) and prints the
//! median wall time of one pass as `rust_seconds=<s>`; then the same for `evaluate_model_numbers`
//! (the same checks and numbers without the answer's names and unit strings) as
//! `rust_numbers_seconds=<s>`. Writes one result per line:
//! `{"y", "u_c", "nu_eff" (null = infinite), "k", "sensitivities": [...]}` or
//! `{"errors": [...]}`.

use std::fs::File;
use std::io::{BufRead, BufReader, BufWriter, Write};
use std::time::Instant;

use caltrace::domain::model::{evaluate_model, evaluate_model_numbers, EvaluateRequest};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().collect();
    if args.len() < 3 {
        eprintln!("usage: model_bench MODELS.jsonl RESULTS.jsonl [PASSES]");
        std::process::exit(2);
    }
    let passes: usize = args.get(3).map_or(Ok(5), |s| s.parse())?;
    let mut requests = Vec::new();
    for (i, line) in BufReader::new(File::open(&args[1])?).lines().enumerate() {
        let line = line?;
        if !line.trim().is_empty() {
            let r: EvaluateRequest =
                serde_json::from_str(&line).map_err(|e| format!("{}:{}: {e}", args[1], i + 1))?;
            requests.push(r);
        }
    }
    // As gum_bench: the output vector is reused and the previous pass's results dropped before
    // the clock starts, so a pass times evaluation only.
    let mut times = Vec::with_capacity(passes);
    let mut results = Vec::with_capacity(requests.len());
    for _ in 0..passes.max(1) {
        results.clear();
        let start = Instant::now();
        results.extend(requests.iter().map(|r| evaluate_model(r, 0)));
        times.push(start.elapsed().as_secs_f64());
        std::hint::black_box(&results);
    }
    times.sort_by(f64::total_cmp);
    let median = times[times.len() / 2];

    let mut number_times = Vec::with_capacity(passes);
    let mut numbers = Vec::with_capacity(requests.len());
    for _ in 0..passes.max(1) {
        numbers.clear();
        let start = Instant::now();
        numbers.extend(requests.iter().map(evaluate_model_numbers));
        number_times.push(start.elapsed().as_secs_f64());
        std::hint::black_box(&numbers);
    }
    number_times.sort_by(f64::total_cmp);
    let numbers_median = number_times[number_times.len() / 2];
    // As the service uses an answer: each is built and freed before the next model (the API
    // writes the JSON and drops it); the drops are timed. The passes above keep all answers.
    let mut served_times = Vec::with_capacity(passes);
    for _ in 0..passes.max(1) {
        let start = Instant::now();
        for r in &requests {
            drop(std::hint::black_box(evaluate_model(r, 0)));
        }
        served_times.push(start.elapsed().as_secs_f64());
    }
    served_times.sort_by(f64::total_cmp);
    let served_median = served_times[served_times.len() / 2];
    for (full, n) in results.iter().zip(&numbers) {
        if let (Ok(Some(f)), Ok(n)) = (full.as_ref().map(|m| m.gum.as_ref()), n) {
            assert_eq!(f.expanded_uncertainty.value, n.expanded_uncertainty);
        }
    }

    let mut out = BufWriter::new(File::create(&args[2])?);
    let mut failed = 0;
    for r in &results {
        let line = match r.as_ref().map(|m| m.gum.as_ref()) {
            Ok(Some(g)) => serde_json::json!({
                "y": g.estimate.value,
                "u_c": g.combined_standard_uncertainty.value,
                "nu_eff": g.effective_degrees_of_freedom,
                "k": g.coverage_factor,
                "sensitivities": g.components.iter().map(|c| c.sensitivity.value).collect::<Vec<_>>(),
            }),
            Ok(None) => serde_json::json!({"errors": ["no GUM result"]}),
            Err(errors) => {
                failed += 1;
                serde_json::json!({"errors": errors})
            }
        };
        writeln!(out, "{line}")?;
    }
    out.flush()?;
    println!(
        "models={} refused={failed} passes={}",
        requests.len(),
        passes.max(1)
    );
    let per_model = |s: f64| s / requests.len().max(1) as f64 * 1e6;
    println!(
        "per_model_us={:.3} numbers_only_per_model_us={:.3} served_one_at_a_time_per_model_us={:.3}",
        per_model(median),
        per_model(numbers_median),
        per_model(served_median)
    );
    println!("rust_seconds={median:.6}");
    println!("rust_numbers_seconds={numbers_median:.6}");
    println!("rust_served_seconds={served_median:.6}");
    Ok(())
}
