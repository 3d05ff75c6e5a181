//! CI's brief fuzzing: every target run on `SMOLVLM_FUZZ_ITERS` (default 2,000) mutants of its
//! committed corpus, from a fixed seed (`SMOLVLM_FUZZ_SEED` picks another). Unlike libFuzzer
//! (`scripts/fuzz.sh`, coverage-guided, for hours) this is blind: libFuzzer's instrumented build
//! of the engine takes longer than CI has, while these mutants cost the workspace's own test build
//! nothing. The mutations are libFuzzer's kinds that break parsers — bit flips, interesting
//! integers over length and offset fields, cut, repeated and spliced spans, truncation — so a
//! change that drops a bounds check or a size limit is found here before it ships.
//!
//! A mutant that panics out of its target, or runs longer than `SMOLVLM_FUZZ_HANG_S` (default
//! 60 s, a debug build), is written to `target/fuzz-brief/<target>-<n>` and fails the test;
//! `scripts/fuzz.sh repro <target> <file>` replays it, and it joins `fuzz/regressions/` with
//! its fix.

mod common;

use std::panic::{AssertUnwindSafe, catch_unwind};
use std::path::{Path, PathBuf};
use std::sync::mpsc;
use std::time::Duration;

fn fuzz_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../fuzz")
}

fn env_u64(name: &str, default: u64) -> u64 {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

/// xorshift64*: reproducible from the seed, no dependency.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }

    fn below(&mut self, n: usize) -> usize {
        if n == 0 {
            0
        } else {
            (self.next() % n as u64) as usize
        }
    }
}

/// Values that sit on the edges parsers check: zero, one, sign bits, all ones, sizes just past
/// what fits.
const INTERESTING: [u64; 12] = [
    0,
    1,
    0x7f,
    0x80,
    0xff,
    0x7fff,
    0xffff,
    0x7fff_ffff,
    0xffff_ffff,
    0x1_0000_0000,
    i64::MAX as u64,
    u64::MAX,
];

/// One to four mutations of `input`, `other` a second corpus file to splice from.
fn mutate(rng: &mut Rng, input: &[u8], other: &[u8]) -> Vec<u8> {
    let mut data = input.to_vec();
    for _ in 0..1 + rng.below(4) {
        let len = data.len();
        match rng.below(8) {
            0 if len > 0 => {
                let i = rng.below(len);
                data[i] ^= 1 << rng.below(8);
            }
            1 if len > 0 => {
                let i = rng.below(len);
                data[i] = INTERESTING[rng.below(INTERESTING.len())] as u8;
            }
            2 if len >= 8 => {
                // An integer field, little-endian as GGUF and safetensors store them.
                let width = [2, 4, 8][rng.below(3)];
                let i = rng.below(len - width + 1);
                let v = INTERESTING[rng.below(INTERESTING.len())].to_le_bytes();
                data[i..i + width].copy_from_slice(&v[..width]);
            }
            3 if len > 0 => {
                let start = rng.below(len);
                let end = (start + 1 + rng.below(64)).min(len);
                data.drain(start..end);
            }
            4 if len > 0 => {
                // A span repeated: nested structures, repeated keys, long runs.
                let start = rng.below(len);
                let end = (start + 1 + rng.below(64)).min(len);
                let span = data[start..end].to_vec();
                let at = rng.below(len + 1);
                for _ in 0..1 + rng.below(8) {
                    data.splice(at..at, span.iter().copied());
                }
            }
            5 if !other.is_empty() => {
                let start = rng.below(other.len());
                let end = (start + 1 + rng.below(256)).min(other.len());
                let at = rng.below(len + 1);
                data.splice(at..at, other[start..end].iter().copied());
            }
            6 if len > 0 => data.truncate(rng.below(len)),
            _ => {
                let i = rng.below(len + 1);
                data.insert(i, rng.next() as u8);
            }
        }
    }
    data
}

fn corpus(target: &str) -> Vec<Vec<u8>> {
    let mut files: Vec<PathBuf> = ["corpus", "regressions"]
        .iter()
        .filter_map(|d| std::fs::read_dir(fuzz_dir().join(d).join(target)).ok())
        .flat_map(|entries| entries.flatten().map(|e| e.path()))
        .filter(|p| p.is_file())
        .collect();
    files.sort();
    files.iter().map(|p| std::fs::read(p).unwrap()).collect()
}

fn save(target: &str, n: u64, data: &[u8]) -> PathBuf {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../target/fuzz-brief");
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join(format!("{target}-{n}"));
    std::fs::write(&path, data).unwrap();
    path
}

fn fuzz(target: &str) {
    let (_, run) = *smolvlm_fuzz::TARGETS
        .iter()
        .find(|(name, _)| *name == target)
        .unwrap_or_else(|| panic!("no target {target}"));
    let seeds = corpus(target);
    assert!(!seeds.is_empty(), "fuzz/corpus/{target} has no seeds");
    let iters = env_u64("SMOLVLM_FUZZ_ITERS", 2000);
    let hang = Duration::from_secs(env_u64("SMOLVLM_FUZZ_HANG_S", 60));
    // Each target its own stream, so one target's mutants do not depend on the others' order.
    let seed = env_u64("SMOLVLM_FUZZ_SEED", 0x5eed)
        ^ target.bytes().fold(0xcbf2_9ce4_8422_2325, |h, b| {
            (h ^ b as u64).wrapping_mul(0x100_0000_01b3)
        });
    let mut rng = Rng(seed | 1);

    // The mutants run on a thread the test watches: a hang fails the test instead of stalling CI.
    let (to_worker, inputs) = mpsc::sync_channel::<Vec<u8>>(0);
    let (done, results) = mpsc::channel::<bool>();
    std::thread::spawn(move || {
        for data in inputs {
            let ok = catch_unwind(AssertUnwindSafe(|| run(&data))).is_ok();
            if done.send(ok).is_err() {
                return;
            }
        }
    });
    for n in 0..iters {
        let a = &seeds[rng.below(seeds.len())];
        let b = &seeds[rng.below(seeds.len())];
        let data = mutate(&mut rng, a, b);
        to_worker.send(data.clone()).unwrap();
        match results.recv_timeout(hang) {
            Ok(true) => {}
            Ok(false) => {
                let path = save(target, n, &data);
                panic!(
                    "{target} panicked on mutant {n} (seed {seed:#x}), saved as {}",
                    path.display()
                );
            }
            Err(_) => {
                let path = save(target, n, &data);
                panic!(
                    "{target} ran past {hang:?} on mutant {n}, saved as {}",
                    path.display()
                );
            }
        }
    }
}

common::test_each_target!(fuzz);

#[test]
fn a_mutant_differs_from_its_seed_and_the_stream_repeats() {
    let seed = b"GGUF\x03\x00\x00\x00 some header bytes to cut and flip";
    let (mut a, mut b) = (Rng(7), Rng(7));
    let mut changed = 0;
    for _ in 0..100 {
        let x = mutate(&mut a, seed, b"other");
        assert_eq!(x, mutate(&mut b, seed, b"other"));
        changed += usize::from(x != seed);
    }
    assert!(changed > 90, "only {changed} of 100 mutants differ");
}
