//! Times the NovelAI access key derivation (Argon2id, 1953 KiB, t=2) on vector 1 of
//! NovelAI's published recipe. Run with `cargo bench -p naiq-core --bench access_key [-- RUNS]`
//! (release profile); RUNS defaults to 50, after a warm-up of 5.

use std::hint::black_box;
use std::time::Instant;

use naiq_core::novelai::access_key::access_key;

const EMAIL: &str = "xxxx@yyyy.zzz";
const PASSWORD: &str = "hogehero";
const EXPECTED: &str = "vtQmbCKY3JMbibT54ctxmAaAL-nZOK5BLVMSmF4M75yasKIKKPconLnx_L0ybh3P";
const WARM_UP: usize = 5;

fn main() {
    // `cargo bench` passes `--bench`; the first number given is the run count.
    let runs = std::env::args()
        .skip(1)
        .find_map(|a| a.parse::<usize>().ok())
        .filter(|&n| n > 0)
        .unwrap_or(50);
    for _ in 0..WARM_UP {
        assert_eq!(access_key(black_box(EMAIL), black_box(PASSWORD)), EXPECTED);
    }
    let mut ms: Vec<f64> = (0..runs)
        .map(|_| {
            let start = Instant::now();
            let key = access_key(black_box(EMAIL), black_box(PASSWORD));
            let elapsed = start.elapsed().as_secs_f64() * 1000.0;
            black_box(key);
            elapsed
        })
        .collect();
    ms.sort_by(f64::total_cmp);
    let median = if runs % 2 == 1 {
        ms[runs / 2]
    } else {
        (ms[runs / 2 - 1] + ms[runs / 2]) / 2.0
    };
    println!(
        "access_key: median {median:.2} ms, min {:.2} ms, max {:.2} ms ({runs} runs)",
        ms[0],
        ms[runs - 1]
    );
}
