//! `shmkit top`: the rates of a broadcast and a channel that another process (this test)
//! drives, read from the objects' own counters, as JSON snapshots and as a table.

use std::time::Duration;

use shmkit::channel::{self, broadcast};

use crate::{assert_code, shmkit, stdout, Name};

/// The object named `name` in a `top --json` snapshot line.
fn object<'a>(snap: &'a serde_json::Value, name: &str) -> &'a serde_json::Value {
    snap["objects"]
        .as_array()
        .expect("objects")
        .iter()
        .find(|o| o["name"] == name)
        .unwrap_or_else(|| panic!("{name} not in {snap}"))
}

/// Equal to within a message of `size` bytes at each end of a 300 ms interval: a count and
/// its byte count are two stores, and `top` may read them between the two.
fn same_rate(a: f64, b: f64, size: f64) -> bool {
    (a - b).abs() <= 2.0 * size / 0.25
}

#[test]
fn top_shows_the_rates_and_shape_of_what_others_publish() {
    let bc = Name::new("top-bc");
    let ch = Name::new("top-ch");
    let mut publ = broadcast::options()
        .slots(8)
        .slot_size(256)
        .policy(broadcast::Policy::Overwrite)
        .create_publisher(&bc)
        .unwrap();
    let _sub = broadcast::options().open_subscriber(&bc).unwrap();
    let mut tx = channel::options()
        .capacity(1 << 20)
        .create_producer(&ch)
        .unwrap();
    // Send steadily on both (nobody reads them: the ring holds it all, the broadcast
    // overwrites) while `top` takes three snapshots.
    let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let worker = {
        let stop = stop.clone();
        std::thread::spawn(move || {
            while !stop.load(std::sync::atomic::Ordering::Relaxed) {
                tx.try_send(&[7; 100]).ok(); // a full ring: try again later
                publ.send(&[1; 50]).unwrap();
                std::thread::sleep(Duration::from_millis(2));
            }
            (tx, publ) // kept: the names go with them
        })
    };
    let out = shmkit(&["top", "--json", "--count", "3", "--interval", "300ms"]);
    assert_code(&out, 0);
    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    let _keep = worker.join().unwrap();
    let lines: Vec<serde_json::Value> = stdout(&out)
        .lines()
        .map(|l| serde_json::from_str(l).expect("a JSON line"))
        .collect();
    assert_eq!(lines.len(), 3, "{}", stdout(&out));
    assert_eq!(lines[0]["schema"], 1);
    let first = object(&lines[0], &ch);
    assert!(
        first["messages_per_s"].as_f64().is_some(),
        "the first snapshot has rates: {first}"
    );
    let last = object(&lines[2], &ch);
    assert!(
        last["messages_per_s"].as_f64().unwrap() > 0.0,
        "the channel was sent to all along: {last}"
    );
    let (m, b) = (
        last["messages_per_s"].as_f64(),
        last["bytes_per_s"].as_f64(),
    );
    assert!(
        same_rate(b.unwrap(), 100.0 * m.unwrap(), 100.0),
        "100-byte messages: {last}"
    );
    assert_eq!(last["details"]["kind"], "channel");
    let b = object(&lines[2], &bc);
    assert_eq!(b["kind"], "broadcast_channel");
    assert_eq!(b["details"]["slots"], 8);
    assert_eq!(b["details"]["subscribers"].as_array().unwrap().len(), 1);
    let rate = b["messages_per_s"].as_f64().unwrap();
    assert!(rate > 0.0, "{b}");
    assert!(
        same_rate(b["bytes_per_s"].as_f64().unwrap(), 50.0 * rate, 50.0),
        "{b}"
    );
    assert!(
        b["details"]["subscribers"][0]["lag"].as_u64().unwrap() > 0,
        "{b}"
    );

    // As a table (off a terminal: one table per refresh, then a blank line).
    let out = shmkit(&["top", "--count", "1"]);
    assert_code(&out, 0);
    let text = stdout(&out);
    assert!(text.starts_with("NAME "), "{text}");
    let row = text
        .lines()
        .find(|l| l.starts_with(&*bc))
        .unwrap_or_else(|| panic!("{} not in\n{text}", &*bc));
    assert!(
        row.contains("broadcast_channel") && row.contains("1/"),
        "{row}"
    );
}
