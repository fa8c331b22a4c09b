//! Opus's usage gauge for V5 (`usage {percent, isNegative, timeUntilNextPercent}` in
//! `/user/subscription`, for an active Opus only).
//!
//! NovelAI's documented semantics: only Opus's free V5 images draw on it (paid images do
//! not), each by an amount proportional to its Anlas price, 100 % being about
//! [`IMAGES_PER_FULL_GAUGE`] images of [`REFERENCE_PRICE`] Anlas (832×1216 at 23 steps);
//! it refills continuously, about [`REFILL_PERCENT_PER_DAY`] a day, up to 100 % (a gauge
//! above 100 %, a one-time bonus, is left alone until it drops below); at or under 0 it is
//! negative and V5 images are billed in Anlas.
//!
//! The fake keeps the gauge as a fraction and shows `percent` rounded up (so 0 only once
//! nothing is left, and percent ≥ 1 exactly when `isNegative` is false, for gauges above
//! 0); `timeUntilNextPercent` is the seconds one percent takes to refill, 0 while refill
//! is paused at or above the cap.

use std::time::Instant;

use serde::Serialize;

/// How many reference-priced free images a full gauge holds.
pub const IMAGES_PER_FULL_GAUGE: f64 = 1730.0;
/// The price of the reference image: V5 at 832×1216, 23 steps.
pub const REFERENCE_PRICE: f64 = 26.0;
/// How fast the gauge refills (NovelAI's rate for a subscription's first 30 days).
pub const REFILL_PERCENT_PER_DAY: f64 = 11.0;
/// A full gauge, and where refill stops.
pub const FULL: f64 = 100.0;
/// A fresh Opus account's gauge.
pub const DEFAULT_PERCENT: f64 = FULL;

const SECONDS_PER_DAY: f64 = 86_400.0;

/// The gauge as `/user/subscription` shows it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct UsageStatus {
    pub percent: i64,
    pub is_negative: bool,
    pub time_until_next_percent: u64,
}

/// One account's gauge, refilled lazily whenever it is read.
#[derive(Clone, Copy, Debug)]
pub struct Usage {
    percent: f64,
    at: Instant,
}

/// The percent one image of this price takes off the gauge.
pub fn cost_percent(price: u64) -> f64 {
    price as f64 * FULL / (IMAGES_PER_FULL_GAUGE * REFERENCE_PRICE)
}

impl Usage {
    pub fn new(percent: f64, now: Instant) -> Self {
        Self { percent, at: now }
    }

    fn refill(&mut self, now: Instant) {
        let elapsed = now.saturating_duration_since(self.at);
        self.at = self.at.max(now);
        if self.percent < FULL {
            let gained = elapsed.as_secs_f64() * REFILL_PERCENT_PER_DAY / SECONDS_PER_DAY;
            self.percent = (self.percent + gained).min(FULL);
        }
    }

    /// The gauge now, as a fraction.
    pub fn exact(&mut self, now: Instant) -> f64 {
        self.refill(now);
        self.percent
    }

    pub fn is_negative(&mut self, now: Instant) -> bool {
        self.exact(now) <= 0.0
    }

    pub fn status(&mut self, now: Instant) -> UsageStatus {
        let percent = self.exact(now);
        let paused = percent >= FULL;
        UsageStatus {
            // A gauge is a few hundred percent at most; `as` saturates anyway.
            percent: percent.ceil() as i64,
            is_negative: percent <= 0.0,
            time_until_next_percent: if paused {
                0
            } else {
                (SECONDS_PER_DAY / REFILL_PERCENT_PER_DAY).ceil() as u64
            },
        }
    }

    /// Draws on the gauge for a free image of this price (it may go negative).
    pub fn spend(&mut self, price: u64, now: Instant) {
        self.refill(now);
        self.percent -= cost_percent(price);
    }

    /// Gives back what [`Usage::spend`] took (a generation that failed).
    pub fn give_back(&mut self, price: u64, now: Instant) {
        self.refill(now);
        self.percent += cost_percent(price);
    }

    /// Sets the gauge (a test control).
    pub fn set(&mut self, percent: f64, now: Instant) {
        self.percent = percent;
        self.at = now;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn a_full_gauge_holds_about_1730_reference_images() {
        let t = Instant::now();
        let mut u = Usage::new(DEFAULT_PERCENT, t);
        assert_eq!(
            u.status(t),
            UsageStatus {
                percent: 100,
                is_negative: false,
                time_until_next_percent: 0
            }
        );
        let mut images = 0;
        while !u.is_negative(t) {
            u.spend(26, t);
            images += 1;
        }
        assert_eq!(images, 1730);
        assert_eq!(u.status(t).percent, 0);
        assert!(u.status(t).is_negative);
    }

    #[test]
    fn one_percent_is_about_17_images_and_shown_rounded_up() {
        let t = Instant::now();
        let mut u = Usage::new(1.0, t);
        for _ in 0..17 {
            u.spend(26, t);
        }
        let s = u.status(t);
        assert_eq!((s.percent, s.is_negative), (1, false), "{}", u.exact(t));
        u.spend(26, t);
        assert_eq!(u.status(t).percent, 0);
        assert!(u.status(t).is_negative);
        u.give_back(26, t);
        assert!(!u.is_negative(t));
        // Cheaper images take less: Medium's 15 Anlas, 512×512's 8.
        assert!((cost_percent(15) / cost_percent(26) - 15.0 / 26.0).abs() < 1e-12);
        assert!(cost_percent(8) < cost_percent(15));
    }

    #[test]
    fn it_refills_continuously_up_to_the_cap() {
        let t = Instant::now();
        let mut u = Usage::new(50.0, t);
        assert_eq!(u.status(t).time_until_next_percent, 7855);
        let day = Duration::from_secs(86_400);
        assert!((u.exact(t + day) - 61.0).abs() < 1e-9);
        assert_eq!(u.exact(t + day * 10), FULL);
        let mut bonus = Usage::new(120.0, t);
        assert_eq!(bonus.exact(t + day), 120.0, "above the cap: left alone");
        assert_eq!(bonus.status(t + day).time_until_next_percent, 0);
        let mut negative = Usage::new(-1.0, t);
        assert!(negative.is_negative(t));
        assert_eq!(negative.status(t).percent, -1);
        assert!(!negative.is_negative(t + day / 5), "refilled past 0");
    }
}
