//! A TCP proxy in front of Redis, so that a test can tell its own bus's connections from
//! those of tests running in parallel, and keep the bus from reconnecting for a while.

use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use redis::ConnectionAddr;
use tokio::net::{TcpListener, TcpStream};
use tokio::task::JoinHandle;

pub struct Proxy {
    /// A Redis URL that goes through the proxy.
    pub url: String,
    upstream: Arc<Mutex<Vec<SocketAddr>>>,
    accepted: Arc<AtomicUsize>,
    refusing: Arc<AtomicBool>,
    accept_loop: JoinHandle<()>,
}

impl Proxy {
    pub async fn start(redis_url: &str) -> Self {
        let client = redis::Client::open(redis_url).unwrap();
        let info = client.get_connection_info();
        let ConnectionAddr::Tcp(host, port) = &info.addr else {
            panic!("the test Redis must be reached over plain TCP");
        };
        let target = format!("{host}:{port}");
        let auth = match (&info.redis.username, &info.redis.password) {
            (Some(user), Some(password)) => format!("{user}:{password}@"),
            (None, Some(password)) => format!(":{password}@"),
            _ => String::new(),
        };

        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!(
            "redis://{auth}{}/{}",
            listener.local_addr().unwrap(),
            info.redis.db
        );
        let upstream = Arc::new(Mutex::new(Vec::new()));
        let accepted = Arc::new(AtomicUsize::new(0));
        let refusing = Arc::new(AtomicBool::new(false));
        let accept_loop = tokio::spawn({
            let (upstream, accepted, refusing) =
                (upstream.clone(), accepted.clone(), refusing.clone());
            async move {
                while let Ok((mut client_side, _)) = listener.accept().await {
                    if refusing.load(Ordering::SeqCst) {
                        continue; // dropped: the client sees the connection close
                    }
                    accepted.fetch_add(1, Ordering::SeqCst);
                    let mut redis_side = TcpStream::connect(&target).await.unwrap();
                    upstream
                        .lock()
                        .unwrap()
                        .push(redis_side.local_addr().unwrap());
                    tokio::spawn(async move {
                        let _ =
                            tokio::io::copy_bidirectional(&mut client_side, &mut redis_side).await;
                    });
                }
            }
        });
        Self {
            url,
            upstream,
            accepted,
            refusing,
            accept_loop,
        }
    }

    /// Connections accepted so far.
    pub fn connections(&self) -> usize {
        self.accepted.load(Ordering::SeqCst)
    }

    /// The addresses Redis sees for the connections made through the proxy.
    pub fn upstream_addrs(&self) -> Vec<SocketAddr> {
        self.upstream.lock().unwrap().clone()
    }

    /// While refusing, new connections are closed at once.
    pub fn refuse(&self, refusing: bool) {
        self.refusing.store(refusing, Ordering::SeqCst);
    }
}

impl Drop for Proxy {
    fn drop(&mut self) {
        self.accept_loop.abort();
    }
}
