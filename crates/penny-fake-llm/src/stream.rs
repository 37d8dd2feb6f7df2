//! Sending a streamed answer: frames paced by the token delay, cut short when the script
//! says disconnect or stall.

use std::io;
use std::time::Duration;

use axum::body::{Body, Bytes};
use tokio::sync::{mpsc, watch};

use crate::script::Ending;

/// An answer's wire frames: sent at once (`head`), paced (`tokens`), then at once (`tail`).
#[derive(Debug, Default)]
pub(crate) struct Frames {
    pub head: Vec<String>,
    pub tokens: Vec<String>,
    pub tail: Vec<String>,
}

/// Lets the last frames reach the socket before a deliberate disconnect.
const FLUSH_PAUSE: Duration = Duration::from_millis(20);

type Frame = Result<Bytes, io::Error>;

/// The response body. A task writes the frames into a small channel, so a client that
/// goes away (the body is dropped) ends the task at its next send.
pub(crate) fn body(
    frames: Frames,
    delay: Duration,
    ending: Ending,
    shutdown: watch::Receiver<bool>,
) -> Body {
    let (tx, rx) = mpsc::channel::<Frame>(8);
    tokio::spawn(send(frames, delay, ending, tx, shutdown));
    Body::from_stream(futures::stream::unfold(rx, |mut rx| async move {
        rx.recv().await.map(|frame| (frame, rx))
    }))
}

async fn send(
    frames: Frames,
    delay: Duration,
    ending: Ending,
    tx: mpsc::Sender<Frame>,
    mut shutdown: watch::Receiver<bool>,
) {
    let Frames { head, tokens, tail } = frames;
    let cut = match ending {
        Ending::Complete => None,
        Ending::Disconnect(n) | Ending::Stall(n) => Some(n),
    };
    for frame in head {
        if tx.send(Ok(frame.into())).await.is_err() {
            return;
        }
    }
    for (i, token) in tokens.into_iter().enumerate() {
        if cut == Some(i) {
            break;
        }
        if i > 0 && !delay.is_zero() {
            tokio::select! {
                () = tokio::time::sleep(delay) => {}
                () = stopped(&mut shutdown) => return abort(&tx).await,
            }
        }
        if tx.send(Ok(token.into())).await.is_err() {
            return;
        }
    }
    match ending {
        Ending::Complete => {
            for frame in tail {
                if tx.send(Ok(frame.into())).await.is_err() {
                    return;
                }
            }
        }
        Ending::Disconnect(_) => {
            // The server must have taken every frame, and found the channel empty (which
            // makes it flush), before the cut; else the last tokens could be lost with it.
            while tx.capacity() < tx.max_capacity() {
                if tx.is_closed() {
                    return;
                }
                tokio::time::sleep(Duration::from_millis(1)).await;
            }
            tokio::time::sleep(FLUSH_PAUSE).await;
            abort(&tx).await;
        }
        Ending::Stall(_) => {
            // Silent until the client gives up or the server stops.
            tokio::select! {
                () = tx.closed() => {}
                () = stopped(&mut shutdown) => abort(&tx).await,
            }
        }
    }
}

/// An error from the body makes the server drop the connection without ending the
/// chunked encoding: to the client, the stream was cut.
async fn abort(tx: &mpsc::Sender<Frame>) {
    let cut = io::Error::new(io::ErrorKind::ConnectionAborted, "scripted disconnect");
    let _ = tx.send(Err(cut)).await;
}

/// The server is stopping (or gone).
async fn stopped(shutdown: &mut watch::Receiver<bool>) {
    let _ = shutdown.wait_for(|stop| *stop).await;
}
