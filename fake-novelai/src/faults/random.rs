//! Random faults (`PUT /_fake/config {"fault_rate": F, "fault_kinds": [K…], "fault_seed": N}`):
//! each generation, with probability F, answers with one of the kinds K (every kind by
//! default), drawn from a seeded generator so a run can be replayed. Rate 0 (the start)
//! turns it off. Queued faults ([`super::FaultQueue`]) still answer in their turn.

use std::sync::Mutex;

use super::FaultKind;

/// The random fault mode's settings and generator.
pub struct RandomFaults {
    inner: Mutex<Inner>,
}

struct Inner {
    rate: f64,
    kinds: Vec<FaultKind>,
    /// splitmix64's state.
    state: u64,
}

impl Default for RandomFaults {
    fn default() -> Self {
        Self {
            inner: Mutex::new(Inner {
                rate: 0.0,
                kinds: FaultKind::ALL.to_vec(),
                state: 0,
            }),
        }
    }
}

impl Inner {
    /// splitmix64: small, seedable and good enough to pick faults.
    fn next(&mut self) -> u64 {
        self.state = self.state.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.state;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// A uniform draw in [0, 1).
    fn unit(&mut self) -> f64 {
        (self.next() >> 11) as f64 / (1u64 << 53) as f64
    }
}

impl RandomFaults {
    fn lock(&self) -> std::sync::MutexGuard<'_, Inner> {
        self.inner.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Sets what is given: the rate (0–1), the kinds (none given: unchanged; an empty list
    /// is refused by the caller), the seed (restarts the sequence).
    pub fn configure(&self, rate: Option<f64>, kinds: Option<Vec<FaultKind>>, seed: Option<u64>) {
        let mut inner = self.lock();
        if let Some(rate) = rate {
            inner.rate = rate;
        }
        if let Some(kinds) = kinds {
            inner.kinds = kinds;
        }
        if let Some(seed) = seed {
            inner.state = seed;
        }
    }

    /// The fault for the next generation, if one is drawn.
    pub fn draw(&self) -> Option<FaultKind> {
        let mut inner = self.lock();
        if inner.rate <= 0.0 || inner.kinds.is_empty() {
            return None;
        }
        if inner.unit() >= inner.rate {
            return None;
        }
        let i = (inner.next() % inner.kinds.len() as u64) as usize;
        Some(inner.kinds[i])
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn off_at_first_then_at_the_rate_from_the_kinds_given_and_replayable() {
        let r = RandomFaults::default();
        assert!((0..1000).all(|_| r.draw().is_none()));
        r.configure(Some(0.25), None, Some(9));
        let draws: Vec<_> = (0..8000).map(|_| r.draw()).collect();
        let hits = draws.iter().flatten().count();
        assert!((1700..=2300).contains(&hits), "{hits} of 8000 at 0.25");
        for kind in FaultKind::ALL {
            assert!(draws.contains(&Some(kind)), "{kind:?} never drawn");
        }
        r.configure(None, None, Some(9));
        let replay: Vec<_> = (0..8000).map(|_| r.draw()).collect();
        assert_eq!(draws, replay);
        r.configure(Some(1.0), Some(vec![FaultKind::Hang]), None);
        assert!((0..100).all(|_| r.draw() == Some(FaultKind::Hang)));
        r.configure(Some(0.0), None, None);
        assert!((0..100).all(|_| r.draw().is_none()));
    }
}
