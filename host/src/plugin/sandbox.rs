//! The capabilities a plugin gets: WASI preview 2 with an empty context (no
//! files, network, environment or arguments; stdin empty, stdout/stderr
//! discarded), the `host` import of each WIT version, and traps for the rest.
//!
//! wasmtime-wasi's synchronous `wasi:io` bindings run their blocking operations
//! through `Handle::block_on`, which panics on a tokio worker thread — where the
//! pipeline calls plugins. So `wasi:io/streams` and `wasi:io/poll` are linked to
//! [`SyncIo`] instead: the streams a plugin can reach never block, so "blocking"
//! writes complete at once, and waiting on a pollable (a sleep) traps, since a
//! plugin has a deadline of milliseconds anyway. Sockets are not linked at all:
//! their imports trap when called ([`deny_other_imports`]).

use wasmtime::component::types::ComponentItem;
use wasmtime::component::{Component, HasData, Linker, Resource, ResourceTable};
use wasmtime::Engine;
use wasmtime_wasi::p2::bindings::sync::io::{poll, streams};
use wasmtime_wasi::p2::bindings::{cli, clocks, filesystem, random};
use wasmtime_wasi::p2::{bindings::io::error as io_error, StreamError};
use wasmtime_wasi::p2::{DynInputStream, DynOutputStream, DynPollable, StreamResult};

/// Non-blocking `wasi:io` over the store's resource table.
pub struct SyncIo<'a>(&'a mut ResourceTable);

struct HasSyncIo;

impl HasData for HasSyncIo {
    type Data<'a> = SyncIo<'a>;
}

/// Store data that can be sandboxed: gives access to WASI state.
pub trait Sandboxed: wasmtime_wasi::WasiView + 'static {
    fn table(&mut self) -> &mut ResourceTable;
}

/// Adds the granted WASI interfaces to `linker`.
pub fn add_wasi<T: Sandboxed>(l: &mut Linker<T>) -> wasmtime::Result<()> {
    use wasmtime_wasi::cli::{WasiCli, WasiCliView as _};
    use wasmtime_wasi::clocks::{WasiClocks, WasiClocksView as _};
    use wasmtime_wasi::filesystem::{WasiFilesystem, WasiFilesystemView as _};
    use wasmtime_wasi::random::WasiRandom;

    clocks::wall_clock::add_to_linker::<T, WasiClocks>(l, T::clocks)?;
    clocks::monotonic_clock::add_to_linker::<T, WasiClocks>(l, T::clocks)?;
    filesystem::preopens::add_to_linker::<T, WasiFilesystem>(l, T::filesystem)?;
    wasmtime_wasi::p2::bindings::sync::filesystem::types::add_to_linker::<T, WasiFilesystem>(
        l,
        T::filesystem,
    )?;
    random::random::add_to_linker::<T, WasiRandom>(l, |t| t.ctx().ctx.random())?;
    random::insecure::add_to_linker::<T, WasiRandom>(l, |t| t.ctx().ctx.random())?;
    random::insecure_seed::add_to_linker::<T, WasiRandom>(l, |t| t.ctx().ctx.random())?;
    cli::exit::add_to_linker::<T, WasiCli>(l, T::cli)?;
    cli::environment::add_to_linker::<T, WasiCli>(l, T::cli)?;
    cli::stdin::add_to_linker::<T, WasiCli>(l, T::cli)?;
    cli::stdout::add_to_linker::<T, WasiCli>(l, T::cli)?;
    cli::stderr::add_to_linker::<T, WasiCli>(l, T::cli)?;
    cli::terminal_input::add_to_linker::<T, WasiCli>(l, T::cli)?;
    cli::terminal_output::add_to_linker::<T, WasiCli>(l, T::cli)?;
    cli::terminal_stdin::add_to_linker::<T, WasiCli>(l, T::cli)?;
    cli::terminal_stdout::add_to_linker::<T, WasiCli>(l, T::cli)?;
    cli::terminal_stderr::add_to_linker::<T, WasiCli>(l, T::cli)?;
    io_error::add_to_linker::<T, HasIoTable>(l, |t| t.table())?;
    poll::add_to_linker::<T, HasSyncIo>(l, |t| SyncIo(t.table()))?;
    streams::add_to_linker::<T, HasSyncIo>(l, |t| SyncIo(t.table()))?;
    Ok(())
}

/// The interfaces [`add_wasi`] links (any 0.2.x version matches them), plus the
/// plugin contract's own packages.
const GRANTED: &[&str] = &[
    "wasi:clocks/wall-clock",
    "wasi:clocks/monotonic-clock",
    "wasi:filesystem/preopens",
    "wasi:filesystem/types",
    "wasi:random/random",
    "wasi:random/insecure",
    "wasi:random/insecure-seed",
    "wasi:cli/exit",
    "wasi:cli/environment",
    "wasi:cli/stdin",
    "wasi:cli/stdout",
    "wasi:cli/stderr",
    "wasi:cli/terminal-input",
    "wasi:cli/terminal-output",
    "wasi:cli/terminal-stdin",
    "wasi:cli/terminal-stdout",
    "wasi:cli/terminal-stderr",
    "wasi:io/error",
    "wasi:io/poll",
    "wasi:io/streams",
];
const CONTRACT_PACKAGE: &str = "wasmdns:plugin/";

/// Links every other interface the component imports (sockets, http, ...) to
/// functions that trap when called, so a plugin built with them still loads.
///
/// Not `Linker::define_unknown_imports_as_traps`: it stubs an import under its
/// exact name when only a semver-compatible version is linked (a component built
/// against `wasi:random/insecure-seed@0.2.6` vs the host's `@0.2.12`), and the
/// exact-name stub then wins over the real implementation, so every standard
/// library `HashMap` trapped in `init`.
pub fn deny_other_imports<T: 'static>(
    l: &mut Linker<T>,
    engine: &Engine,
    component: &Component,
) -> wasmtime::Result<()> {
    // Resources the component has already imported: a later import that `use`s one
    // (wasi:sockets/udp's `pollable` from wasi:io/poll) is an `(eq ..)` alias that
    // must not be redefined, or it no longer matches the real one.
    let mut seen = Vec::new();
    for (name, import) in component.component_type().imports(engine) {
        let interface = name.split_once('@').map_or(name, |(base, _)| base);
        let ComponentItem::ComponentInstance(instance) = &import.ty else {
            if let ComponentItem::ComponentFunc(_) = import.ty {
                if !is_granted(interface) {
                    let what = name.to_string();
                    l.root()
                        .func_new(name, move |_, _, _, _| Err(denied(&what)))?;
                }
            }
            continue;
        };
        if is_granted(interface) {
            seen.extend(instance.exports(engine).filter_map(|(_, ty)| match ty.ty {
                ComponentItem::Resource(r) => Some(r),
                _ => None,
            }));
            continue;
        }
        let mut linked = l.instance(name)?;
        for (item, ty) in instance.exports(engine) {
            match ty.ty {
                ComponentItem::ComponentFunc(_) => {
                    let what = format!("{name}#{item}");
                    linked.func_new(item, move |_, _, _, _| Err(denied(&what)))?;
                }
                ComponentItem::Resource(r) if !seen.contains(&r) => {
                    seen.push(r);
                    let ty = wasmtime::component::ResourceType::host::<Denied>();
                    linked.resource(item, ty, |_, _| Ok(()))?;
                }
                // Aliased resources and types need no definition; anything else
                // fails to link with wasmtime's own error naming it.
                _ => {}
            }
        }
    }
    Ok(())
}

/// The host type behind every denied resource: no value of it is ever created,
/// since every function that could return one traps.
struct Denied;

fn is_granted(interface: &str) -> bool {
    GRANTED.contains(&interface) || interface.starts_with(CONTRACT_PACKAGE)
}

fn denied(what: &str) -> wasmtime::Error {
    wasmtime::Error::msg(format!("import {what} is not granted to plugins"))
}

struct HasIoTable;

impl HasData for HasIoTable {
    type Data<'a> = &'a mut ResourceTable;
}

fn no_blocking() -> wasmtime::Error {
    wasmtime::Error::msg("plugins may not block (wasi:io/poll)")
}

impl streams::Host for SyncIo<'_> {
    fn convert_stream_error(&mut self, err: StreamError) -> wasmtime::Result<streams::StreamError> {
        streams::Host::convert_stream_error(self.0, err)
    }
}

impl streams::HostOutputStream for SyncIo<'_> {
    fn drop(&mut self, stream: Resource<DynOutputStream>) -> wasmtime::Result<()> {
        self.0.delete(stream)?;
        Ok(())
    }

    fn check_write(&mut self, stream: Resource<DynOutputStream>) -> StreamResult<u64> {
        streams::HostOutputStream::check_write(self.0, stream)
    }

    fn write(&mut self, stream: Resource<DynOutputStream>, bytes: Vec<u8>) -> StreamResult<()> {
        streams::HostOutputStream::write(self.0, stream, bytes)
    }

    fn blocking_write_and_flush(
        &mut self,
        stream: Resource<DynOutputStream>,
        bytes: Vec<u8>,
    ) -> StreamResult<()> {
        let again = Resource::new_borrow(stream.rep());
        streams::HostOutputStream::write(self.0, stream, bytes)?;
        streams::HostOutputStream::flush(self.0, again)
    }

    fn blocking_write_zeroes_and_flush(
        &mut self,
        stream: Resource<DynOutputStream>,
        len: u64,
    ) -> StreamResult<()> {
        let again = Resource::new_borrow(stream.rep());
        streams::HostOutputStream::write_zeroes(self.0, stream, len)?;
        streams::HostOutputStream::flush(self.0, again)
    }

    fn subscribe(
        &mut self,
        stream: Resource<DynOutputStream>,
    ) -> wasmtime::Result<Resource<DynPollable>> {
        streams::HostOutputStream::subscribe(self.0, stream)
    }

    fn write_zeroes(&mut self, stream: Resource<DynOutputStream>, len: u64) -> StreamResult<()> {
        streams::HostOutputStream::write_zeroes(self.0, stream, len)
    }

    fn flush(&mut self, stream: Resource<DynOutputStream>) -> StreamResult<()> {
        streams::HostOutputStream::flush(self.0, stream)
    }

    fn blocking_flush(&mut self, stream: Resource<DynOutputStream>) -> StreamResult<()> {
        streams::HostOutputStream::flush(self.0, stream)
    }

    fn splice(
        &mut self,
        dst: Resource<DynOutputStream>,
        src: Resource<DynInputStream>,
        len: u64,
    ) -> StreamResult<u64> {
        streams::HostOutputStream::splice(self.0, dst, src, len)
    }

    fn blocking_splice(
        &mut self,
        dst: Resource<DynOutputStream>,
        src: Resource<DynInputStream>,
        len: u64,
    ) -> StreamResult<u64> {
        streams::HostOutputStream::splice(self.0, dst, src, len)
    }
}

impl streams::HostInputStream for SyncIo<'_> {
    fn drop(&mut self, stream: Resource<DynInputStream>) -> wasmtime::Result<()> {
        self.0.delete(stream)?;
        Ok(())
    }

    fn read(&mut self, stream: Resource<DynInputStream>, len: u64) -> StreamResult<Vec<u8>> {
        streams::HostInputStream::read(self.0, stream, len)
    }

    fn blocking_read(
        &mut self,
        stream: Resource<DynInputStream>,
        len: u64,
    ) -> StreamResult<Vec<u8>> {
        streams::HostInputStream::read(self.0, stream, len)
    }

    fn skip(&mut self, stream: Resource<DynInputStream>, len: u64) -> StreamResult<u64> {
        streams::HostInputStream::skip(self.0, stream, len)
    }

    fn blocking_skip(&mut self, stream: Resource<DynInputStream>, len: u64) -> StreamResult<u64> {
        streams::HostInputStream::skip(self.0, stream, len)
    }

    fn subscribe(
        &mut self,
        stream: Resource<DynInputStream>,
    ) -> wasmtime::Result<Resource<DynPollable>> {
        streams::HostInputStream::subscribe(self.0, stream)
    }
}

impl poll::Host for SyncIo<'_> {
    fn poll(&mut self, _pollables: Vec<Resource<DynPollable>>) -> wasmtime::Result<Vec<u32>> {
        Err(no_blocking())
    }
}

impl poll::HostPollable for SyncIo<'_> {
    fn ready(&mut self, _pollable: Resource<DynPollable>) -> wasmtime::Result<bool> {
        Err(no_blocking())
    }

    fn block(&mut self, _pollable: Resource<DynPollable>) -> wasmtime::Result<()> {
        Err(no_blocking())
    }

    fn drop(&mut self, pollable: Resource<DynPollable>) -> wasmtime::Result<()> {
        poll::HostPollable::drop(self.0, pollable)
    }
}
