//! Runs the issue tracker's reducers over `MemoryDatabase` and prints each
//! event, the changeset it caused, and the final state.
//!
//! `cargo run -p tracker-demo`

use flux_capacitor::testing::conformance;
use flux_capacitor::{Event, MemoryDatabase, StoredEvent};
use serde_json::json;

fn main() {
    let root = conformance::reducer();
    let mut db = MemoryDatabase::new();
    let events = [
        Event::new("addUser", json!({ "handle": "mary", "name": "Mary" })),
        Event::new(
            "addIssue",
            json!({ "id": "1", "title": "Flux capacitor leaks", "author": "mary", "priority": 2 }),
        ),
        Event::new(
            "addIssue",
            json!({ "id": "2", "title": "Needs 1.21 gigawatts", "author": "mary" }),
        ),
        Event::new("closeIssue", json!({ "id": "1" })),
        Event::new(
            "addIssue",
            json!({ "id": "2", "title": "Same id again", "author": "mary" }),
        ),
        Event::new("purgeClosed", json!({})),
        Event::new("somethingNoReducerKnows", json!({})),
    ];
    // As in the store, a failed event takes no `seq`: the log stays gap-free.
    let mut seq = 0;
    for event in events {
        seq += 1;
        let stored = StoredEvent::at(seq, flux_capacitor::testing::timestamp_for(seq), event);
        println!(
            "#{seq} {}",
            serde_json::to_string(&stored.event).expect("event serializes")
        );
        match db.dispatch(&root, &stored) {
            Ok(changeset) => println!("   -> {}", changeset.to_string().replace('\n', "\n      ")),
            Err(err) => {
                println!("   !! {err} (nothing written)");
                seq -= 1;
            }
        }
    }
    let state = serde_json::to_string_pretty(&db.snapshot()).expect("state serializes");
    println!("\nstate:\n{state}");
}
