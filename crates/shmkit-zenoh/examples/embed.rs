//! The bridge embedded in a program: typed ticks published on one machine, read on another.
//!
//! ```text
//! machine A:  cargo run -p shmkit-zenoh --example embed -- export lab/ticks tcp/0.0.0.0:7447
//! machine B:  cargo run -p shmkit-zenoh --example embed -- import lab/ticks tcp/10.0.0.1:7447
//! ```
//!
//! (On one machine, give the importer another local name as a fourth argument, e.g. `ticks2`:
//! both bridges would otherwise want the broadcast `ticks`.)
//!
//! A listens on the endpoint, B connects to it (multicast scouting is off: only the endpoint
//! is used). On A the program publishes a `Tick` every 100 ms on the local typed broadcast
//! `ticks` and exports it; any other local process could subscribe to `ticks` too. On B it
//! imports `lab/ticks` into the local broadcast `ticks`, recording the same layout, and reads
//! it as any local subscriber would.

use std::time::Duration;

use shmkit::channel::{broadcast, MessageLayout};
use shmkit::sync::{Pod, Zeroable};
use shmkit_zenoh::{ExportOptions, ImportOptions, SessionConfig};

#[repr(C)]
#[derive(Clone, Copy, Debug, Pod, Zeroable)]
struct Tick {
    seq: u64,
    price: f64,
}

const TAG: &str = "tick v1";

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let usage = "usage: embed export|import KEY ENDPOINT [LOCAL-NAME]";
    let (role, key, endpoint) = match &args[..] {
        [r, k, e] | [r, k, e, _] => (r.clone(), k.clone(), e.clone()),
        _ => return Err(usage.into()),
    };
    let local = args.get(3).map_or("ticks", String::as_str);
    let mut zenoh = SessionConfig {
        no_multicast_scouting: true,
        ..Default::default()
    };
    match role.as_str() {
        "export" => {
            zenoh.listen.push(endpoint);
            let session = zenoh.open()?;
            let mut publ = broadcast::typed::<Tick>()
                .tag(TAG)
                .create_publisher(local)?;
            // The bridge is one more subscriber of the local broadcast.
            let sub = broadcast::options().open_subscriber(local)?;
            let bridge = shmkit_zenoh::export(&session, &key, sub, &ExportOptions::default())?;
            for seq in 0.. {
                publ.send(&Tick {
                    seq,
                    price: 100.0 + (seq as f64).sin(),
                })?;
                if seq % 10 == 0 {
                    println!("published {seq}; bridge: {:?}", bridge.stats());
                }
                std::thread::sleep(Duration::from_millis(100));
            }
        }
        "import" => {
            zenoh.connect.push(endpoint);
            let session = zenoh.open()?;
            let layout = MessageLayout::of::<Tick>(Some(TAG));
            let mut opts = ImportOptions::default();
            opts.layout(layout);
            let _bridge = shmkit_zenoh::import(&session, &key, local, &opts)?;
            // Local code does not know the ticks come from another machine.
            let mut sub = broadcast::typed::<Tick>().tag(TAG).open_subscriber(local)?;
            loop {
                let tick = sub.recv_copy()?;
                println!("{tick:?}");
            }
        }
        _ => return Err("the role is export or import".into()),
    }
    Ok(())
}
