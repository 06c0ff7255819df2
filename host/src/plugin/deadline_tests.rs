//! The per-call deadline counts CPU time: a runaway guest is stopped after about
//! the deadline of CPU, a guest whose thread gets no CPU is not stopped for it.
//! A fake thread clock plays the descheduled thread, deterministically.

use std::cell::Cell;
use std::net::{IpAddr, Ipv4Addr};
use std::sync::Arc;
use std::time::{Duration, Instant};

use super::cpu_deadline::thread_cpu_ns;
use super::instance::Instance;
use super::loader::PluginFactory;
use super::testing::Guest;
use super::types::{ClientInfo, QueryAction, QuestionView};
use super::{CallFailure, PluginEngine};
use crate::config::{OnError, PluginConfig};
use crate::metrics::Proto;

const DEADLINE: Duration = Duration::from_millis(2);

/// A loop of `n` iterations, then pass: bounded work of tens of milliseconds.
fn busy(n: u32) -> Guest {
    Guest::on_query_body(&format!(
        "(local $i i32) (loop $l (local.set $i (i32.add (local.get $i) (i32.const 1))) \
         (br_if $l (i32.lt_u (local.get $i) (i32.const {n})))) (i32.const 0x200)"
    ))
}

fn instance(guest: &Guest, clock: fn() -> Option<u64>) -> (Instance, Arc<PluginEngine>) {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("p.wasm");
    std::fs::write(&path, guest.wasm()).unwrap();
    let cfg = PluginConfig {
        name: "p".into(),
        path,
        on_error: OnError::Pass,
        deadline: DEADLINE,
        memory_limit: 1 << 20,
        instances: None,
        config_json: "{}".into(),
    };
    let engine = Arc::new(PluginEngine::new().unwrap());
    let factory = PluginFactory::load(&engine, &cfg, dir.path(), None).unwrap();
    let (inst, _) = factory.instantiate_with_clock(clock).unwrap();
    (inst, engine)
}

fn call(inst: &mut Instance) -> (Result<QueryAction, CallFailure>, Duration) {
    let q = QuestionView {
        name: "www.example.com".into(),
        qtype: 1,
        qclass: 1,
    };
    let c = ClientInfo {
        ip: IpAddr::V4(Ipv4Addr::LOCALHOST),
        port: 5353,
        proto: Proto::Udp,
    };
    let start = Instant::now();
    let r = inst.on_query(&q, &c).map(|(action, _)| action);
    (r, start.elapsed())
}

thread_local! {
    /// Reads of the fake clock on this (the calling) thread.
    static READS: Cell<u32> = const { Cell::new(0) };
}

/// A thread that never gets the CPU: its clock stands still.
fn frozen_clock() -> Option<u64> {
    READS.with(|r| r.set(r.get() + 1));
    Some(1_000)
}

/// Stands still for three reads, then jumps far ahead (the thread ran again).
fn thawing_clock() -> Option<u64> {
    let n = READS.with(|r| {
        r.set(r.get() + 1);
        r.get()
    });
    Some(if n <= 3 { 1_000 } else { 1 << 60 })
}

#[test]
fn runaway_loop_stops_after_about_the_deadline_of_cpu() {
    let (mut inst, _engine) = instance(&Guest::infinite_loop(), thread_cpu_ns);
    let before = thread_cpu_ns().unwrap();
    let (r, _) = call(&mut inst);
    let used = Duration::from_nanos(thread_cpu_ns().unwrap() - before);
    assert_eq!(r, Err(CallFailure::Timeout));
    // The budget is counted after the first tick boundary: never less than it.
    assert!(used >= DEADLINE, "stopped after only {used:?} of CPU");
    // Deadline + ~2 ticks, with room for a ticker thread starved by other load.
    assert!(used < DEADLINE * 10, "ran {used:?} of CPU");
}

#[test]
fn descheduled_call_runs_to_completion() {
    READS.with(|r| r.set(0));
    let (mut inst, _engine) = instance(&busy(200_000_000), frozen_clock);
    let (r, wall) = call(&mut inst);
    assert_eq!(r, Ok(QueryAction::Pass));
    // It outlived the wall-clock deadline several times over, and the deadline
    // did expire (the clock was read) without stopping it.
    assert!(
        wall > DEADLINE * 3,
        "the loop was too quick to prove anything: {wall:?}"
    );
    assert!(READS.with(Cell::get) >= 2);
}

#[test]
fn same_work_with_the_real_clock_times_out() {
    let (mut inst, _engine) = instance(&busy(200_000_000), thread_cpu_ns);
    let (r, _) = call(&mut inst);
    assert_eq!(r, Err(CallFailure::Timeout));
}

#[test]
fn extended_call_is_stopped_once_cpu_is_used_up() {
    READS.with(|r| r.set(0));
    let (mut inst, _engine) = instance(&Guest::infinite_loop(), thawing_clock);
    let (r, wall) = call(&mut inst);
    assert_eq!(r, Err(CallFailure::Timeout));
    assert_eq!(READS.with(Cell::get), 4, "mark, two extensions, stop");
    // Mark at the first tick, then two full budgets of extension.
    assert!(wall >= DEADLINE * 2, "{wall:?}");
}
