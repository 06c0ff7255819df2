//! [`Activity`]: whether plugin code is running anywhere, so the epoch ticker can
//! sleep while none is.
//!
//! Deadlines need the epoch to advance only while guest code runs, but a ticker
//! that never stops costs an idle proxy ~1,000 wakeups a second (measured: 0.025
//! of a core on this VM, all of an idle proxy's CPU) and preempts the query path
//! as often. Every guest entry (a hook call, or instantiation and `init`) holds a
//! [`Running`] guard; the ticker parks once it sees none, and the first guard
//! taken after that wakes it.
//!
//! Parking at the first tick without guest code was too eager under load: at 5k
//! queries a second the ticker parked after nearly every tick and the next hook
//! call unparked it, so each millisecond cost the serving thread a futex wake and
//! the core two ticker wakeups instead of one (measured: 0.49 futex calls and 2.3
//! context switches per forwarded query). The ticker now parks only after
//! [`GRACE_TICKS`] ticks without any entry: under steady traffic it simply ticks,
//! and the hook path never wakes it; an idle proxy still sleeps.
//!
//! The handshake cannot lose a wakeup: a guard increments `running` and then
//! reads `idle`; the ticker sets `idle` and then reads `running`, all SeqCst. So
//! either the guard sees the ticker idle and unparks it, or the ticker sees the
//! guard and stays awake. A spurious unpark only brings one tick forward, which
//! the CPU-time deadline tolerates (an expiry re-checks the thread's CPU time).

use std::sync::atomic::{AtomicBool, AtomicU32, AtomicUsize, Ordering::Relaxed, Ordering::SeqCst};
use std::sync::OnceLock;
use std::thread::Thread;

/// Ticks without any guest entry after which the ticker parks: long enough
/// that traffic of a few hundred queries a second keeps it ticking, short enough
/// that an idle proxy's ticker sleeps within milliseconds.
pub const GRACE_TICKS: u32 = 8;

#[derive(Default)]
pub struct Activity {
    /// Guest entries in progress.
    running: AtomicUsize,
    /// A guest entry began since the ticker last looked.
    entered: AtomicBool,
    /// Consecutive ticks that saw no entry (touched by the ticker only).
    quiet_ticks: AtomicU32,
    /// The ticker is parked (or about to park) until the next guest entry.
    idle: AtomicBool,
    ticker: OnceLock<Thread>,
}

/// Held while guest code may run; dropping it ends the entry.
#[must_use]
pub struct Running<'a>(&'a Activity);

impl Activity {
    /// Marks a guest entry, waking the ticker if it sleeps.
    pub fn enter(&self) -> Running<'_> {
        self.running.fetch_add(1, SeqCst);
        // Read first: under load the flag is already set, and the line stays shared.
        if !self.entered.load(Relaxed) {
            self.entered.store(true, Relaxed);
        }
        if self.idle.load(SeqCst) && self.idle.swap(false, SeqCst) {
            if let Some(t) = self.ticker.get() {
                t.unpark();
            }
        }
        Running(self)
    }

    /// Called once, from the ticker thread, before its first tick.
    pub fn set_ticker(&self, thread: Thread) {
        let _ = self.ticker.set(thread);
    }

    /// Ticker side, after a tick: returns at once while guest code runs or ran
    /// within the last [`GRACE_TICKS`] ticks; else parks until a guest entry (or
    /// `stop`) wakes it.
    pub fn wait_for_entry(&self, stop: &AtomicBool) {
        let entered = self.entered.swap(false, Relaxed);
        if entered || self.running.load(SeqCst) != 0 {
            self.quiet_ticks.store(0, Relaxed);
            return;
        }
        let quiet = self.quiet_ticks.load(Relaxed) + 1;
        if quiet < GRACE_TICKS {
            self.quiet_ticks.store(quiet, Relaxed);
            return;
        }
        self.quiet_ticks.store(0, Relaxed);
        self.idle.store(true, SeqCst);
        if self.running.load(SeqCst) != 0 {
            self.idle.store(false, SeqCst);
            return;
        }
        // `park` may return spuriously: sleep until `enter` clears `idle`.
        while self.idle.load(SeqCst) && !stop.load(SeqCst) {
            std::thread::park();
        }
    }

    /// Whether the ticker is parked for lack of guest code (for tests).
    pub fn is_idle(&self) -> bool {
        self.idle.load(SeqCst)
    }
}

impl Drop for Running<'_> {
    fn drop(&mut self) {
        self.0.running.fetch_sub(1, SeqCst);
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;
    use std::thread::JoinHandle;
    use std::time::Duration;

    use super::*;

    /// An activity with a ticker thread like the engine's, counting its ticks;
    /// stopped and joined on drop.
    struct Ticker {
        activity: Arc<Activity>,
        stop: Arc<AtomicBool>,
        ticks: Arc<AtomicUsize>,
        thread: Option<JoinHandle<()>>,
    }

    impl Ticker {
        fn start() -> Ticker {
            let activity = Arc::new(Activity::default());
            let stop = Arc::new(AtomicBool::new(false));
            let ticks = Arc::new(AtomicUsize::new(0));
            let (a, s, t) = (activity.clone(), stop.clone(), ticks.clone());
            let thread = std::thread::spawn(move || {
                while !s.load(SeqCst) {
                    std::thread::park_timeout(Duration::from_millis(1));
                    t.fetch_add(1, SeqCst);
                    a.wait_for_entry(&s);
                }
            });
            activity.set_ticker(thread.thread().clone());
            Ticker {
                activity,
                stop,
                ticks,
                thread: Some(thread),
            }
        }

        fn ticks(&self) -> usize {
            self.ticks.load(SeqCst)
        }
    }

    impl Drop for Ticker {
        fn drop(&mut self) {
            self.stop.store(true, SeqCst);
            // An entry wakes a sleeping ticker, which then sees `stop`.
            drop(self.activity.enter());
            if let Some(t) = self.thread.take() {
                let _ = t.join();
            }
        }
    }

    fn wait_until(what: &str, f: impl Fn() -> bool) {
        for _ in 0..2000 {
            if f() {
                return;
            }
            std::thread::sleep(Duration::from_millis(1));
        }
        panic!("never: {what}");
    }

    #[test]
    fn the_ticker_sleeps_without_guest_code_and_ticks_while_it_runs() {
        let t = Ticker::start();
        let a = &t.activity;
        wait_until("idle", || a.is_idle());
        let idle_ticks = t.ticks();
        std::thread::sleep(Duration::from_millis(30));
        assert_eq!(t.ticks(), idle_ticks, "no ticks while idle");

        let running = a.enter();
        assert!(!a.is_idle());
        wait_until("ticks while running", || t.ticks() >= idle_ticks + 5);
        assert!(!a.is_idle(), "a running entry keeps it awake");
        drop(running);
        wait_until("idle again", || a.is_idle());
    }

    #[test]
    fn many_short_entries_never_leave_a_long_one_without_ticks() {
        let t = Ticker::start();
        // Entries racing the ticker's decision to sleep, then one that lasts:
        // the ticker must be ticking for it.
        for _ in 0..2000 {
            drop(t.activity.enter());
        }
        let long = t.activity.enter();
        let before = t.ticks();
        wait_until("ticks for the long entry", || t.ticks() >= before + 5);
        drop(long);
    }

    #[test]
    fn the_ticker_parks_only_after_a_grace_period_without_entries() {
        // Driven by hand: `stop` set makes a park return at once, so `is_idle`
        // shows each decision without a ticker thread or any timing.
        let a = Activity::default();
        let stop = AtomicBool::new(true);
        let quiet_ticks_until_park = |a: &Activity| {
            (1..=GRACE_TICKS * 2)
                .find(|_| {
                    a.wait_for_entry(&stop);
                    a.is_idle()
                })
                .expect("the ticker never parks")
        };
        assert_eq!(quiet_ticks_until_park(&a), GRACE_TICKS);

        // An entry wakes it, and the grace starts again after the last entry.
        drop(a.enter());
        assert!(!a.is_idle());
        for _ in 0..3 * GRACE_TICKS {
            a.wait_for_entry(&stop);
            drop(a.enter());
            assert!(!a.is_idle(), "an entry every tick keeps it ticking");
        }
        // The first tick sees the last entry; the grace counts from the next.
        assert_eq!(quiet_ticks_until_park(&a), GRACE_TICKS + 1);

        // A running entry keeps it awake however long it lasts.
        let running = a.enter();
        for _ in 0..3 * GRACE_TICKS {
            a.wait_for_entry(&stop);
            assert!(!a.is_idle());
        }
        drop(running);
        assert_eq!(quiet_ticks_until_park(&a), GRACE_TICKS);
    }
}
