//! Times in-process evaluation of GUM budgets, for `bench/gum_vs_gtc.py` (DESIGN.md section 10:
//! ≥ 100× the Python GUM Tree Calculator on the same 10 000 budgets).
//!
//! cargo run --release --example gum_bench -- budgets.jsonl results.jsonl [passes]
//!
//! Reads one `BudgetRequest` per line, evaluates them all `passes` times (default 5) and prints
//! the median wall time of one pass as `rust_seconds=<s>`; writes one result per line:
//! `{"u_c", "nu_eff" (null = infinite), "k", "U"}` or `{"errors": [...]}`.

use std::fs::File;
use std::io::{BufRead, BufReader, BufWriter, Write};
use std::time::Instant;

use caltrace::domain::uncertainty::{evaluate, evaluate_numbers, BudgetRequest, BudgetResult};
use caltrace::domain::FieldError;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().collect();
    if args.len() < 3 {
        eprintln!("usage: gum_bench BUDGETS.jsonl RESULTS.jsonl [PASSES]");
        std::process::exit(2);
    }
    let passes: usize = args.get(3).map_or(Ok(5), |s| s.parse())?;
    let budgets = read_budgets(&args[1])?;
    let n = budgets.len().max(1) as f64;

    // Each pass starts from the same heap: the previous pass's results are dropped and the
    // allocator has folded those frees back (glibc consolidates them at the next large request)
    // before the clock starts, and the output vector is reused, so that a pass times evaluation
    // and not the previous pass's drop or the allocator's mmap-threshold swings.
    let settle = |f: &dyn Fn(&BudgetRequest)| budgets.iter().take(8).for_each(f);
    let mut results = Vec::with_capacity(budgets.len());
    let median = median_seconds(passes, || {
        results.clear();
        settle(&|b| drop(std::hint::black_box(evaluate(b))));
        let start = Instant::now();
        results.extend(budgets.iter().map(evaluate));
        let elapsed = start.elapsed().as_secs_f64();
        std::hint::black_box(&results);
        elapsed
    });

    // The same budgets through `evaluate_numbers`: identical validation and arithmetic, without
    // building the response's echoed names and unit strings (GTC builds none either).
    let mut numbers = Vec::with_capacity(budgets.len());
    let core_median = median_seconds(passes, || {
        numbers.clear();
        settle(&|b| drop(std::hint::black_box(evaluate_numbers(b))));
        let start = Instant::now();
        numbers.extend(budgets.iter().map(evaluate_numbers));
        let elapsed = start.elapsed().as_secs_f64();
        std::hint::black_box(&numbers);
        elapsed
    });

    // As the service uses an answer: each is built and freed before the next budget (the API
    // writes the JSON and drops it), so the allocator reuses the same few blocks; the drops are
    // timed. The passes above keep all 10 000 answers alive, which no request does.
    let served_median = median_seconds(passes, || {
        let start = Instant::now();
        for b in &budgets {
            drop(std::hint::black_box(evaluate(b)));
        }
        start.elapsed().as_secs_f64()
    });
    for (full, n) in results.iter().zip(&numbers) {
        if let (Ok(f), Ok(n)) = (full, n) {
            assert_eq!(f.expanded_uncertainty.value, n.expanded_uncertainty);
        }
    }

    let failed = write_results(&args[2], &results)?;
    println!("budgets={} rejected={failed}", budgets.len());
    println!(
        "passes={} median={median:.6} per_budget_us={:.3}",
        passes.max(1),
        median / n * 1e6
    );
    println!(
        "numbers_only median={core_median:.6} per_budget_us={:.3}",
        core_median / n * 1e6
    );
    println!(
        "served_one_at_a_time median={served_median:.6} per_budget_us={:.3}",
        served_median / n * 1e6
    );
    println!("rust_seconds={median:.9}");
    println!("rust_served_seconds={served_median:.9}");
    println!("rust_numbers_seconds={core_median:.9}");
    Ok(())
}

/// One `BudgetRequest` per non-empty line.
fn read_budgets(path: &str) -> Result<Vec<BudgetRequest>, Box<dyn std::error::Error>> {
    let mut budgets = Vec::new();
    for (i, line) in BufReader::new(File::open(path)?).lines().enumerate() {
        let line = line?;
        if line.trim().is_empty() {
            continue;
        }
        let b: BudgetRequest =
            serde_json::from_str(&line).map_err(|e| format!("{path}:{}: {e}", i + 1))?;
        budgets.push(b);
    }
    Ok(budgets)
}

/// The median of `passes` timings (at least one), each pass timing itself.
fn median_seconds(passes: usize, mut pass: impl FnMut() -> f64) -> f64 {
    let mut times: Vec<f64> = (0..passes.max(1)).map(|_| pass()).collect();
    times.sort_by(f64::total_cmp);
    times[times.len() / 2]
}

/// One line per budget for the script's comparison; the number of rejected budgets.
fn write_results(
    path: &str,
    results: &[Result<BudgetResult, Vec<FieldError>>],
) -> std::io::Result<usize> {
    let mut out = BufWriter::new(File::create(path)?);
    let mut failed = 0;
    for r in results {
        let line = match r {
            Ok(r) => serde_json::json!({
                "u_c": r.combined_standard_uncertainty.value,
                "nu_eff": r.effective_degrees_of_freedom,
                "k": r.coverage_factor,
                "U": r.expanded_uncertainty.value,
            }),
            Err(e) => {
                failed += 1;
                serde_json::json!({ "errors": e })
            }
        };
        writeln!(out, "{line}")?;
    }
    out.flush()?;
    Ok(failed)
}
