//! What a generation costs and who pays: NovelAI's Anlas price ([`price`]), the Opus
//! usage gauge that V5's free images draw on ([`usage`]), and an account's balance
//! ([`balance`]).

pub mod balance;
pub mod price;
pub mod usage;

pub use balance::{Balance, NotEnoughAnlas, Spent};
pub use price::{Quote, Subscriber};
pub use usage::{Usage, UsageStatus};
