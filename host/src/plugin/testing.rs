//! Test support: tiny hand-written WAT components implementing `wit/v0.1`, or
//! `wit/v0.2` for a guest given a [`Reuse`] (see [`Guest::reusable`]), or the
//! same exported as `wit/v0.3` ([`Guest::wasm_v0_3`]; they import nothing).
//!
//! Memory map of the core module: 0x100 init result area, 0x200 on-query
//! result area (v0.2: the query-action's 12 bytes, then the reuse at 0x20c),
//! 0x300 on-response result area, 0x400.. strings and records, 0x1000.. bump
//! allocator for the host's `realloc` calls.

use super::types::Reuse;

/// One guest behaviour: WAT bodies of the three core functions plus data segments.
pub struct Guest {
    pub init: String,
    pub on_query: String,
    pub on_response: String,
    pub data: String,
    /// `Some`: a v0.2 component whose on-query verdicts carry this reuse.
    pub reuse: Option<Reuse>,
}

/// Little-endian bytes as a WAT string literal.
pub fn bytes(b: &[u8]) -> String {
    b.iter().map(|x| format!("\\{x:02x}")).collect()
}

fn le(v: u32) -> String {
    bytes(&v.to_le_bytes())
}

impl Guest {
    /// init returns ok(hooks) (bit 0 on-query, bit 1 on-response); every hook passes.
    pub fn with_hooks(flags: u8) -> Guest {
        Guest {
            init: "(i32.const 0x100)".into(),
            on_query: "(i32.const 0x200)".into(),
            on_response: "(i32.const 0x300)".into(),
            data: format!(
                "(data (i32.const 0x100) \"\\00\\00\\00\\00{}\")",
                bytes(&[flags])
            ),
            reuse: None,
        }
    }

    /// The same guest as a v0.2 component whose on-query verdicts carry `reuse`.
    pub fn reusable(mut self, reuse: Reuse) -> Guest {
        self.reuse = Some(reuse);
        self
    }

    pub fn pass() -> Guest {
        Guest::with_hooks(1)
    }

    /// on-query writes `action` (the query-action bytes) at 0x200.
    pub fn query_bytes(action: &[u8]) -> Guest {
        let mut g = Guest::pass();
        g.data += &format!("(data (i32.const 0x200) \"{}\")", bytes(action));
        g
    }

    pub fn block_nxdomain() -> Guest {
        Guest::query_bytes(&[1, 0, 0, 0, 0])
    }

    pub fn block_rcode(rcode: u16) -> Guest {
        let r = rcode.to_le_bytes();
        Guest::query_bytes(&[1, 0, 0, 0, 3, 0, r[0], r[1]])
    }

    /// rewrite(name): the string lives at 0x400.
    pub fn rewrite(name: &str) -> Guest {
        let mut g = Guest::pass();
        g.data += &format!(
            "(data (i32.const 0x200) \"\\03\\00\\00\\00{}{}\")(data (i32.const 0x400) \"{}\")",
            le(0x400),
            le(name.len() as u32),
            name
        );
        g
    }

    /// answer([{name: "", ttl, A a.b.c.d}]): one 32-byte record at 0x400.
    pub fn answer_a(ttl: u32, ip: [u8; 4]) -> Guest {
        let mut g = Guest::pass();
        let mut rec = vec![0u8; 32];
        rec[8..12].copy_from_slice(&ttl.to_le_bytes());
        rec[12] = 0; // rdata case a
        rec[16..20].copy_from_slice(&ip);
        g.data += &format!(
            "(data (i32.const 0x200) \"\\02\\00\\00\\00{}{}\")(data (i32.const 0x400) \"{}\")",
            le(0x400),
            le(1),
            bytes(&rec)
        );
        g
    }

    pub fn init_error(msg: &str) -> Guest {
        let mut g = Guest::pass();
        g.data = format!(
            "(data (i32.const 0x100) \"\\01\\00\\00\\00{}{}\")(data (i32.const 0x400) \"{}\")",
            le(0x400),
            le(msg.len() as u32),
            msg
        );
        g
    }

    /// init fails with the config text it was given as the message, so a test
    /// can see exactly what `init` got.
    pub fn init_echoes_config() -> Guest {
        Guest {
            init: "(i32.store (i32.const 0x100) (i32.const 1)) \
                   (i32.store (i32.const 0x104) (local.get 0)) \
                   (i32.store (i32.const 0x108) (local.get 1)) (i32.const 0x100)"
                .into(),
            ..Guest::pass()
        }
    }

    pub fn on_query_body(body: &str) -> Guest {
        Guest {
            on_query: body.into(),
            ..Guest::pass()
        }
    }

    /// on-query spins forever: only the epoch deadline stops it.
    pub fn infinite_loop() -> Guest {
        Guest::on_query_body("(loop $l (br $l)) (i32.const 0x200)")
    }

    /// on-query grows memory by `pages`, traps like a Rust OOM abort when refused.
    pub fn memory_hog(pages: u32) -> Guest {
        Guest::on_query_body(&format!(
            "(if (i32.eq (memory.grow (i32.const {pages})) (i32.const -1)) (then unreachable)) \
             (i32.const 0x200)"
        ))
    }

    pub fn unreachable() -> Guest {
        Guest::on_query_body("unreachable")
    }

    /// Both hooks; on-response blocks with REFUSED, on-query passes.
    pub fn response_refused() -> Guest {
        let mut g = Guest::with_hooks(3);
        g.data += "(data (i32.const 0x300) \"\\01\\00\\00\\00\\01\")";
        g
    }

    /// The component text, exporting the policy under `export`.
    pub fn wat_as(&self, export: &str) -> String {
        // v0.2's on-query result is a record of the v0.1 action and the reuse.
        let (verdict_types, verdict, data) = match self.reuse {
            None => (String::new(), "$qa", self.data.clone()),
            Some(reuse) => {
                let (case, secs) = match reuse {
                    Reuse::Once => (0u8, 0),
                    Reuse::Question(secs) => (1, secs),
                };
                (
                    "(type $reuse' (variant (case \"once\") (case \"question\" u32)))
  (export $reuse \"reuse\" (type $reuse'))
  (type $qv' (record (field \"action\" $qa) (field \"reuse\" $reuse)))
  (export $qv \"query-verdict\" (type $qv'))"
                        .to_string(),
                    "$qv",
                    format!(
                        "{}(data (i32.const 0x20c) \"{}{}\")",
                        self.data,
                        bytes(&[case, 0, 0, 0]),
                        le(secs)
                    ),
                )
            }
        };
        format!(
            r#"(component
  (core module $m
    (memory (export "memory") 1)
    (global $bump (mut i32) (i32.const 0x1000))
    (func (export "realloc") (param i32 i32 i32 i32) (result i32)
      (local $r i32)
      (local.set $r (i32.and (i32.add (global.get $bump) (i32.const 7)) (i32.const -8)))
      (global.set $bump (i32.add (local.get $r) (local.get 3)))
      (local.get $r))
    (func (export "init") (param i32 i32) (result i32) {init})
    (func (export "on-query") (param i32 i32 i32 i32 i32 i32 i32 i32 i32 i32 i32 i32 i32 i32 i32) (result i32) {q})
    (func (export "on-response") (param i32) (result i32) {r})
    {data})
  (core instance $i (instantiate $m))
  (type $protocol' (enum "udp" "tcp"))
  (export $protocol "protocol" (type $protocol'))
  (type $ip' (variant (case "ipv4" (tuple u8 u8 u8 u8)) (case "ipv6" (tuple u16 u16 u16 u16 u16 u16 u16 u16))))
  (export $ip "ip-address" (type $ip'))
  (type $client' (record (field "ip" $ip) (field "port" u16) (field "protocol" $protocol)))
  (export $client "client" (type $client'))
  (type $question' (record (field "name" string) (field "qtype" u16) (field "qclass" u16)))
  (export $question "question" (type $question'))
  (type $raw' (record (field "rtype" u16) (field "data" (list u8))))
  (export $raw "raw-rdata" (type $raw'))
  (type $rdata' (variant (case "a" (tuple u8 u8 u8 u8)) (case "aaaa" (tuple u16 u16 u16 u16 u16 u16 u16 u16)) (case "cname" string) (case "txt" (list string)) (case "other" $raw)))
  (export $rdata "rdata" (type $rdata'))
  (type $record' (record (field "name" string) (field "ttl" u32) (field "data" $rdata)))
  (export $record "record" (type $record'))
  (type $block' (variant (case "nxdomain") (case "refused") (case "null-ip") (case "rcode" u16)))
  (export $block "block" (type $block'))
  (type $qa' (variant (case "pass") (case "block" $block) (case "answer" (list $record)) (case "rewrite" string)))
  (export $qa "query-action" (type $qa'))
  (type $ra' (variant (case "pass") (case "block" $block) (case "replace" (list $record))))
  (export $ra "response-action" (type $ra'))
  {verdict_types}
  (type $hooks' (flags "on-query" "on-response"))
  (export $hooks "hooks" (type $hooks'))
  (func $init (param "config" string) (result (result $hooks (error string)))
    (canon lift (core func $i "init") (memory (core memory $i "memory")) (realloc (core func $i "realloc"))))
  (func $q (param "q" $question) (param "c" $client) (result {verdict})
    (canon lift (core func $i "on-query") (memory (core memory $i "memory")) (realloc (core func $i "realloc"))))
  (func $r (param "q" $question) (param "c" $client) (param "rcode" u16) (param "answers" (list $record)) (result $ra)
    (canon lift (core func $i "on-response") (memory (core memory $i "memory")) (realloc (core func $i "realloc"))))
  (instance $policy
    (export "init" (func $init))
    (export "on-query" (func $q))
    (export "on-response" (func $r)))
  (export "{export}" (instance $policy)))"#,
            init = self.init,
            q = self.on_query,
            r = self.on_response,
        )
    }

    /// The component, exporting the policy of v0.1, or v0.2 when it has a reuse.
    pub fn wasm(&self) -> Vec<u8> {
        match self.reuse {
            None => self.wasm_as("wasmdns:plugin/policy@0.1.0"),
            Some(_) => self.wasm_as("wasmdns:plugin/policy@0.2.0"),
        }
    }

    /// The component exporting v0.3's policy (v0.2's, so it needs a reuse).
    pub fn wasm_v0_3(&self) -> Vec<u8> {
        assert!(self.reuse.is_some(), "v0.3 verdicts carry a reuse");
        self.wasm_as("wasmdns:plugin/policy@0.3.0")
    }

    pub fn wasm_as(&self, export: &str) -> Vec<u8> {
        wat::parse_str(self.wat_as(export)).expect("test component is valid WAT")
    }
}
