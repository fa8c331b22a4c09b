//! Priority lanes: `test` > `high` > `normal` > `low`, one FIFO queue each.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

/// Priority lanes, highest first. One FIFO queue per lane.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Lane {
    Test,
    High,
    Normal,
    Low,
}

impl Lane {
    /// In the order the worker drains them.
    pub const ALL: [Lane; 4] = [Lane::Test, Lane::High, Lane::Normal, Lane::Low];

    pub fn as_str(self) -> &'static str {
        match self {
            Lane::Test => "test",
            Lane::High => "high",
            Lane::Normal => "normal",
            Lane::Low => "low",
        }
    }

    /// 0 for the lane drained first.
    pub fn rank(self) -> u8 {
        self as u8
    }
}

impl FromStr for Lane {
    type Err = ();
    fn from_str(s: &str) -> Result<Self, ()> {
        Lane::ALL.into_iter().find(|l| l.as_str() == s).ok_or(())
    }
}

impl fmt::Display for Lane {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lanes_drain_in_priority_order() {
        let ranks: Vec<u8> = Lane::ALL.iter().map(|l| l.rank()).collect();
        assert_eq!(ranks, vec![0, 1, 2, 3]);
        assert!(Lane::Test < Lane::High && Lane::High < Lane::Normal && Lane::Normal < Lane::Low);
    }
}
