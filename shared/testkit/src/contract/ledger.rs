//! The Anlas ledger's contract: holds count against the day's limits, settle and release
//! move them, days and keys are apart, and concurrent holds never pass a budget.

use chrono::NaiveDate;
use naiq_core::ports::*;

pub async fn ledger(ledger: &dyn Ledger) {
    let day = NaiveDate::from_ymd_opt(2026, 12, 2).unwrap();
    let next = day.succ_opt().unwrap();
    let limits = HoldLimits {
        anlas: Some(50),
        jobs: Some(4),
    };
    assert_eq!(ledger.day("a", day).await.unwrap(), LedgerDay::default());
    let after = ledger.hold("a", day, 20, limits).await.unwrap().unwrap();
    assert_eq!(
        after,
        LedgerDay {
            held: 20,
            spent: 0,
            jobs: 1
        }
    );
    ledger.hold("a", day, 30, limits).await.unwrap().unwrap();
    // 50 of 50: one more Anlas is refused, and nothing changes.
    let refused = ledger.hold("a", day, 1, limits).await.unwrap().unwrap_err();
    let full = LedgerDay {
        held: 50,
        spent: 0,
        jobs: 2,
    };
    assert_eq!(refused, HoldRefused::Anlas(full));
    assert_eq!(ledger.day("a", day).await.unwrap(), full);
    // A free job still fits; more than the whole budget never does.
    ledger.hold("a", day, 0, limits).await.unwrap().unwrap();
    assert!(matches!(
        ledger.hold("a", next, 51, limits).await.unwrap(),
        Err(HoldRefused::Anlas(_))
    ));
    // Settled below the hold: the difference is free again.
    ledger.settle("a", day, 30, 10).await.unwrap();
    assert_eq!(
        ledger.day("a", day).await.unwrap(),
        LedgerDay {
            held: 20,
            spent: 10,
            jobs: 3
        }
    );
    ledger.release("a", day, 20).await.unwrap();
    assert_eq!(
        ledger.day("a", day).await.unwrap(),
        LedgerDay {
            held: 0,
            spent: 10,
            jobs: 3
        }
    );
    ledger.hold("a", day, 40, limits).await.unwrap().unwrap();
    // The fourth job is the day's last.
    assert_eq!(
        ledger.hold("a", day, 0, limits).await.unwrap().unwrap_err(),
        HoldRefused::Jobs(LedgerDay {
            held: 40,
            spent: 10,
            jobs: 4
        })
    );
    // Another day, another key, no limits: apart.
    assert_eq!(ledger.day("a", next).await.unwrap(), LedgerDay::default());
    assert_eq!(ledger.day("b", day).await.unwrap(), LedgerDay::default());
    let unlimited = HoldLimits::default();
    for _ in 0..3 {
        ledger
            .hold("b", day, 1000, unlimited)
            .await
            .unwrap()
            .unwrap();
    }
    assert_eq!(ledger.day("b", day).await.unwrap().held, 3000);

    // Ten concurrent holds of 10 against a budget of 35: exactly three win.
    let budget = HoldLimits {
        anlas: Some(35),
        jobs: None,
    };
    let results =
        futures::future::join_all((0..10).map(|_| ledger.hold("c", day, 10, budget))).await;
    let won = results
        .into_iter()
        .filter(|r| matches!(r, Ok(Ok(_))))
        .count();
    assert_eq!(won, 3);
    assert_eq!(ledger.day("c", day).await.unwrap().held, 30);
}
