//! A database outage for tests, without touching the shared Postgres server: a TCP proxy in
//! front of one test database that refuses new connections and closes open ones, as a stopped
//! or unreachable server does, and comes back on the same port.
#![allow(dead_code)]

use crate::support::TestDb;
use std::sync::{Arc, Mutex};
use tokio::net::{TcpListener, TcpStream};
use tokio::task::JoinHandle;

/// A proxy to `upstream` on a fixed loopback port that can be cut and restored.
pub struct Outage {
    port: u16,
    upstream: String,
    connections: Arc<Mutex<Vec<JoinHandle<()>>>>,
    accept: Option<JoinHandle<()>>,
}

impl Outage {
    /// Puts a proxy in front of `db` (Postgres) and points `db.url` at it.
    pub async fn in_front_of(db: &mut TestDb) -> Outage {
        let mut url = reqwest::Url::parse(&db.url).unwrap();
        let upstream = format!("{}:{}", url.host_str().unwrap(), url.port().unwrap_or(5432));
        let outage = Outage::start(upstream).await;
        url.set_host(Some("127.0.0.1")).unwrap();
        url.set_port(Some(outage.port)).unwrap();
        db.url = url.to_string();
        outage
    }

    async fn start(upstream: String) -> Outage {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let mut outage = Outage {
            port: listener.local_addr().unwrap().port(),
            upstream,
            connections: Arc::default(),
            accept: None,
        };
        outage.accept = Some(outage.forward(listener));
        outage
    }

    fn forward(&self, listener: TcpListener) -> JoinHandle<()> {
        let (upstream, connections) = (self.upstream.clone(), self.connections.clone());
        tokio::spawn(async move {
            while let Ok((mut client, _)) = listener.accept().await {
                let upstream = upstream.clone();
                let connection = tokio::spawn(async move {
                    if let Ok(mut server) = TcpStream::connect(&upstream).await {
                        let _ = tokio::io::copy_bidirectional(&mut client, &mut server).await;
                    }
                });
                connections.lock().unwrap().push(connection);
            }
        })
    }

    /// New connections are refused, open ones closed.
    pub async fn cut(&mut self) {
        let accept = self.accept.take().expect("not cut yet");
        accept.abort();
        let _ = accept.await;
        let open: Vec<_> = self.connections.lock().unwrap().drain(..).collect();
        for connection in open {
            connection.abort();
            let _ = connection.await;
        }
    }

    /// Accepts again, on the same port.
    pub async fn restore(&mut self) {
        let listener = TcpListener::bind(("127.0.0.1", self.port)).await.unwrap();
        self.accept = Some(self.forward(listener));
    }
}
