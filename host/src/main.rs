//! The `wasmdns` command line: `run` and `check`. The only user of `anyhow`.

fn main() -> anyhow::Result<()> {
    todo!("CLI")
}
