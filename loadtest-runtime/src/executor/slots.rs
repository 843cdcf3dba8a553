//! The open model's slots: long-lived tasks on one worker that run its share of the arrivals, at
//! most `max_in_flight` at once, as wrk2's connections run their schedule.
//!
//! The worker's schedule (its [`Arrivals`]) sits in a [`Hub`] that the worker's dispatcher
//! (`open.rs`) and its slots share. A slot that finishes an iteration takes the next arrival that
//! is already due straight from the schedule and starts it at once: no timer, no wake-up, no task
//! spawned. Only a slot that finds nothing due parks; the dispatcher, woken by the fine timer at
//! the next arrival's intended time, hands that arrival to a parked slot, or opens a new slot
//! while there are fewer than the cap, or (all busy, `on_saturation = "drop"`) drops it. With
//! `"queue"` a due arrival waits for the first slot to finish, and starts late; its latency
//! still counts from its intended start.
//!
//! Every arrival runs with a fresh [`Ctx`] (its number as user and iteration, no state, an empty
//! cookie jar), as a spawned iteration did. The hub's lock is only ever taken on the worker's own
//! thread, so it is never contended.

use super::Stop;
use super::iteration::{RunFn, record, run_once};
use super::stop::Watcher;
use crate::Ctx;
use crate::config::Arrivals;
use crate::http::deadline::UserTimer;
use crate::shared::TestShared;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::task::{Poll, Waker};
use std::time::Duration;
use tokio::time::Instant;

/// One arrival: its number in the whole schedule and its intended start.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Arrival {
    pub(crate) k: u64,
    pub(crate) intended: Instant,
}

/// A worker's share of the arrivals: the schedule, when it started, and the whole test's
/// iteration budget (arrival numbers at or past it never start).
pub(crate) struct Schedule {
    pub(crate) arrivals: Arrivals,
    pub(crate) start: Instant,
    pub(crate) budget: Option<u64>,
}

/// What the schedule has next.
enum Next {
    /// This arrival is due now (or overdue); it has been taken from the schedule.
    Due(Arrival),
    /// The next arrival is due at this instant.
    At(Instant),
    /// The schedule is over (its end, the iteration budget, or a stop).
    End,
}

/// A worker's schedule and slots.
pub(crate) struct Hub {
    state: Mutex<HubState>,
    test: Arc<TestShared>,
    run: RunFn,
    iteration_timeout: Option<Duration>,
    soft: Arc<Stop>,
    hard: Arc<Stop>,
    in_flight: Arc<AtomicU64>,
    /// Arrivals meant to start from this instant on count in the scheduling lag (the end of the
    /// health warm-up), read without the lock.
    judged_from: Instant,
}

struct HubState {
    arrivals: Arrivals,
    /// The next arrival, read from the schedule but not yet due.
    peeked: Option<Arrival>,
    start: Instant,
    /// The whole test's iteration budget (arrival numbers at or past it never start).
    budget: Option<u64>,
    ended: bool,
    /// Parked slots: their mailbox and waker.
    parked: Vec<Parked>,
    /// Slots alive (running an iteration or parked).
    live: usize,
    /// The dispatcher, when it waits for a slot to park or to end.
    dispatcher: Option<Waker>,
}

struct Parked {
    mailbox: Arc<Mailbox>,
}

/// Where a parked slot receives its next arrival, or the word that the schedule ended.
#[derive(Default)]
struct Mailbox(Mutex<Mail>);

#[derive(Default)]
struct Mail {
    arrival: Option<Arrival>,
    ended: bool,
    /// The parked slot's waker.
    reader: Option<Waker>,
}

impl Mailbox {
    /// Hands the parked slot an arrival (`Some`) or the end (`None`), and wakes it.
    fn send(&self, arrival: Option<Arrival>) {
        let mut mail = lock(&self.0);
        match arrival {
            Some(a) => mail.arrival = Some(a),
            None => mail.ended = true,
        }
        if let Some(w) = mail.reader.take() {
            w.wake();
        }
    }

    /// Waits for an arrival (`None`: the schedule ended).
    async fn receive(&self) -> Option<Arrival> {
        std::future::poll_fn(|cx| {
            let mut mail = lock(&self.0);
            if let Some(a) = mail.arrival.take() {
                return Poll::Ready(Some(a));
            }
            if mail.ended {
                return Poll::Ready(None);
            }
            mail.reader = Some(cx.waker().clone());
            Poll::Pending
        })
        .await
    }
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(PoisonError::into_inner)
}

impl HubState {
    /// The next arrival, without taking it.
    fn upcoming(&mut self, now: Instant) -> Next {
        if self.ended {
            return Next::End;
        }
        let arrival = match self.peeked {
            Some(a) => a,
            None => {
                let k = self.arrivals.next_index();
                if self.budget.is_some_and(|b| k >= b) {
                    self.ended = true;
                    return Next::End;
                }
                let Some(offset) = self.arrivals.next_offset() else {
                    self.ended = true;
                    return Next::End;
                };
                let a = Arrival {
                    k,
                    intended: self.start + Duration::from_secs_f64(offset),
                };
                self.peeked = Some(a);
                a
            }
        };
        if arrival.intended > now {
            Next::At(arrival.intended)
        } else {
            Next::Due(arrival)
        }
    }

    /// The next arrival, taken when due.
    fn next(&mut self, now: Instant) -> Next {
        let next = self.upcoming(now);
        if matches!(next, Next::Due(_)) {
            self.peeked = None;
        }
        next
    }
}

/// What the dispatcher did with the schedule's next arrival.
pub(crate) enum Step {
    /// It was due and started (in a parked slot or a new one).
    Started,
    /// It was due, every slot was busy at the cap, and `drop` said to drop it.
    Dropped,
    /// It is due, every slot is busy at the cap: the first slot to finish starts it.
    Busy,
    /// The next arrival is due at this instant.
    At(Instant),
    /// The schedule is over.
    End,
}

impl Hub {
    pub(crate) fn new(
        test: Arc<TestShared>,
        run: RunFn,
        schedule: Schedule,
        iteration_timeout: Option<Duration>,
        soft: Arc<Stop>,
        hard: Arc<Stop>,
    ) -> Arc<Hub> {
        let Schedule {
            arrivals,
            start,
            budget,
        } = schedule;
        let in_flight = test.gauges.in_flight_counter();
        Arc::new(Hub {
            state: Mutex::new(HubState {
                arrivals,
                peeked: None,
                start,
                budget,
                ended: false,
                parked: Vec::new(),
                live: 0,
                dispatcher: None,
            }),
            judged_from: start + test.health_warm_up,
            test,
            run,
            iteration_timeout,
            soft,
            hard,
            in_flight,
        })
    }

    /// Starts the schedule's next arrival if it is due: in a parked slot, or a new one while
    /// fewer than `cap` are alive; drops it when all are busy and `drop` is set.
    pub(crate) fn step(self: &Arc<Self>, now: Instant, cap: usize, drop: bool) -> Step {
        let mut state = lock(&self.state);
        if self.soft.is_stopped() {
            state.ended = true;
        }
        let arrival = match state.upcoming(now) {
            Next::End => return Step::End,
            Next::At(t) => return Step::At(t),
            Next::Due(a) => a,
        };
        if let Some(parked) = state.parked.pop() {
            state.peeked = None;
            std::mem::drop(state);
            parked.mailbox.send(Some(arrival));
            return Step::Started;
        }
        if state.live < cap {
            state.peeked = None;
            state.live += 1;
            std::mem::drop(state);
            tokio::spawn(slot(self.clone(), arrival));
            return Step::Started;
        }
        if drop {
            state.peeked = None;
            return Step::Dropped;
        }
        Step::Busy
    }

    /// Ends the schedule: parked slots exit, busy ones exit after their iteration.
    pub(crate) fn end(&self) {
        let parked = {
            let mut state = lock(&self.state);
            state.ended = true;
            std::mem::take(&mut state.parked)
        };
        for p in parked {
            p.mailbox.send(None);
        }
    }

    /// Waits until a slot parks or ends (at once if one is parked, or none is alive): after
    /// [`Step::Busy`], the due arrivals have been started by then.
    pub(crate) async fn slot_freed(&self) {
        std::future::poll_fn(|cx| {
            let mut state = lock(&self.state);
            if !state.parked.is_empty() || state.live == 0 {
                state.dispatcher = None;
                return Poll::Ready(());
            }
            state.dispatcher = Some(cx.waker().clone());
            Poll::Pending
        })
        .await
    }

    /// Waits until every slot has ended (after [`Hub::end`]).
    pub(crate) async fn all_ended(&self) {
        std::future::poll_fn(|cx| {
            let mut state = lock(&self.state);
            if state.live == 0 {
                return Poll::Ready(());
            }
            state.dispatcher = Some(cx.waker().clone());
            Poll::Pending
        })
        .await
    }

    fn wake_dispatcher(state: &mut HubState) {
        if let Some(w) = state.dispatcher.take() {
            w.wake();
        }
    }

    /// Runs one arrival in this slot and records it; `timer` is the slot's request timer, lent
    /// to the arrival's `Ctx` and given back.
    async fn run_one(&self, arrival: Arrival, timer: UserTimer, watcher: &Watcher) -> UserTimer {
        let actual = Instant::now();
        let test = &self.test;
        let lag_judged = arrival.intended >= self.judged_from;
        self.in_flight.fetch_add(1, Ordering::Relaxed);
        let ctx = Ctx::for_iteration(test.clone(), arrival.k, timer);
        let outcome = run_once(self.run, &ctx, self.iteration_timeout, watcher).await;
        let timer = ctx.into_timer();
        record(
            &test.metrics,
            arrival.intended,
            Some(actual),
            lag_judged,
            outcome,
            test.secrets,
        );
        self.in_flight.fetch_sub(1, Ordering::Relaxed);
        timer
    }
}

/// A slot: runs its first arrival, then every arrival it finds due when it finishes one, parks
/// when none is, and ends with the schedule.
async fn slot(hub: Arc<Hub>, first: Arrival) {
    let mut arrival = first;
    let mailbox = Arc::new(Mailbox::default());
    let mut timer = UserTimer::default();
    let watcher = hub.hard.watch();
    loop {
        timer = hub.run_one(arrival, timer, &watcher).await;
        if hub.hard.is_stopped() {
            break;
        }
        // What to do next is decided under the lock; parking waits after it is released.
        let parks = {
            let mut state = lock(&hub.state);
            if hub.soft.is_stopped() {
                state.ended = true;
            }
            match state.next(Instant::now()) {
                Next::Due(a) => {
                    arrival = a;
                    continue;
                }
                Next::End => false,
                Next::At(_) => {
                    state.parked.push(Parked {
                        mailbox: mailbox.clone(),
                    });
                    Hub::wake_dispatcher(&mut state);
                    true
                }
            }
        };
        match parks {
            true => match mailbox.receive().await {
                Some(a) => arrival = a,
                None => break,
            },
            false => break,
        }
    }
    let mut state = lock(&hub.state);
    state.live -= 1;
    Hub::wake_dispatcher(&mut state);
}
