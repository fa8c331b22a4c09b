use super::*;

fn lane_with(keys: &[(&str, u64, i64)]) -> LaneTurns {
    LaneTurns {
        waiting: keys.iter().map(|k| k.1).sum(),
        turn: 0,
        keys: keys
            .iter()
            .map(|(o, w, t)| {
                (
                    (*o).to_string(),
                    KeyTurn {
                        waiting: *w,
                        last_turn: *t,
                        ..KeyTurn::default()
                    },
                )
            })
            .collect(),
    }
}

fn snapshot(lanes: &[(Lane, LaneTurns)]) -> QueueSnapshot {
    QueueSnapshot {
        lanes: lanes.iter().cloned().collect(),
    }
}

#[test]
fn a_new_key_behind_a_deep_backlog_waits_for_at_most_one_of_its_jobs() {
    // A had a turn (turn 7) and has 29 waiting; B just arrived (fresh: before any turn).
    let s = snapshot(&[(
        Lane::Normal,
        lane_with(&[("a", 29, 7), ("b", 1, fresh_turn(1_000))]),
    )]);
    let b = s.position(Lane::Normal, "b", 0);
    assert_eq!(b.position, 1, "b has never had a turn: it goes first");
    assert_eq!(b.total_pending, 30);
    // A's jobs: its first goes after b's, then the rest in order.
    assert_eq!(s.position(Lane::Normal, "a", 0).position, 2);
    assert_eq!(s.position(Lane::Normal, "a", 5).position, 7);
    // Once b had its turn (turn 8, after a's 7) and queues again, a goes first.
    let s = snapshot(&[(Lane::Normal, lane_with(&[("a", 29, 7), ("b", 2, 8)]))]);
    assert_eq!(s.position(Lane::Normal, "b", 0).position, 2);
    assert_eq!(s.position(Lane::Normal, "b", 1).position, 4);
    assert_eq!(s.position(Lane::Normal, "a", 0).position, 1);
    assert_eq!(s.position(Lane::Normal, "a", 1).position, 3);
    // a's third job: a, b, a, b, a → position 5; its tenth: b has run out by then.
    assert_eq!(s.position(Lane::Normal, "a", 2).position, 5);
    assert_eq!(s.position(Lane::Normal, "a", 9).position, 12);
}

#[test]
fn positions_walk_the_rotation_of_three_keys() {
    let s = snapshot(&[(
        Lane::Normal,
        lane_with(&[("a", 3, 1), ("b", 3, 2), ("c", 3, 3)]),
    )]);
    // The rotation is a b c a b c a b c.
    let order = ["a", "b", "c", "a", "b", "c", "a", "b", "c"];
    for (i, owner) in order.iter().enumerate() {
        let own_ahead = order[..i].iter().filter(|o| *o == owner).count() as u64;
        assert_eq!(
            s.position(Lane::Normal, owner, own_ahead).position,
            i as u64 + 1,
            "{owner}'s job #{own_ahead}"
        );
    }
    assert_eq!(s.next_turn(Lane::Normal, ["c", "b", "a"]), Some("a"));
    assert_eq!(s.next_turn(Lane::Normal, ["c", "b"]), Some("b"));
    // A key the counters do not know yet counts as fresh.
    assert_eq!(s.next_turn(Lane::Normal, ["c", "zed"]), Some("zed"));
    assert_eq!(s.next_turn(Lane::Normal, std::iter::empty()), None);
}

#[test]
fn higher_lanes_go_first_and_cancelled_jobs_do_not_count() {
    // Cancelling lowers a key's waiting count: a key with none left is skipped.
    let s = snapshot(&[
        (Lane::Test, lane_with(&[("t", 1, 1)])),
        (Lane::High, lane_with(&[("a", 2, 1), ("gone", 0, 0)])),
        (Lane::Normal, lane_with(&[("b", 4, 2), ("c", 0, 1)])),
        (Lane::Low, lane_with(&[("a", 1, 5)])),
    ]);
    assert_eq!(s.total_pending(), 8);
    assert_eq!(s.position(Lane::Test, "t", 0).position, 1);
    assert_eq!(s.position(Lane::High, "a", 1).position, 3);
    assert_eq!(s.position(Lane::Normal, "b", 3).position, 7);
    assert_eq!(s.position(Lane::Low, "a", 0).position, 8);
    // A key with no counters at all (they lag) still gets a position, and the total is
    // never below it.
    let empty = QueueSnapshot::default();
    assert_eq!(
        empty.position(Lane::Low, "x", 2),
        QueuePosition {
            position: 3,
            total_pending: 3
        }
    );
}

#[test]
fn fresh_keys_go_in_arrival_order_before_any_key_that_had_a_turn() {
    assert!(fresh_turn(2_000) < 1);
    assert!(fresh_turn(1_000) < fresh_turn(2_000));
    let s = snapshot(&[(
        Lane::Low,
        lane_with(&[
            ("old", 5, 1),
            ("late", 1, fresh_turn(2_000)),
            ("early", 1, fresh_turn(1_000)),
        ]),
    )]);
    assert_eq!(
        s.next_turn(Lane::Low, ["old", "late", "early"]),
        Some("early")
    );
    assert_eq!(s.position(Lane::Low, "late", 0).position, 2);
}

#[test]
fn each_write_moves_the_counters_once() {
    use Status::*;
    assert_eq!(
        TurnChange::of(None, Pending, true),
        Some(TurnChange::Enters)
    );
    assert_eq!(
        TurnChange::of(Some(Pending), Started, false),
        Some(TurnChange::Starts)
    );
    assert_eq!(
        TurnChange::of(Some(Retry), Started, false),
        Some(TurnChange::Starts)
    );
    assert_eq!(
        TurnChange::of(Some(Started), Retry, false),
        Some(TurnChange::Reenters)
    );
    assert_eq!(
        TurnChange::of(Some(Pending), Revoked, false),
        Some(TurnChange::Leaves)
    );
    assert_eq!(
        TurnChange::of(Some(Retry), Failure, false),
        Some(TurnChange::Leaves)
    );
    assert_eq!(TurnChange::of(Some(Started), Started, false), None);
    assert_eq!(TurnChange::of(Some(Started), Success, false), None);
    assert_eq!(TurnChange::of(Some(Started), Failure, false), None);
    assert_eq!(
        TurnChange::of(None, Pending, false),
        Some(TurnChange::Reenters),
        "a new job without a mark"
    );
    assert_eq!(
        TurnChange::of(Some(Started), Retry, true),
        Some(TurnChange::Reenters),
        "a retry is never in order"
    );

    let mut lane = LaneTurns::default();
    lane.apply(TurnChange::Enters, "a", 1_000);
    lane.apply(TurnChange::Enters, "a", 1_001);
    lane.apply(TurnChange::Enters, "b", 2_000);
    assert_eq!(lane.waiting, 3);
    assert_eq!(
        lane.keys["a"].last_turn,
        fresh_turn(1_000),
        "the first job's time"
    );
    lane.apply(TurnChange::Starts, "a", 1_000);
    assert_eq!((lane.turn, lane.keys["a"].last_turn), (1, 1));
    lane.apply(TurnChange::Leaves, "b", 2_000);
    assert_eq!(
        (lane.waiting, lane.keys["a"].waiting, lane.keys["b"].waiting),
        (1, 1, 0)
    );
    lane.apply(TurnChange::Leaves, "b", 2_000);
    lane.apply(TurnChange::Leaves, "b", 2_000);
    assert_eq!(
        (lane.waiting, lane.keys["b"].waiting),
        (0, 0),
        "never below zero"
    );
}

#[test]
fn a_job_entering_counts_as_it_will_once_counted() {
    // a had a turn and has 3 waiting, b is fresh with 1, c had the latest turn with 2;
    // a higher lane has one.
    let before = snapshot(&[
        (Lane::High, lane_with(&[("h", 1, 1)])),
        (
            Lane::Normal,
            lane_with(&[("a", 3, 4), ("b", 1, fresh_turn(1_000)), ("c", 2, 6)]),
        ),
    ]);
    for (owner, created) in [("a", 5_000), ("b", 5_000), ("c", 5_000), ("new", 5_000)] {
        let mut after = before.clone();
        after
            .lanes
            .get_mut(&Lane::Normal)
            .unwrap()
            .apply(TurnChange::Enters, owner, created);
        let own_ahead = before.waiting_of(Lane::Normal, owner);
        assert_eq!(
            before.position_on_entry(Lane::Normal, owner, created),
            after.position(Lane::Normal, owner, own_ahead),
            "{owner}"
        );
    }
    // The newcomer is fresh, after b (fresh earlier): b's one, h's, then its own.
    assert_eq!(
        before.position_on_entry(Lane::Normal, "new", 5_000),
        QueuePosition {
            position: 3,
            total_pending: 8
        }
    );
    // a's fourth job: after h, then b a c a c a (b is fresh, c had the latest turn).
    assert_eq!(
        before.position_on_entry(Lane::Normal, "a", 5_000).position,
        8
    );
    // A lane nobody used yet.
    assert_eq!(
        before.position_on_entry(Lane::Low, "a", 5_000),
        QueuePosition {
            position: 8,
            total_pending: 8
        }
    );
}
