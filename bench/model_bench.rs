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
//! `rust_numbers_seconds=<s>`; and the parser alone over the same model texts
//! (`parse_only_per_model_us`), the first step's share. Writes one result per line:
//! `{"y", "u_c", "nu_eff" (null = infinite), "k", "sensitivities": [...]}` or
//! `{"errors": [...]}`.

use std::fs::File;
use std::io::{BufRead, BufReader, BufWriter, Write};
use std::time::Instant;

use caltrace::domain::model::{
    evaluate_model, evaluate_model_numbers, parser, EvaluateRequest, ModelResult,
};
use caltrace::domain::FieldError;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().collect();
    if args.len() < 3 {
        eprintln!("usage: model_bench MODELS.jsonl RESULTS.jsonl [PASSES]");
        std::process::exit(2);
    }
    let passes: usize = args.get(3).map_or(Ok(5), |s| s.parse())?;
    let requests = read_requests(&args[1])?;
    // As gum_bench: the output vector is reused and the previous pass's results dropped before
    // the clock starts, so a pass times evaluation only.
    let mut results = Vec::with_capacity(requests.len());
    let median = median_seconds(passes, || {
        results.clear();
        let start = Instant::now();
        results.extend(requests.iter().map(|r| evaluate_model(r, 0)));
        let elapsed = start.elapsed().as_secs_f64();
        std::hint::black_box(&results);
        elapsed
    });
    let mut numbers = Vec::with_capacity(requests.len());
    let numbers_median = median_seconds(passes, || {
        numbers.clear();
        let start = Instant::now();
        numbers.extend(requests.iter().map(evaluate_model_numbers));
        let elapsed = start.elapsed().as_secs_f64();
        std::hint::black_box(&numbers);
        elapsed
    });
    // As the service uses an answer: each is built and freed before the next model (the API
    // writes the JSON and drops it); the drops are timed. The passes above keep all answers.
    let served_median = median_seconds(passes, || {
        let start = Instant::now();
        for r in &requests {
            drop(std::hint::black_box(evaluate_model(r, 0)));
        }
        start.elapsed().as_secs_f64()
    });
    // The parser's share of a model's evaluation, timed alone: where the remaining time goes
    // (issue 17's 100x needs every step cheaper).
    let parse_median = median_seconds(passes, || {
        let start = Instant::now();
        for r in &requests {
            let parsed = parser::parse(r.model.as_deref().unwrap_or_default());
            std::hint::black_box(parsed.map(|tree| tree.len()).ok());
        }
        start.elapsed().as_secs_f64()
    });
    for (full, n) in results.iter().zip(&numbers) {
        if let (Ok(Some(f)), Ok(n)) = (full.as_ref().map(|m| m.gum.as_ref()), n) {
            assert_eq!(f.expanded_uncertainty.value, n.expanded_uncertainty);
        }
    }

    let failed = write_results(&args[2], &results)?;
    println!(
        "models={} refused={failed} passes={}",
        requests.len(),
        passes.max(1)
    );
    let per_model = |s: f64| s / requests.len().max(1) as f64 * 1e6;
    println!(
        "per_model_us={:.3} numbers_only_per_model_us={:.3} served_one_at_a_time_per_model_us={:.3} parse_only_per_model_us={:.3}",
        per_model(median),
        per_model(numbers_median),
        per_model(served_median),
        per_model(parse_median)
    );
    println!("rust_seconds={median:.6}");
    println!("rust_numbers_seconds={numbers_median:.6}");
    println!("rust_served_seconds={served_median:.6}");
    Ok(())
}

/// One `EvaluateRequest` per non-empty line.
fn read_requests(path: &str) -> Result<Vec<EvaluateRequest>, Box<dyn std::error::Error>> {
    let mut requests = Vec::new();
    for (i, line) in BufReader::new(File::open(path)?).lines().enumerate() {
        let line = line?;
        if !line.trim().is_empty() {
            let r: EvaluateRequest =
                serde_json::from_str(&line).map_err(|e| format!("{path}:{}: {e}", i + 1))?;
            requests.push(r);
        }
    }
    Ok(requests)
}

/// The median of `passes` timings (at least one), each pass timing itself.
fn median_seconds(passes: usize, mut pass: impl FnMut() -> f64) -> f64 {
    let mut times: Vec<f64> = (0..passes.max(1)).map(|_| pass()).collect();
    times.sort_by(f64::total_cmp);
    times[times.len() / 2]
}

/// One line per model for the script's comparison; the number of refused models.
fn write_results(
    path: &str,
    results: &[Result<ModelResult, Vec<FieldError>>],
) -> std::io::Result<usize> {
    let mut out = BufWriter::new(File::create(path)?);
    let mut failed = 0;
    for r in results {
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
    Ok(failed)
}
