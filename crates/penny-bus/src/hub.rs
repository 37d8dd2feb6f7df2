//! The process's one Redis pub/sub connection: a task owns it, subscribes and unsubscribes
//! channels as local subscribers come and go, fans incoming messages out to them, and
//! when the connection drops, reconnects with backoff and subscribes every live channel
//! again, telling their subscribers about the gap.
//!
//! Built on `redis::aio::PubSub::split` (redis 0.27) rather than RESP3 push messages on a
//! multiplexed connection, because:
//! - `PubSubSink::subscribe` resolves only once Redis has confirmed the SUBSCRIBE, which is
//!   what lets `Bus::subscribe` promise that no later publish is missed; the sink is a
//!   cheap handle, so the task awaits confirmations while it keeps dispatching messages;
//! - it works whatever protocol the URL selects, where push messages need `protocol=resp3`;
//! - a dedicated connection ends its message stream when the link drops, which is the
//!   signal the gap detection needs (a `ConnectionManager` reconnects silently and loses
//!   its subscriptions on the way).
//!
//! The task is the only owner of the topic map, so subscribe, release and the Redis
//! confirmations are handled one at a time and never race; at most one SUBSCRIBE or
//! UNSUBSCRIBE per channel is in flight.

use std::collections::hash_map::Entry;
use std::collections::HashMap;
use std::future::Future;
use std::io;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use futures::future::BoxFuture;
use futures::stream::FuturesUnordered;
use futures::{FutureExt, StreamExt};
use rand::Rng;
use redis::aio::{PubSub, PubSubSink};
use redis::{Client, Msg, RedisError};
use tokio::sync::{broadcast, mpsc, oneshot};
use tracing::{info, warn};

use crate::redis_bus::{CONNECT_TIMEOUT, RESPONSE_TIMEOUT};
use crate::{topic_channel, BusError, Delivery, Release, Subscription};

const FIRST_RETRY: Duration = Duration::from_millis(100);
const LAST_RETRY: Duration = Duration::from_secs(5);
const DOWN: &str = "Redis pub/sub connection is down, reconnecting";

type Reply = oneshot::Sender<Result<Subscription, BusError>>;

enum Command {
    Subscribe {
        channel: String,
        reply: Reply,
    },
    /// A subscription was dropped.
    Release {
        channel: String,
    },
}

/// The handle `RedisBus` keeps; dropping it stops the task.
pub(crate) struct Hub {
    commands: mpsc::UnboundedSender<Command>,
    connected: Arc<AtomicBool>,
    _stop: oneshot::Sender<()>,
}

impl Hub {
    /// Opens the connection before returning, so that an unreachable Redis fails at start.
    pub(crate) async fn start(client: Client, capacity: usize) -> Result<Self, BusError> {
        let conn = connect(&client).await.map_err(|e| {
            BusError::Unavailable(format!("opening the Redis pub/sub connection: {e}"))
        })?;
        let (commands, inbox) = mpsc::unbounded_channel();
        let (stop, stopped) = oneshot::channel();
        let connected = Arc::new(AtomicBool::new(true));
        let task = Task {
            client,
            capacity,
            inbox,
            commands: commands.clone(),
            topics: HashMap::new(),
            epoch: 0,
            connected: Arc::clone(&connected),
        };
        tokio::spawn(task.run(conn, stopped));
        Ok(Self {
            commands,
            connected,
            _stop: stop,
        })
    }

    pub(crate) async fn subscribe(&self, channel: String) -> Result<Subscription, BusError> {
        let (reply, answer) = oneshot::channel();
        let stopped = || BusError::Unavailable("the Redis bus was shut down".into());
        self.commands
            .send(Command::Subscribe { channel, reply })
            .map_err(|_| stopped())?;
        // Giving up here is safe: the subscription, when it comes, is dropped with the
        // reply and releases itself.
        match tokio::time::timeout(RESPONSE_TIMEOUT, answer).await {
            Ok(answer) => answer.map_err(|_| stopped())?,
            Err(_) => Err(BusError::Unavailable(format!(
                "Redis did not confirm SUBSCRIBE within {RESPONSE_TIMEOUT:?}"
            ))),
        }
    }

    pub(crate) fn is_connected(&self) -> bool {
        self.connected.load(Ordering::Relaxed)
    }
}

async fn connect(client: &Client) -> Result<PubSub, String> {
    match tokio::time::timeout(CONNECT_TIMEOUT, client.get_async_pubsub()).await {
        Ok(Ok(conn)) => Ok(conn),
        Ok(Err(e)) => Err(e.to_string()),
        Err(_) => Err(format!("no answer within {CONNECT_TIMEOUT:?}")),
    }
}

struct Task {
    client: Client,
    capacity: usize,
    inbox: mpsc::UnboundedReceiver<Command>,
    /// Handed to every subscription, whose drop reports back through it.
    commands: mpsc::UnboundedSender<Command>,
    /// Keyed by Redis channel name.
    topics: HashMap<String, Topic>,
    /// How many times the connection was lost.
    epoch: u64,
    connected: Arc<AtomicBool>,
}

struct Topic {
    sender: broadcast::Sender<Delivery>,
    state: State,
}

enum State {
    /// SUBSCRIBE sent; these callers get their subscription once Redis confirms it.
    /// `resync`: subscribed again after a lost connection, so the subscribers already
    /// there are told about the gap.
    Subscribing { waiters: Vec<Waiter>, resync: bool },
    /// Subscribed (or, while the connection is down, to be subscribed again).
    Live,
    /// UNSUBSCRIBE sent after the last subscriber left; callers that came meanwhile
    /// subscribe again once it is confirmed.
    Unsubscribing { waiters: Vec<Waiter> },
}

/// A caller of `subscribe`, and its subscription, created as soon as it asked so that it
/// misses nothing that arrives after the confirmation.
struct Waiter {
    reply: Reply,
    subscription: Subscription,
}

impl Waiter {
    fn answer(self) {
        // A caller that gave up drops the subscription, which releases itself.
        let _ = self.reply.send(Ok(self.subscription));
    }

    fn fail(self, why: &str) {
        let _ = self.reply.send(Err(BusError::Unavailable(why.to_owned())));
    }
}

enum Done {
    Subscribed(String, Result<(), RedisError>),
    Unsubscribed(String, Result<(), RedisError>),
}

type Pending = FuturesUnordered<BoxFuture<'static, Done>>;

/// The pub/sub connection is gone.
struct Lost;

enum Ended {
    Stopped,
    Lost,
}

impl Task {
    async fn run(mut self, mut conn: PubSub, mut stopped: oneshot::Receiver<()>) {
        loop {
            if let Ended::Stopped = self.serve(conn, &mut stopped).await {
                return;
            }
            self.connected.store(false, Ordering::Relaxed);
            self.epoch += 1;
            self.forget_connection();
            warn!(
                topics = self.topics.len(),
                "Redis pub/sub connection lost, reconnecting"
            );
            match self.reconnect(&mut stopped).await {
                Some(next) => conn = next,
                None => return,
            }
            self.connected.store(true, Ordering::Relaxed);
            info!(
                topics = self.topics.len(),
                "Redis pub/sub connection re-established"
            );
        }
    }

    async fn serve(&mut self, conn: PubSub, stopped: &mut oneshot::Receiver<()>) -> Ended {
        let (sink, mut messages) = conn.split();
        let mut pending = Pending::new();
        for (channel, topic) in &mut self.topics {
            topic.state = State::Subscribing {
                waiters: Vec::new(),
                resync: true,
            };
            pending.push(subscribe(&sink, channel.clone()));
        }
        loop {
            let step = tokio::select! {
                _ = &mut *stopped => return Ended::Stopped,
                Some(done) = pending.next() => self.on_done(done, &sink, &mut pending),
                Some(command) = self.inbox.recv() => {
                    self.on_command(command, &sink, &mut pending);
                    Ok(())
                }
                message = messages.next() => match message {
                    Some(message) => {
                        self.dispatch(&message);
                        Ok(())
                    }
                    None => Err(Lost),
                },
            };
            if step.is_err() {
                return Ended::Lost;
            }
        }
    }

    fn dispatch(&self, message: &Msg) {
        if let Some(topic) = self.topics.get(message.get_channel_name()) {
            let payload = Bytes::copy_from_slice(message.get_payload_bytes());
            // Fails only when every subscriber just left; the release follows.
            let _ = topic.sender.send(Delivery::Message(payload));
        }
    }

    fn on_command(&mut self, command: Command, sink: &PubSubSink, pending: &mut Pending) {
        match command {
            Command::Subscribe { channel, reply } => {
                let topic = match self.topics.entry(channel.clone()) {
                    Entry::Occupied(entry) => entry.into_mut(),
                    Entry::Vacant(entry) => {
                        pending.push(subscribe(sink, channel.clone()));
                        entry.insert(Topic {
                            sender: topic_channel(self.capacity),
                            state: State::Subscribing {
                                waiters: Vec::new(),
                                resync: false,
                            },
                        })
                    }
                };
                let subscription =
                    new_subscription(&topic.sender, channel, self.epoch, &self.commands);
                let waiter = Waiter {
                    reply,
                    subscription,
                };
                match &mut topic.state {
                    State::Live => waiter.answer(),
                    State::Subscribing { waiters, .. } | State::Unsubscribing { waiters } => {
                        waiters.push(waiter);
                    }
                }
            }
            Command::Release { channel } => {
                if let Some(topic) = self.topics.get_mut(&channel) {
                    unsubscribe_if_unused(topic, channel, sink, pending);
                }
            }
        }
    }

    fn on_done(
        &mut self,
        done: Done,
        sink: &PubSubSink,
        pending: &mut Pending,
    ) -> Result<(), Lost> {
        match done {
            Done::Subscribed(channel, result) => {
                let Some(topic) = self.topics.get_mut(&channel) else {
                    return Ok(());
                };
                let (waiters, resync) = match std::mem::replace(&mut topic.state, State::Live) {
                    State::Subscribing { waiters, resync } => (waiters, resync),
                    other => {
                        topic.state = other;
                        return Ok(());
                    }
                };
                match result {
                    Ok(()) => {
                        if resync {
                            let _ = topic.sender.send(Delivery::Gap { epoch: self.epoch });
                        }
                        waiters.into_iter().for_each(Waiter::answer);
                        unsubscribe_if_unused(topic, channel, sink, pending);
                    }
                    Err(e) if is_connection_error(&e) => {
                        waiters.into_iter().for_each(|w| w.fail(DOWN));
                        return Err(Lost);
                    }
                    Err(e) => {
                        warn!(%channel, error = %e, "Redis refused SUBSCRIBE");
                        let why = format!("Redis refused SUBSCRIBE: {e}");
                        waiters.into_iter().for_each(|w| w.fail(&why));
                        // Subscribers kept from before a reconnect can no longer be
                        // served: closing the topic ends their stream rather than
                        // leaving it silent.
                        self.topics.remove(&channel);
                    }
                }
            }
            Done::Unsubscribed(channel, result) => {
                if let Err(e) = result {
                    if is_connection_error(&e) {
                        return Err(Lost);
                    }
                    // The channel then stays subscribed with nobody listening, which
                    // costs a little traffic but no correctness.
                    warn!(%channel, error = %e, "Redis refused UNSUBSCRIBE");
                }
                let Some(topic) = self.topics.get_mut(&channel) else {
                    return Ok(());
                };
                match std::mem::replace(&mut topic.state, State::Live) {
                    State::Unsubscribing { waiters } if waiters.is_empty() => {
                        self.topics.remove(&channel);
                    }
                    State::Unsubscribing { waiters } => {
                        topic.state = State::Subscribing {
                            waiters,
                            resync: false,
                        };
                        pending.push(subscribe(sink, channel));
                    }
                    other => topic.state = other,
                }
            }
        }
        Ok(())
    }

    /// After a lost connection: fail the callers still waiting for a confirmation and
    /// drop the topics nobody listens to any more; the others are subscribed again by the
    /// next `serve`.
    fn forget_connection(&mut self) {
        for topic in self.topics.values_mut() {
            match std::mem::replace(&mut topic.state, State::Live) {
                State::Subscribing { waiters, .. } | State::Unsubscribing { waiters } => {
                    waiters.into_iter().for_each(|w| w.fail(DOWN));
                }
                State::Live => {}
            }
        }
        self.topics
            .retain(|_, topic| topic.sender.receiver_count() > 0);
    }

    /// Retries with exponential backoff and jitter (so that instances do not all come back
    /// at once); `None` when the bus was dropped meanwhile.
    async fn reconnect(&mut self, stopped: &mut oneshot::Receiver<()>) -> Option<PubSub> {
        let mut delay = FIRST_RETRY;
        loop {
            let client = self.client.clone();
            match self
                .offline(async move { connect(&client).await }, stopped)
                .await?
            {
                Ok(conn) => return Some(conn),
                Err(e) => warn!(error = %e, retry_in = ?delay, "Redis pub/sub reconnect failed"),
            }
            let pause = delay.mul_f64(rand::thread_rng().gen_range(0.5..=1.0));
            self.offline(tokio::time::sleep(pause), stopped).await?;
            delay = (delay * 2).min(LAST_RETRY);
        }
    }

    /// Runs `work` while the connection is down, answering subscribers meanwhile.
    async fn offline<T>(
        &mut self,
        work: impl Future<Output = T>,
        stopped: &mut oneshot::Receiver<()>,
    ) -> Option<T> {
        tokio::pin!(work);
        loop {
            tokio::select! {
                _ = &mut *stopped => return None,
                out = &mut work => return Some(out),
                Some(command) = self.inbox.recv() => match command {
                    Command::Subscribe { reply, .. } => {
                        let _ = reply.send(Err(BusError::Unavailable(DOWN.into())));
                    }
                    Command::Release { channel } => {
                        if self.topics.get(&channel).is_some_and(|t| t.sender.receiver_count() == 0) {
                            self.topics.remove(&channel);
                        }
                    }
                },
            }
        }
    }
}

fn new_subscription(
    sender: &broadcast::Sender<Delivery>,
    channel: String,
    epoch: u64,
    commands: &mpsc::UnboundedSender<Command>,
) -> Subscription {
    let commands = commands.clone();
    Subscription::new(
        sender.subscribe(),
        epoch,
        Release::new(move || {
            // Fails only once the task has stopped, and then there is nothing to release.
            let _ = commands.send(Command::Release { channel });
        }),
    )
}

fn unsubscribe_if_unused(
    topic: &mut Topic,
    channel: String,
    sink: &PubSubSink,
    pending: &mut Pending,
) {
    if matches!(topic.state, State::Live) && topic.sender.receiver_count() == 0 {
        topic.state = State::Unsubscribing {
            waiters: Vec::new(),
        };
        pending.push(unsubscribe(sink, channel));
    }
}

fn subscribe(sink: &PubSubSink, channel: String) -> BoxFuture<'static, Done> {
    let mut sink = sink.clone();
    async move {
        let result = confirmed(sink.subscribe(&channel)).await;
        Done::Subscribed(channel, result)
    }
    .boxed()
}

fn unsubscribe(sink: &PubSubSink, channel: String) -> BoxFuture<'static, Done> {
    let mut sink = sink.clone();
    async move {
        let result = confirmed(sink.unsubscribe(&channel)).await;
        Done::Unsubscribed(channel, result)
    }
    .boxed()
}

/// A confirmation that does not come means a dead link that TCP has not noticed yet: it
/// is treated as a lost connection.
async fn confirmed(
    request: impl Future<Output = Result<(), RedisError>>,
) -> Result<(), RedisError> {
    match tokio::time::timeout(RESPONSE_TIMEOUT, request).await {
        Ok(result) => result,
        Err(_) => Err(io::Error::new(io::ErrorKind::TimedOut, "no confirmation from Redis").into()),
    }
}

fn is_connection_error(e: &RedisError) -> bool {
    e.is_io_error() || e.is_unrecoverable_error()
}
