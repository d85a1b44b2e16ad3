//! The seed's program in Rust: watch `cdd` and print changes, while the main loop prints
//! "Critical Section!" under the program's own lock. Members come from `TURTLE_ENDPOINTS`.
//!
//! `TURTLE_ENDPOINTS=127.0.0.1:2379 cargo run -p turtle-examples --bin service_finder`

use std::sync::{Arc, Mutex};
use std::time::Duration;

use turtle_finder::ServiceFinder;

fn main() -> Result<(), turtle_finder::Error> {
    let lock = Arc::new(Mutex::new(()));
    let sf = ServiceFinder::from_env()?;
    println!("cdd = {:?}", sf.get_service("cdd")?);
    let l = lock.clone();
    sf.watch_service("cdd", move |change| {
        let _guard = l.lock().unwrap();
        println!("Key change: {:?}", change.value_str().ok().flatten());
    })?;
    loop {
        std::thread::sleep(Duration::from_secs(1));
        let _guard = lock.lock().unwrap();
        println!("Critical Section!");
    }
}
