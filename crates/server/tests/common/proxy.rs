//! A small TCP proxy for the mirror path that can delay, duplicate, garble or cut what
//! passes through it. Plain threads and blocking sockets: it only has to be nasty.

use std::{
    io::{Read, Write},
    net::{Shutdown, SocketAddr, TcpListener, TcpStream},
    sync::{
        Arc, Mutex,
        atomic::{AtomicU64, Ordering},
    },
    time::Duration,
};

/// What the proxy does to the bytes passing through.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Fault {
    /// Nothing.
    Pass,
    /// Holds every read for this long before passing it on.
    Delay(Duration),
    /// Sends about one read in 32 twice.
    Duplicate,
    /// Flips a byte in about one read in 32.
    Garble,
    /// Refuses connections (and `cut` closes the open ones).
    Refuse,
}

/// The proxy.
pub struct Proxy {
    /// Where the twin dials.
    pub addr: SocketAddr,
    fault: Arc<Mutex<Fault>>,
    open: Arc<Mutex<Vec<TcpStream>>>,
}

fn random(state: &AtomicU64) -> u64 {
    // xorshift64: enough randomness for fault injection.
    let mut x = state.load(Ordering::Relaxed);
    x ^= x << 13;
    x ^= x >> 7;
    x ^= x << 17;
    state.store(x, Ordering::Relaxed);
    x
}

impl Proxy {
    /// Starts a proxy in front of `target`.
    pub fn start(target: SocketAddr) -> Proxy {
        let l = TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = l.local_addr().unwrap();
        let fault = Arc::new(Mutex::new(Fault::Pass));
        let open: Arc<Mutex<Vec<TcpStream>>> = Arc::default();
        let seed = Arc::new(AtomicU64::new(0x9e37_79b9_7f4a_7c15));
        let (f, o) = (fault.clone(), open.clone());
        std::thread::spawn(move || {
            for client in l.incoming().map_while(Result::ok) {
                if *f.lock().unwrap() == Fault::Refuse {
                    continue;
                }
                let Ok(server) = TcpStream::connect(target) else {
                    continue;
                };
                {
                    let mut open = o.lock().unwrap();
                    open.push(client.try_clone().unwrap());
                    open.push(server.try_clone().unwrap());
                }
                for (mut from, mut to) in [
                    (client.try_clone().unwrap(), server.try_clone().unwrap()),
                    (server, client),
                ] {
                    let (f, seed) = (f.clone(), seed.clone());
                    std::thread::spawn(move || {
                        let mut buf = vec![0u8; 16 * 1024];
                        loop {
                            let n = match from.read(&mut buf) {
                                Ok(0) | Err(_) => break,
                                Ok(n) => n,
                            };
                            let chunk = &mut buf[..n];
                            let fault = *f.lock().unwrap();
                            let mut times = 1;
                            match fault {
                                Fault::Pass | Fault::Refuse => {}
                                Fault::Delay(d) => std::thread::sleep(d),
                                Fault::Duplicate if random(&seed).is_multiple_of(32) => times = 2,
                                Fault::Garble if random(&seed).is_multiple_of(32) => {
                                    let i = (random(&seed) as usize) % n;
                                    chunk[i] ^= 0x5a;
                                }
                                _ => {}
                            }
                            for _ in 0..times {
                                if to.write_all(chunk).is_err() {
                                    let _ = from.shutdown(Shutdown::Both);
                                    return;
                                }
                            }
                        }
                        let _ = to.shutdown(Shutdown::Both);
                    });
                }
            }
        });
        Proxy { addr, fault, open }
    }

    /// Changes what the proxy does from now on.
    pub fn set(&self, fault: Fault) {
        *self.fault.lock().unwrap() = fault;
    }

    /// Closes every connection open through the proxy.
    pub fn cut(&self) {
        for s in self.open.lock().unwrap().drain(..) {
            let _ = s.shutdown(Shutdown::Both);
        }
    }
}
