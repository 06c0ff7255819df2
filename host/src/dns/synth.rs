//! Responses the proxy makes itself: error answers and the queries it sends upstream.

use super::{Query, RejectAnswer};

/// Header + the client's question (exact case) + OPT when the client sent EDNS; `rcode` may be extended.
pub fn error_response(_query: &Query, _packet: &[u8], _rcode: u16, _out: &mut Vec<u8>) {
    todo!()
}

/// The answer to a rejected packet (FORMERR, NOTIMP, BADVERS), echoing what was readable.
pub fn reject_response(_packet: &[u8], _reject: &RejectAnswer, _out: &mut Vec<u8>) {
    todo!()
}

/// The query we send upstream for `query`: ID `id`, RD and CD as the client set them,
/// the client's question, and an OPT advertising `edns_payload` with DO as the client set it.
pub fn upstream_query(
    _query: &Query,
    _packet: &[u8],
    _id: u16,
    _edns_payload: u16,
    _out: &mut Vec<u8>,
) {
    todo!()
}
