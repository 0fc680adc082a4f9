//! The timed part of a command: operations run at a fixed concurrency for a count or a time,
//! their latencies, and the CPU the named processes spent meanwhile.

use std::collections::HashMap;
use std::future::Future;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use futures_util::stream::{self, StreamExt};
use serde_json::{json, Value};

use crate::args::Limit;

/// User + system CPU seconds of `pid` so far.
fn cpu_seconds(pid: u32) -> Result<f64, String> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat"))
        .map_err(|e| format!("/proc/{pid}/stat: {e}"))?;
    let after_name = stat.rsplit(')').next().unwrap_or_default();
    let fields: Vec<&str> = after_name.split_whitespace().collect();
    // utime and stime are fields 14 and 15 of stat; [0] here is field 3 (state). Linux
    // reports them in USER_HZ, 100 a second.
    let ticks: u64 = fields
        .get(11..13)
        .ok_or("short /proc stat")?
        .iter()
        .map(|f| f.parse::<u64>().unwrap_or(0))
        .sum();
    Ok(ticks as f64 / 100.0)
}

fn cpu_of(pids: &[(String, u32)]) -> Result<Vec<f64>, String> {
    pids.iter().map(|(_, p)| cpu_seconds(*p)).collect()
}

/// Runs `op(i)` for i = 0, 1, … `concurrency` at a time within `limit`; the figures.
pub async fn timed<F, Fut>(
    limit: Limit,
    concurrency: usize,
    pids: &[(String, u32)],
    op: F,
) -> Result<Value, String>
where
    F: Fn(usize) -> Fut,
    Fut: Future<Output = Result<(), String>>,
{
    let concurrency = concurrency.max(1);
    let one = |i: usize| {
        let fut = op(i);
        async move {
            let t = Instant::now();
            let r = fut.await;
            (t.elapsed(), r)
        }
    };
    let cpu_before = cpu_of(pids)?;
    let started = Instant::now();
    let results: Vec<(Duration, Result<(), String>)> = match limit {
        Limit::Count(n) => {
            stream::iter(0..n)
                .map(one)
                .buffer_unordered(concurrency)
                .collect()
                .await
        }
        Limit::Secs(secs) => {
            let deadline = started + Duration::from_secs_f64(secs);
            let next = AtomicUsize::new(0);
            let workers = (0..concurrency).map(|_| async {
                let mut mine = Vec::new();
                while Instant::now() < deadline {
                    mine.push(one(next.fetch_add(1, Ordering::Relaxed)).await);
                }
                mine
            });
            futures_util::future::join_all(workers)
                .await
                .into_iter()
                .flatten()
                .collect()
        }
    };
    let secs = started.elapsed().as_secs_f64();
    let cpu_after = cpu_of(pids)?;
    let ops = results.len();
    if ops == 0 {
        return Err("no operation completed".into());
    }
    let failures = results.iter().filter(|(_, r)| r.is_err()).count();
    let error = results.iter().find_map(|(_, r)| r.clone().err());
    let mut ms: Vec<f64> = results
        .iter()
        .map(|(d, _)| d.as_secs_f64() * 1000.0)
        .collect();
    ms.sort_by(|a, b| a.total_cmp(b));
    let pct = |p: f64| ms[((ms.len() as f64 - 1.0) * p).round() as usize];
    let mut out = json!({
        "ops": ops,
        "failures": failures,
        "error": error,
        "secs": secs,
        "rps": ops as f64 / secs,
        "p50": pct(0.50),
        "p95": pct(0.95),
        "p99": pct(0.99),
    });
    let mut cpu: HashMap<&str, f64> = HashMap::new();
    for (((name, _), before), after) in pids.iter().zip(&cpu_before).zip(&cpu_after) {
        *cpu.entry(name.as_str()).or_default() += after - before;
    }
    for (name, seconds) in cpu {
        out[format!("{name}_cpu_ms")] = json!(seconds * 1000.0 / ops as f64);
    }
    Ok(out)
}
