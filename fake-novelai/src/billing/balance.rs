//! An account's Anlas: `fixedTrainingStepsLeft` (the subscription's monthly allowance)
//! and `purchasedTrainingSteps` (bought); the balance is their sum. A generation spends
//! the fixed Anlas first, then the purchased ones (NovelAI's documented order), and is
//! refused whole, charging nothing, when the sum is short.

use serde::Serialize;

/// What a tier's subscription grants each month: Opus 10000, Tablet and Scroll 1000,
/// Paper none.
pub fn monthly_allowance(tier: u8) -> u64 {
    match tier {
        3 => 10_000,
        1 | 2 => 1_000,
        _ => 0,
    }
}

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize)]
pub struct Balance {
    pub fixed: u64,
    pub purchased: u64,
}

/// Which Anlas a charge took, to give them back.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Spent {
    pub fixed: u64,
    pub purchased: u64,
}

impl Spent {
    pub fn total(&self) -> u64 {
        self.fixed + self.purchased
    }
}

/// The balance is short of a charge.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct NotEnoughAnlas;

impl Balance {
    /// A balance of `anlas` for a tier: up to the tier's monthly allowance counts as
    /// fixed, the rest as purchased.
    pub fn of_total(tier: u8, anlas: u64) -> Self {
        let fixed = anlas.min(monthly_allowance(tier));
        Self {
            fixed,
            purchased: anlas - fixed,
        }
    }

    pub fn total(&self) -> u64 {
        self.fixed.saturating_add(self.purchased)
    }

    /// Takes `anlas`, fixed first; nothing when the balance is short.
    pub fn charge(&mut self, anlas: u64) -> Result<Spent, NotEnoughAnlas> {
        if anlas > self.total() {
            return Err(NotEnoughAnlas);
        }
        let fixed = anlas.min(self.fixed);
        let spent = Spent {
            fixed,
            purchased: anlas - fixed,
        };
        self.fixed -= spent.fixed;
        self.purchased -= spent.purchased;
        Ok(spent)
    }

    pub fn refund(&mut self, spent: Spent) {
        self.fixed = self.fixed.saturating_add(spent.fixed);
        self.purchased = self.purchased.saturating_add(spent.purchased);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn totals_split_at_the_monthly_allowance() {
        assert_eq!(
            Balance::of_total(2, 1500),
            Balance {
                fixed: 1000,
                purchased: 500
            }
        );
        assert_eq!(Balance::of_total(3, 10_000).purchased, 0);
        assert_eq!(Balance::of_total(0, 7).fixed, 0);
    }

    #[test]
    fn fixed_anlas_go_first_and_a_short_balance_pays_nothing() {
        let mut b = Balance {
            fixed: 20,
            purchased: 10,
        };
        assert_eq!(
            b.charge(26),
            Ok(Spent {
                fixed: 20,
                purchased: 6
            })
        );
        assert_eq!(
            b,
            Balance {
                fixed: 0,
                purchased: 4
            }
        );
        assert_eq!(b.charge(5), Err(NotEnoughAnlas));
        assert_eq!(b.total(), 4, "nothing taken");
        assert_eq!(b.charge(0), Ok(Spent::default()));
        b.refund(Spent {
            fixed: 20,
            purchased: 6,
        });
        assert_eq!(b.total(), 30);
    }
}
