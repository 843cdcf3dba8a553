//! Where idle connections wait between requests: a closed-model user's own set (in its `Ctx`),
//! or, for open-model iterations, a set per worker thread (a thread-local, no lock, no channel).
//!
//! Taking an HTTP/1.1 connection removes it from the set until its request is done, so requests
//! sent at once (`batch`) open more connections, and the set keeps them all. An HTTP/2 connection
//! stays in the set and is shared: its streams are multiplexed.

use super::conn::Conn;
use crate::http::parsed_url::Origin;
use std::cell::RefCell;
use std::sync::{Arc, Mutex, PoisonError};

struct Slot {
    origin: Arc<Origin>,
    conn: Conn,
}

/// Idle connections, by origin.
#[derive(Default)]
pub(crate) struct ConnSet {
    slots: Vec<Slot>,
}

/// What [`ConnSet::take`] found.
pub(crate) struct Taken {
    pub(crate) conn: Option<Conn>,
    /// Connections to this origin found closed (by the server, or broken) and dropped.
    pub(crate) closed: u64,
}

impl ConnSet {
    /// An idle connection to `origin`, if one is still usable.
    pub(crate) fn take(&mut self, origin: &Origin) -> Taken {
        let mut closed = 0;
        let mut i = 0;
        while i < self.slots.len() {
            let slot = &mut self.slots[i];
            if !same(&slot.origin, origin) {
                i += 1;
                continue;
            }
            if !slot.conn.usable() {
                self.slots.swap_remove(i);
                closed += 1;
                continue;
            }
            let conn = match &slot.conn {
                Conn::H2(sender) => Conn::H2(sender.clone()),
                Conn::H1(_) | Conn::Native(_) => self.slots.swap_remove(i).conn,
            };
            return Taken {
                conn: Some(conn),
                closed,
            };
        }
        Taken { conn: None, closed }
    }

    /// Keeps a connection for the next request to `origin`.
    pub(crate) fn put(&mut self, origin: Arc<Origin>, conn: Conn) {
        if matches!(conn, Conn::H2(_))
            && self
                .slots
                .iter()
                .any(|s| matches!(s.conn, Conn::H2(_)) && same(&s.origin, &origin))
        {
            return; // a clone of a shared HTTP/2 connection already in the set
        }
        self.slots.push(Slot { origin, conn });
    }
}

fn same(a: &Arc<Origin>, b: &Origin) -> bool {
    std::ptr::eq(Arc::as_ptr(a), b) || **a == *b
}

thread_local! {
    /// The open model's set of this worker thread, for the test with the given id. Another test
    /// on the thread replaces it (its connections are closed).
    static THREAD_SET: RefCell<(u64, ConnSet)> = RefCell::new((0, ConnSet::default()));
}

/// Where a request takes its connection from and returns it to.
#[derive(Clone, Copy)]
pub(crate) enum Home<'a> {
    /// A closed-model user's own connections.
    User(&'a Mutex<ConnSet>),
    /// This worker thread's connections for the test with this id (open model).
    Thread(u64),
}

impl Home<'_> {
    pub(crate) fn take(&self, origin: &Origin) -> Taken {
        match self {
            Home::User(set) => set
                .lock()
                .unwrap_or_else(PoisonError::into_inner)
                .take(origin),
            Home::Thread(test) => THREAD_SET.with(|cell| {
                let mut cell = cell.borrow_mut();
                if cell.0 != *test {
                    *cell = (*test, ConnSet::default());
                }
                cell.1.take(origin)
            }),
        }
    }

    pub(crate) fn put(&self, origin: Arc<Origin>, conn: Conn) {
        match self {
            Home::User(set) => set
                .lock()
                .unwrap_or_else(PoisonError::into_inner)
                .put(origin, conn),
            Home::Thread(test) => THREAD_SET.with(|cell| {
                let mut cell = cell.borrow_mut();
                if cell.0 == *test {
                    cell.1.put(origin, conn);
                }
            }),
        }
    }
}
