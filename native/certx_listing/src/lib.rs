//! EXPERIMENT (issue 12): the CEA/CCER listing market's engine in Rust, bytes in and bytes out.
//!
//! Scope: `order.new` (mode listing) and `order.cancel`, with the rules `certx.engine` applies to them
//! (listing.py, accounts.py, state.py, band.py, books/listing.py, product.py's Day, engine.py's stamping),
//! emitting the events exactly as `certx.wire.codec.encode` writes them. One call applies a batch of log
//! records (the canonical JSON of each command, as `certx.commands` holds it) and returns the events' bytes,
//! one event a line. The set-up (accounts, cash, units, products, session) comes from the Python engine through
//! the constructor. Anything outside that scope raises `NotImplementedError` (the prototype has no fallback);
//! a record that `decode_logged` would not read raises `ValueError` (the matcher would dead-letter it).
//! Not part of the install: built by loadtest/native_bench.py.

use pyo3::exceptions::{PyNotImplementedError, PyValueError};
use pyo3::prelude::*;
use pyo3::types::{PyBytes, PyList};
use std::collections::{BTreeMap, HashMap, VecDeque};
use std::hash::{BuildHasherDefault, Hasher};
use std::rc::Rc;

// ------------------------------------------------------------------------------------------ a fast hasher

#[derive(Default)]
struct Fx(u64);

impl Hasher for Fx {
    #[inline]
    fn write(&mut self, bytes: &[u8]) {
        let mut h = self.0;
        let mut chunks = bytes.chunks_exact(8);
        for c in &mut chunks {
            h = (h.rotate_left(5) ^ u64::from_le_bytes(c.try_into().unwrap())).wrapping_mul(0x51_7c_c1_b7_27_22_0a_95);
        }
        for &b in chunks.remainder() {
            h = (h.rotate_left(5) ^ b as u64).wrapping_mul(0x51_7c_c1_b7_27_22_0a_95);
        }
        self.0 = h;
    }
    #[inline]
    fn write_u8(&mut self, i: u8) {
        self.0 = (self.0.rotate_left(5) ^ i as u64).wrapping_mul(0x51_7c_c1_b7_27_22_0a_95);
    }
    #[inline]
    fn finish(&self) -> u64 {
        // a multiply moves entropy only upwards: fold the high bits down, or keys that differ only in their later
        // bytes (order ids "L1", "L2", ...) fall into the same buckets (murmur3's finaliser)
        let mut h = self.0;
        h ^= h >> 33;
        h = h.wrapping_mul(0xff51_afd7_ed55_8ccd);
        h ^ (h >> 33)
    }
}

type FxBuild = BuildHasherDefault<Fx>;
type FxMap<K, V> = HashMap<K, V, FxBuild>;

// ------------------------------------------------------------------------------------------ state

#[derive(Clone, Copy, Default)]
struct Position {
    free: i64,
    held: i64,
    locked: i64,
}

struct Wallet {
    account: Box<str>,
    broker: Box<str>,
    cash: i64,
    cash_held: i64,
    positions: Vec<Option<Position>>, // by product index
}

/// An order id as a key: up to 15 bytes inline (the length in the first byte, so no two ids share a key), longer
/// ones as a shared string. No allocation and a 16-byte compare for every id the flows send.
#[derive(Clone, PartialEq, Eq, Hash)]
enum Id {
    Short(u128),
    Long(Rc<str>),
}

impl Id {
    #[inline]
    fn of(s: &str) -> Id {
        let b = s.as_bytes();
        if b.len() <= 15 {
            let mut a = [0u8; 16];
            a[0] = b.len() as u8;
            a[1..=b.len()].copy_from_slice(b);
            Id::Short(u128::from_le_bytes(a))
        } else {
            Id::Long(s.into())
        }
    }
    #[inline]
    fn put(&self, out: &mut Vec<u8>) {
        match self {
            Id::Short(k) => {
                let a = k.to_le_bytes();
                // SAFETY: the bytes of a &str, cut at its own length
                put_str(out, unsafe { std::str::from_utf8_unchecked(&a[1..=a[0] as usize]) })
            }
            Id::Long(s) => put_str(out, s),
        }
    }
    fn string(&self) -> String {
        let mut v = Vec::new();
        self.put(&mut v);
        serde_free_unquote(&v)
    }
}

/// The text of a JSON string written by put_str (ids with escapes are rare; only `book()` needs this).
fn serde_free_unquote(v: &[u8]) -> String {
    let mut p = Parser { s: v, i: 0 };
    p.string().map(|c| c.into_owned()).unwrap_or_default()
}

/// Where a day's order id is: its product and its slot on the book, or NOT_RESTING once filled or cancelled.
const NOT_RESTING: u32 = u32::MAX;

struct Resting {
    order_id: Id,
    wallet: u32,
    is_buy: bool,
    price: i64,
    remaining: i64,
}

#[derive(Default)]
struct Level {
    queue: VecDeque<u32>, // slots, time order; dead ones skipped at the front
    live: u32,
    quantity: i64,
}

#[derive(Default)]
struct Day {
    open: Option<i64>,
    high: Option<i64>,
    low: Option<i64>,
    listing_volume: i128,
    listing_value: i128,
    last: Option<i64>,
    last_quantity: i64,
}

struct Product {
    name: Box<str>,
    limits: Option<(i64, i64)>,
    bids: BTreeMap<i64, Level>, // best = last
    asks: BTreeMap<i64, Level>, // best = first
    day: Day,
}

/// A refusal: the reason and its detail, as `Rejected` carries them.
struct Rejected(&'static str, String);

// ------------------------------------------------------------------------------------------ the command

#[derive(Default)]
struct Cmd<'a> {
    kind: u8, // 1 order.new, 2 order.cancel
    actor: Option<std::borrow::Cow<'a, str>>,
    order_id: Option<std::borrow::Cow<'a, str>>,
    account: Option<std::borrow::Cow<'a, str>>,
    product: Option<std::borrow::Cow<'a, str>>,
    market: Option<std::borrow::Cow<'a, str>>,
    side: Option<bool>, // is_buy
    quantity: Option<i64>,
    price: Option<i64>,
    block: bool,
}

fn bad(what: &str) -> PyErr {
    PyValueError::new_err(format!("not a command of the log: {what}"))
}

fn unsupported(what: &str) -> PyErr {
    PyNotImplementedError::new_err(format!("outside the native prototype's scope: {what}"))
}

struct Parser<'a> {
    s: &'a [u8],
    i: usize,
}

impl<'a> Parser<'a> {
    #[inline]
    fn ws(&mut self) {
        while self.i < self.s.len() && matches!(self.s[self.i], b' ' | b'\t' | b'\n' | b'\r') {
            self.i += 1;
        }
    }
    #[inline]
    fn eat(&mut self, c: u8) -> PyResult<()> {
        self.ws();
        if self.i < self.s.len() && self.s[self.i] == c {
            self.i += 1;
            Ok(())
        } else {
            Err(bad("unexpected byte"))
        }
    }
    fn string(&mut self) -> PyResult<std::borrow::Cow<'a, str>> {
        self.eat(b'"')?;
        let start = self.i;
        // the common case: no escape, no control character before the closing quote
        if let Some(n) = self.s[start..].iter().position(|&c| c == b'"' || c == b'\\' || c < 0x20) {
            self.i = start + n;
        }
        while self.i < self.s.len() {
            match self.s[self.i] {
                b'"' => {
                    let raw = &self.s[start..self.i];
                    self.i += 1;
                    // SAFETY: the whole record was checked to be UTF-8 (parse), and a string ends at an ASCII quote
                    return Ok(std::borrow::Cow::Borrowed(unsafe { std::str::from_utf8_unchecked(raw) }));
                }
                b'\\' => return self.escaped(start),
                c if c < 0x20 => return Err(bad("control character in a string")),
                _ => self.i += 1,
            }
        }
        Err(bad("unterminated string"))
    }
    fn hex4(&mut self) -> PyResult<u32> {
        if self.i + 4 > self.s.len() {
            return Err(bad("escape"));
        }
        let h = std::str::from_utf8(&self.s[self.i..self.i + 4]).map_err(|_| bad("escape"))?;
        self.i += 4;
        u32::from_str_radix(h, 16).map_err(|_| bad("escape"))
    }
    fn escaped(&mut self, start: usize) -> PyResult<std::borrow::Cow<'a, str>> {
        let mut out: Vec<u8> = self.s[start..self.i].to_vec();
        while self.i < self.s.len() {
            let c = self.s[self.i];
            self.i += 1;
            match c {
                b'"' => return String::from_utf8(out).map(std::borrow::Cow::Owned).map_err(|_| bad("utf-8")),
                b'\\' => {
                    let e = *self.s.get(self.i).ok_or_else(|| bad("escape"))?;
                    self.i += 1;
                    let ch: u32 = match e {
                        b'"' => 0x22,
                        b'\\' => 0x5c,
                        b'/' => 0x2f,
                        b'b' => 8,
                        b'f' => 12,
                        b'n' => 10,
                        b'r' => 13,
                        b't' => 9,
                        b'u' => {
                            let hi = self.hex4()?;
                            if (0xd800..0xdc00).contains(&hi) {
                                if self.s.get(self.i) != Some(&b'\\') || self.s.get(self.i + 1) != Some(&b'u') {
                                    return Err(bad("lone surrogate"));
                                }
                                self.i += 2;
                                let lo = self.hex4()?;
                                if !(0xdc00..0xe000).contains(&lo) {
                                    return Err(bad("lone surrogate"));
                                }
                                0x10000 + ((hi - 0xd800) << 10) + (lo - 0xdc00)
                            } else {
                                hi
                            }
                        }
                        _ => return Err(bad("escape")),
                    };
                    let ch = char::from_u32(ch).ok_or_else(|| bad("escape"))?;
                    let mut buf = [0u8; 4];
                    out.extend_from_slice(ch.encode_utf8(&mut buf).as_bytes());
                }
                c if c < 0x20 => return Err(bad("control character in a string")),
                c => out.push(c),
            }
        }
        Err(bad("unterminated string"))
    }
    fn int(&mut self) -> PyResult<i64> {
        self.ws();
        let start = self.i;
        if self.i < self.s.len() && self.s[self.i] == b'-' {
            self.i += 1;
        }
        let digits = self.i;
        let mut v: i64 = 0;
        while self.i < self.s.len() && self.s[self.i].is_ascii_digit() {
            v = v.checked_mul(10).and_then(|v| v.checked_add((self.s[self.i] - b'0') as i64)).ok_or_else(|| bad("number"))?;
            self.i += 1;
        }
        if self.i == digits || (self.s[digits] == b'0' && self.i - digits > 1) {
            return Err(bad("number"));
        }
        if self.i < self.s.len() && matches!(self.s[self.i], b'.' | b'e' | b'E') {
            return Err(bad("a float"));
        }
        Ok(if self.s[start] == b'-' { -v } else { v })
    }
    fn peek(&mut self) -> u8 {
        self.ws();
        *self.s.get(self.i).unwrap_or(&0)
    }
}

fn name(v: std::borrow::Cow<'_, str>) -> PyResult<std::borrow::Cow<'_, str>> {
    if v.is_empty() || (v.len() > 128 && v.chars().count() > 128) {
        return Err(bad("a name of 1 to 128 characters"));
    }
    Ok(v)
}

/// money.parse(value, Price): "50.05" or an integer of yuan, positive, at most 1,000,000 yuan.
fn price_of_text(t: &str) -> PyResult<i64> {
    let b = t.as_bytes();
    let dot = b.iter().position(|&c| c == b'.').unwrap_or(b.len());
    let (whole, frac) = (&b[..dot], if dot < b.len() { &b[dot + 1..] } else { &b[b.len()..] });
    let ok = (1..=7).contains(&whole.len())
        && whole.iter().all(u8::is_ascii_digit)
        && (dot == b.len() || ((1..=2).contains(&frac.len()) && frac.iter().all(u8::is_ascii_digit)));
    if !ok {
        return Err(bad("price"));
    }
    let mut fen: i64 = 0;
    for &c in whole {
        fen = fen * 10 + (c - b'0') as i64;
    }
    fen *= 100;
    match frac.len() {
        1 => fen += 10 * (frac[0] - b'0') as i64,
        2 => fen += 10 * (frac[0] - b'0') as i64 + (frac[1] - b'0') as i64,
        _ => {}
    }
    price_bounds(fen)
}

fn price_bounds(fen: i64) -> PyResult<i64> {
    if fen <= 0 || fen > 100_000_000 {
        return Err(bad("price out of bounds"));
    }
    Ok(fen)
}

fn parse(raw: &[u8]) -> PyResult<Cmd<'_>> {
    if !raw.is_ascii() {
        std::str::from_utf8(raw).map_err(|_| bad("utf-8"))?;
    }
    let mut p = Parser { s: raw, i: 0 };
    let mut cmd = Cmd::default();
    p.eat(b'{')?;
    let mut first = true;
    loop {
        if p.peek() == b'}' {
            p.i += 1;
            break;
        }
        if !first {
            p.eat(b',')?;
        }
        first = false;
        let key = p.string()?;
        p.eat(b':')?;
        match &*key {
            "type" => {
                cmd.kind = match &*p.string()? {
                    "order.new" => 1,
                    "order.cancel" => 2,
                    other => return Err(unsupported(&format!("command type {other:?}"))),
                }
            }
            "actor" => cmd.actor = Some(name(p.string()?)?),
            "order_id" => cmd.order_id = Some(name(p.string()?)?),
            "account" => cmd.account = Some(name(p.string()?)?),
            "product" => cmd.product = Some(name(p.string()?)?),
            "market" => {
                let m = p.string()?;
                if !matches!(&*m, "CEA" | "CCER" | "GEC") {
                    return Err(bad("market"));
                }
                cmd.market = Some(m)
            }
            "side" => {
                cmd.side = Some(match &*p.string()? {
                    "buy" => true,
                    "sell" => false,
                    _ => return Err(bad("side")),
                })
            }
            "mode" => match &*p.string()? {
                "listing" => cmd.block = false,
                "block" => cmd.block = true,
                _ => return Err(bad("mode")),
            },
            "quantity" => {
                let q = p.int()?;
                if !(1..=10_000_000_000).contains(&q) {
                    return Err(bad("quantity"));
                }
                cmd.quantity = Some(q)
            }
            "price" => {
                cmd.price = Some(if p.peek() == b'"' {
                    price_of_text(&p.string()?)?
                } else {
                    let yuan = p.int()?;
                    price_bounds(yuan.checked_mul(100).ok_or_else(|| bad("price"))?)?
                })
            }
            "at" => {
                p.string()?; // the command time is the record's timestamp (DOMAIN U3)
            }
            other => return Err(unsupported(&format!("field {other:?}"))),
        }
    }
    p.ws();
    if p.i != raw.len() {
        return Err(bad("trailing bytes"));
    }
    let complete = match cmd.kind {
        1 => cmd.order_id.is_some() && cmd.account.is_some() && cmd.product.is_some() && cmd.side.is_some()
            && cmd.quantity.is_some() && cmd.price.is_some(),
        2 => cmd.order_id.is_some() && cmd.account.is_some() && cmd.product.is_none() && cmd.side.is_none()
            && cmd.quantity.is_none() && cmd.price.is_none() && !cmd.block,
        _ => false,
    };
    if !complete {
        return Err(bad("missing or unknown fields"));
    }
    Ok(cmd)
}

// ------------------------------------------------------------------------------------------ encoding

#[inline]
fn put_int(out: &mut Vec<u8>, v: i64) {
    let mut buf = [0u8; 24];
    let mut i = buf.len();
    let neg = v < 0;
    let mut u = v.unsigned_abs();
    loop {
        i -= 1;
        buf[i] = b'0' + (u % 10) as u8;
        u /= 10;
        if u == 0 {
            break;
        }
    }
    if neg {
        i -= 1;
        buf[i] = b'-';
    }
    out.extend_from_slice(&buf[i..]);
}

/// money.text: fen as "yuan.ff", quoted.
#[inline]
fn put_fen(out: &mut Vec<u8>, fen: i64) {
    out.push(b'"');
    if fen < 0 {
        out.push(b'-');
    }
    let a = fen.unsigned_abs();
    put_int(out, (a / 100) as i64);
    let f = (a % 100) as u8;
    out.extend_from_slice(&[b'.', b'0' + f / 10, b'0' + f % 10, b'"']);
}

/// A JSON string as msgspec writes it.
#[inline]
fn put_str(out: &mut Vec<u8>, s: &str) {
    out.push(b'"');
    let b = s.as_bytes();
    if b.iter().all(|&c| c >= 0x20 && c != b'"' && c != b'\\') {
        out.extend_from_slice(b);
    } else {
        for &c in b {
            match c {
                b'"' => out.extend_from_slice(b"\\\""),
                b'\\' => out.extend_from_slice(b"\\\\"),
                b'\n' => out.extend_from_slice(b"\\n"),
                b'\r' => out.extend_from_slice(b"\\r"),
                b'\t' => out.extend_from_slice(b"\\t"),
                8 => out.extend_from_slice(b"\\b"),
                12 => out.extend_from_slice(b"\\f"),
                c if c < 0x20 => {
                    const HEX: &[u8; 16] = b"0123456789abcdef";
                    out.extend_from_slice(&[b'\\', b'u', b'0', b'0', HEX[(c >> 4) as usize], HEX[(c & 15) as usize]]);
                }
                c => out.push(c),
            }
        }
    }
    out.push(b'"');
}

/// Python's repr() of a str, as the not_authorised detail quotes the actor and the account. Names are printable by
/// the contract, so only quotes, backslashes and ASCII controls are escaped here.
fn py_repr(s: &str) -> String {
    let q = if s.contains('\'') && !s.contains('"') { '"' } else { '\'' };
    let mut out = String::with_capacity(s.len() + 2);
    out.push(q);
    for ch in s.chars() {
        match ch {
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c if c == q => {
                out.push('\\');
                out.push(c)
            }
            c if (c as u32) < 0x20 || c as u32 == 0x7f => out.push_str(&format!("\\x{:02x}", c as u32)),
            c => out.push(c),
        }
    }
    out.push(q);
    out
}

// ------------------------------------------------------------------------------------------ the engine

#[pyclass(unsendable)]
#[allow(dead_code)]
struct ListingEngine {
    market: Box<str>,
    partition: i64, // written once into origin_head
    commands: i64,
    seq: i64,
    trades: i64,
    listing_windows: Vec<(i64, i64)>,
    cancel_windows: Vec<(i64, i64)>, // listing + block windows
    tick: i64,
    size_min: i64,
    size_max: Option<i64>,
    size_lot: i64,
    t_plus_one: bool,
    wallets: Vec<Wallet>,
    wallet_of: FxMap<Box<str>, u32>,
    products: Vec<Product>,
    ids: FxMap<Id, (u32, u32)>, // every order id accepted today (D2) -> (product, slot or NOT_RESTING)
    slots: Vec<Resting>,
    free_slots: Vec<u32>,
    locked: Vec<(u32, u32)>, // positions with units waiting for T+1 (wallet, product), as `locked`
    // the command being applied: its events' start in the output
    ev_start: usize,
    ev_count: i64,
    buf: Vec<u8>, // the output, kept between batches
    origin_head: Vec<u8>,
    market_tail: Vec<u8>,
}

/// What a fill needs to publish its trade.
struct Fill {
    slot: u32,
    quantity: i64,
}

impl ListingEngine {
    #[inline]
    fn in_window(windows: &[(i64, i64)], at: i64) -> Result<(), Rejected> {
        if windows.iter().any(|&(s, e)| s <= at && at < e) {
            Ok(())
        } else {
            Err(Rejected("market_closed", String::new()))
        }
    }

    #[inline]
    fn broker_wallet(&self, cmd: &Cmd) -> Result<u32, Rejected> {
        let account = cmd.account.as_deref().unwrap();
        let actor = cmd.actor.as_deref().unwrap_or("");
        match self.wallet_of.get(account) {
            Some(&w) if &*self.wallets[w as usize].broker == actor => Ok(w),
            _ => Err(Rejected(
                "not_authorised",
                format!("{} does not hold account {}", py_repr(actor), py_repr(account)),
            )),
        }
    }

    /// The event's header is written by the caller; this ends it with seq, origin, market and ref (Engine.apply).
    #[inline]
    fn stamp(&mut self, out: &mut Vec<u8>, position: i64, reference: &str) {
        let index = self.ev_count;
        out.extend_from_slice(b",\"seq\":");
        put_int(out, self.seq + index);
        out.extend_from_slice(&self.origin_head); // ,"origin":{"partition":P,"offset":
        put_int(out, position);
        out.extend_from_slice(b",\"index\":");
        put_int(out, index);
        out.extend_from_slice(&self.market_tail); // },"market":"M"
        if !reference.is_empty() {
            out.extend_from_slice(b",\"ref\":");
            put_str(out, reference);
        }
        out.extend_from_slice(b"}\n");
        self.ev_count += 1;
    }

    fn apply_one(&mut self, cmd: &Cmd, at: i64, out: &mut Vec<u8>) -> PyResult<()> {
        let position = self.commands;
        self.commands += 1;
        self.ev_start = out.len();
        self.ev_count = 0;
        let reference: &str = cmd.order_id.as_deref().unwrap();
        let result = self.handle(cmd, at, position, reference, out)?;
        if let Err(Rejected(reason, detail)) = result {
            // a refused command changed nothing and says so once
            out.truncate(self.ev_start);
            self.ev_count = 0;
            out.extend_from_slice(b"{\"type\":\"order.rejected\",\"account\":");
            put_str(out, cmd.account.as_deref().unwrap());
            out.extend_from_slice(b",\"reason\":\"");
            out.extend_from_slice(reason.as_bytes());
            out.push(b'"');
            if !detail.is_empty() {
                out.extend_from_slice(b",\"detail\":");
                put_str(out, &detail);
            }
            self.stamp(out, position, reference);
        }
        self.seq += self.ev_count;
        Ok(())
    }

    fn handle(&mut self, cmd: &Cmd, at: i64, position: i64, reference: &str, out: &mut Vec<u8>)
              -> PyResult<Result<(), Rejected>> {
        // routing.markets: an order.new is for its market, or its product's; a cancel for its market if it names one
        let mine: Option<&str> = match cmd.kind {
            1 => cmd.market.as_deref().or_else(|| {
                let p = cmd.product.as_deref().unwrap();
                ["CCER", "CEA", "GEC"].into_iter().find(|m| p.starts_with(m))
            }),
            _ => cmd.market.as_deref(),
        };
        if let Some(m) = mine {
            if m != &*self.market {
                let tag = if cmd.kind == 1 { "order.new" } else { "order.cancel" };
                return Ok(Err(Rejected("wrong_market", format!("this is the {} engine; {tag} is for {m}", self.market))));
            }
        }
        if cmd.kind == 1 {
            if cmd.block {
                return Err(unsupported("block offers"));
            }
            Ok(self.on_listing_order(cmd, at, position, reference, out))
        } else {
            self.on_cancel(cmd, at, position, reference, out)
        }
    }

    fn on_listing_order(&mut self, cmd: &Cmd, at: i64, position: i64, reference: &str, out: &mut Vec<u8>)
                        -> Result<(), Rejected> {
        Self::in_window(&self.listing_windows, at)?;
        let w = self.broker_wallet(cmd)?;
        let order_id = cmd.order_id.as_deref().unwrap();
        let key = Id::of(order_id);
        if self.ids.contains_key(&key) {
            return Err(Rejected("duplicate_order_id", order_id.to_string()));
        }
        let pname = cmd.product.as_deref().unwrap();
        let Some(pi) = self.products.iter().position(|p| &*p.name == pname) else {
            return Err(Rejected("unknown_product", pname.to_string()));
        };
        let (price, quantity, is_buy) = (cmd.price.unwrap(), cmd.quantity.unwrap(), cmd.side.unwrap());
        // U1 tick, U2 lot, S1 sizes
        if price % self.tick != 0 {
            return Err(Rejected("tick_size", format!("price must be a multiple of {} fen", self.tick)));
        }
        if quantity < self.size_min || self.size_max.is_some_and(|m| quantity > m) || quantity % self.size_lot != 0 {
            let max = self.size_max.map_or("None".to_string(), |m| m.to_string());
            return Err(Rejected("lot_size", format!("quantity {quantity} outside {}..{max} (lot {})",
                                                    self.size_min, self.size_lot)));
        }
        // B1, B2, B4
        match self.products[pi].limits {
            None => return Err(Rejected("no_reference_price", pname.to_string())),
            Some((lo, hi)) if price < lo || price > hi => {
                return Err(Rejected("price_out_of_band", format!("{price} fen outside [{lo}, {hi}]")))
            }
            _ => {}
        }
        // A2: reserve
        let wallet = &mut self.wallets[w as usize];
        if is_buy {
            let cost = price * quantity;
            if wallet.cash < cost {
                return Err(Rejected("insufficient_funds", format!("free cash {} fen < {cost} fen", wallet.cash)));
            }
            wallet.cash -= cost;
            wallet.cash_held += cost;
        } else {
            match wallet.positions.get_mut(pi).and_then(Option::as_mut) {
                Some(pos) if pos.free >= quantity => {
                    pos.free -= quantity;
                    pos.held += quantity;
                }
                pos => {
                    let free = pos.map_or(0, |p| p.free);
                    return Err(Rejected("insufficient_holdings", format!("free {free} < {quantity}")));
                }
            }
        }
        // accepted: nothing below refuses
        out.extend_from_slice(b"{\"type\":\"order.accepted\",\"order_id\":");
        put_str(out, order_id);
        out.extend_from_slice(b",\"account\":");
        put_str(out, cmd.account.as_deref().unwrap());
        out.extend_from_slice(b",\"product\":");
        put_str(out, pname);
        out.extend_from_slice(if is_buy { b",\"side\":\"buy\",\"quantity\":" } else { b",\"side\":\"sell\",\"quantity\":" });
        put_int(out, quantity);
        out.extend_from_slice(b",\"price\":");
        put_fen(out, price);
        self.stamp(out, position, reference);

        let (fills, left) = self.match_book(pi, is_buy, price, quantity);
        for f in &fills {
            self.listing_trade(pi, w, order_id, is_buy, price, f, position, reference, out);
        }
        self.release_slots(&fills);
        let slot = if left > 0 { self.rest(pi, key.clone(), w, is_buy, price, left) } else { NOT_RESTING };
        self.ids.insert(key, (pi as u32, slot));
        Ok(())
    }

    /// ListingBook.match: the fills, best price then oldest first, and what is left.
    fn match_book(&mut self, pi: usize, is_buy: bool, limit: i64, mut quantity: i64) -> (Vec<Fill>, i64) {
        let mut fills = Vec::new();
        let product = &mut self.products[pi];
        let side = if is_buy { &mut product.asks } else { &mut product.bids };
        while quantity > 0 {
            let mut entry = match if is_buy { side.first_entry() } else { side.last_entry() } {
                Some(e) => e,
                None => break,
            };
            let price = *entry.key();
            if if is_buy { price > limit } else { price < limit } {
                break;
            }
            let level = entry.get_mut();
            while quantity > 0 {
                let Some(&slot) = level.queue.front() else { break };
                let o = &mut self.slots[slot as usize];
                let rem = o.remaining;
                if rem == 0 {
                    level.queue.pop_front();
                    self.free_slots.push(slot);
                    continue;
                }
                if rem <= quantity {
                    fills.push(Fill { slot, quantity: rem });
                    quantity -= rem;
                    o.remaining = 0;
                    level.queue.pop_front(); // its slot is freed once the trade is written
                    level.live -= 1;
                    level.quantity -= rem;
                    if let Some(place) = self.ids.get_mut(&o.order_id) {
                        place.1 = NOT_RESTING;
                    }
                } else {
                    fills.push(Fill { slot, quantity });
                    o.remaining = rem - quantity;
                    level.quantity -= quantity;
                    quantity = 0;
                }
            }
            if level.live == 0 {
                let level = entry.remove();
                self.free_slots.extend(level.queue.iter().copied().filter(|&s| self.slots[s as usize].remaining == 0));
            }
        }
        (fills, quantity)
    }

    /// Slots of fully filled makers, once their trades are written.
    fn release_slots(&mut self, fills: &[Fill]) {
        for f in fills {
            if self.slots[f.slot as usize].remaining == 0 {
                self.free_slots.push(f.slot);
            }
        }
    }

    fn rest(&mut self, pi: usize, order_id: Id, w: u32, is_buy: bool, price: i64, left: i64) -> u32 {
        let order = Resting { order_id, wallet: w, is_buy, price, remaining: left };
        let slot = match self.free_slots.pop() {
            Some(s) => {
                self.slots[s as usize] = order;
                s
            }
            None => {
                self.slots.push(order);
                (self.slots.len() - 1) as u32
            }
        };
        let product = &mut self.products[pi];
        let side = if is_buy { &mut product.bids } else { &mut product.asks };
        let level = side.entry(price).or_default();
        level.queue.push_back(slot);
        level.live += 1;
        level.quantity += left;
        slot
    }

    #[allow(clippy::too_many_arguments)]
    fn listing_trade(&mut self, pi: usize, taker: u32, taker_order: &str, taker_buys: bool, taker_limit: i64,
                     f: &Fill, position: i64, reference: &str, out: &mut Vec<u8>) {
        let (maker, price, quantity) = {
            let o = &self.slots[f.slot as usize];
            (o.wallet, o.price, f.quantity)
        };
        let (buyer, seller, buyer_limit) = if taker_buys { (taker, maker, taker_limit) } else { (maker, taker, price) };
        // A4: Accounts.fill
        {
            let b = &mut self.wallets[buyer as usize];
            b.cash_held -= buyer_limit * quantity;
            b.cash += (buyer_limit - price) * quantity;
        }
        self.wallets[seller as usize].cash += price * quantity;
        self.wallets[seller as usize].positions[pi].as_mut().expect("a seller holds a position").held -= quantity;
        let b = &mut self.wallets[buyer as usize];
        if b.positions.len() <= pi {
            b.positions.resize(pi + 1, None);
        }
        let pos = b.positions[pi].get_or_insert_with(Position::default);
        if self.t_plus_one {
            if pos.locked == 0 {
                self.locked.push((buyer, pi as u32));
            }
            pos.locked += quantity;
        } else {
            pos.free += quantity;
        }
        // Day.listing_trade (its elif as written)
        let day = &mut self.products[pi].day;
        match day.open {
            None => {
                day.open = Some(price);
                day.high = Some(price);
                day.low = Some(price);
            }
            Some(_) => {
                if price > day.high.unwrap() {
                    day.high = Some(price)
                } else if price < day.low.unwrap() {
                    day.low = Some(price)
                }
            }
        }
        day.listing_volume += quantity as i128;
        day.listing_value += price as i128 * quantity as i128;
        day.last = Some(price);
        day.last_quantity = quantity;
        // the trade event
        self.trades += 1;
        out.extend_from_slice(b"{\"type\":\"trade\",\"trade_id\":\"");
        out.extend_from_slice(self.market.as_bytes()); // a market name needs no escape
        out.push(b'-');
        put_int(out, self.trades);
        out.extend_from_slice(b"\",\"product\":");
        put_str(out, &self.products[pi].name);
        out.extend_from_slice(b",\"mode\":\"listing\",\"price\":");
        put_fen(out, price);
        out.extend_from_slice(b",\"quantity\":");
        put_int(out, quantity);
        out.extend_from_slice(b",\"buy_order\":");
        let maker_order = &self.slots[f.slot as usize].order_id;
        if taker_buys { put_str(out, taker_order) } else { maker_order.put(out) }
        out.extend_from_slice(b",\"sell_order\":");
        if taker_buys { maker_order.put(out) } else { put_str(out, taker_order) }
        out.extend_from_slice(b",\"buyer\":");
        put_str(out, &self.wallets[buyer as usize].account);
        out.extend_from_slice(b",\"seller\":");
        put_str(out, &self.wallets[seller as usize].account);
        self.stamp(out, position, reference);
    }

    fn on_cancel(&mut self, cmd: &Cmd, at: i64, position: i64, reference: &str, out: &mut Vec<u8>)
                 -> PyResult<Result<(), Rejected>> {
        if let Err(r) = Self::in_window(&self.cancel_windows, at) {
            return Ok(Err(r));
        }
        if let Err(r) = self.broker_wallet(cmd) {
            return Ok(Err(r));
        }
        let order_id = cmd.order_id.as_deref().unwrap();
        let account = cmd.account.as_deref().unwrap();
        let key = Id::of(order_id);
        let Some(&(pi, slot)) = self.ids.get(&key).filter(|p| p.1 != NOT_RESTING) else {
            // block offers and GEC orders are outside the prototype (none exist in a listing-only market)
            return Ok(Err(Rejected("unknown_order", order_id.to_string())));
        };
        let o = &self.slots[slot as usize];
        let owner = o.wallet;
        if &*self.wallets[owner as usize].account != account {
            return Ok(Err(Rejected("not_authorised", format!("{order_id} is not {account}'s"))));
        }
        let (is_buy, price, remaining) = (o.is_buy, o.price, o.remaining);
        // ListingBook._drop
        self.ids.get_mut(&key).unwrap().1 = NOT_RESTING;
        self.slots[slot as usize].remaining = 0;
        let product = &mut self.products[pi as usize];
        let side = if is_buy { &mut product.bids } else { &mut product.asks };
        let level = side.get_mut(&price).expect("a resting order's level");
        level.live -= 1;
        level.quantity -= remaining;
        if level.live == 0 {
            let level = side.remove(&price).unwrap();
            self.free_slots.extend(level.queue.iter().copied()); // all dead now
        }
        // A2: release
        let wallet = &mut self.wallets[owner as usize];
        if is_buy {
            wallet.cash_held -= price * remaining;
            wallet.cash += price * remaining;
        } else {
            let pos = wallet.positions[pi as usize].as_mut().expect("a seller's position");
            pos.held -= remaining;
            pos.free += remaining;
        }
        out.extend_from_slice(b"{\"type\":\"order.cancelled\",\"order_id\":");
        put_str(out, order_id);
        out.extend_from_slice(b",\"account\":");
        put_str(out, account);
        out.extend_from_slice(b",\"remaining\":");
        put_int(out, remaining);
        self.stamp(out, position, reference);
        Ok(Ok(()))
    }
}

type WalletInit = (String, String, i64, i64, Vec<(String, i64, i64, i64)>);

#[pymethods]
impl ListingEngine {
    /// The engine as the Python one stands after its set-up: see loadtest/native_bench.py's `native_from`.
    #[new]
    #[allow(clippy::too_many_arguments)]
    #[pyo3(signature = (market, partition, commands, seq, trades, listing_windows, block_windows, tick, sizes,
                        t_plus_one, wallets, products, order_ids))]
    fn new(market: String, partition: i64, commands: i64, seq: i64, trades: i64, listing_windows: Vec<(i64, i64)>,
           block_windows: Vec<(i64, i64)>, tick: i64, sizes: (i64, Option<i64>, i64), t_plus_one: bool,
           wallets: Vec<WalletInit>, products: Vec<(String, Option<(i64, i64)>)>, order_ids: Vec<String>)
           -> PyResult<Self> {
        let products: Vec<Product> = products
            .into_iter()
            .map(|(name, limits)| Product { name: name.into(), limits, bids: BTreeMap::new(), asks: BTreeMap::new(),
                                            day: Day::default() })
            .collect();
        let mut eng = ListingEngine {
            market: market.into(), partition, commands, seq, trades,
            cancel_windows: listing_windows.iter().chain(block_windows.iter()).copied().collect(),
            listing_windows, tick, size_min: sizes.0, size_max: sizes.1, size_lot: sizes.2, t_plus_one,
            wallets: Vec::new(), wallet_of: FxMap::default(), products: Vec::new(),
            ids: order_ids.iter().map(|id| (Id::of(id), (0, NOT_RESTING))).collect(),
            slots: Vec::new(), free_slots: Vec::new(), locked: Vec::new(), ev_start: 0, ev_count: 0, buf: Vec::new(),
            origin_head: Vec::new(), market_tail: Vec::new(),
        };
        eng.origin_head.extend_from_slice(b",\"origin\":{\"partition\":");
        put_int(&mut eng.origin_head, partition);
        eng.origin_head.extend_from_slice(b",\"offset\":");
        eng.market_tail.extend_from_slice(b"},\"market\":");
        put_str(&mut eng.market_tail, &eng.market);
        for (account, broker, cash, cash_held, positions) in wallets {
            let mut ps = vec![None; products.len()];
            for (product, free, held, locked) in positions {
                if let Some(i) = products.iter().position(|p| *p.name == *product) {
                    if held != 0 || locked != 0 {
                        return Err(unsupported("positions with held or locked units at the start"));
                    }
                    ps[i] = Some(Position { free, held, locked });
                }
            }
            eng.wallet_of.insert(account.as_str().into(), eng.wallets.len() as u32);
            eng.wallets.push(Wallet { account: account.into(), broker: broker.into(), cash, cash_held, positions: ps });
        }
        eng.products = products;
        Ok(eng)
    }

    /// Apply a batch of log records (each the canonical JSON of a command) at their times (`ats`, epoch ms, one per
    /// record, or one int for all). Returns the events, each as codec.encode writes it, one a line.
    fn apply_batch<'py>(&mut self, py: Python<'py>, records: &Bound<'py, PyList>, ats: &Bound<'py, PyAny>)
                        -> PyResult<Bound<'py, PyBytes>> {
        let one_at: Option<i64> = ats.extract().ok();
        let at_list = if one_at.is_none() { Some(ats.cast::<PyList>()?.clone()) } else { None };
        let mut out = std::mem::take(&mut self.buf);
        out.clear();
        for (k, record) in records.iter().enumerate() {
            let record = record.cast::<PyBytes>()?;
            let at = match one_at {
                Some(a) => a,
                None => at_list.as_ref().unwrap().get_item(k)?.extract::<i64>()?,
            };
            let cmd = parse(record.as_bytes())?;
            self.apply_one(&cmd, at, &mut out)?;
        }
        let bytes = PyBytes::new(py, &out);
        self.buf = out;
        Ok(bytes)
    }

    /// The boundary alone: takes the same arguments, reads every record's bytes and time, does no work.
    fn noop_batch<'py>(&mut self, py: Python<'py>, records: &Bound<'py, PyList>, ats: &Bound<'py, PyAny>)
                       -> PyResult<Bound<'py, PyBytes>> {
        let one_at: Option<i64> = ats.extract().ok();
        let at_list = if one_at.is_none() { Some(ats.cast::<PyList>()?.clone()) } else { None };
        let mut total: usize = 0;
        for (k, record) in records.iter().enumerate() {
            let record = record.cast::<PyBytes>()?;
            let at = match one_at {
                Some(a) => a,
                None => at_list.as_ref().unwrap().get_item(k)?.extract::<i64>()?,
            };
            total = total.wrapping_add(record.as_bytes().len()).wrapping_add(at as usize);
        }
        Ok(PyBytes::new(py, &total.to_le_bytes()[..1]))
    }

    /// The boundary and the decoding of each record, no rules.
    fn parse_batch(&mut self, records: &Bound<'_, PyList>) -> PyResult<usize> {
        let mut n = 0;
        for record in records.iter() {
            let record = record.cast::<PyBytes>()?;
            let cmd = parse(record.as_bytes())?;
            n += cmd.kind as usize;
        }
        Ok(n)
    }

    #[getter]
    fn commands(&self) -> i64 {
        self.commands
    }
    #[getter]
    fn seq(&self) -> i64 {
        self.seq
    }
    #[getter]
    fn trades(&self) -> i64 {
        self.trades
    }

    /// Each wallet: (account, cash, cash_held, {product: (free, held, locked)}), to compare with the Python engine.
    fn wallets(&self) -> Vec<(String, i64, i64, Vec<(String, i64, i64, i64)>)> {
        self.wallets
            .iter()
            .map(|w| {
                let ps = w.positions.iter().enumerate()
                    .filter_map(|(i, p)| p.map(|p| (self.products[i].name.to_string(), p.free, p.held, p.locked)))
                    .collect();
                (w.account.to_string(), w.cash, w.cash_held, ps)
            })
            .collect()
    }

    /// The resting orders of a product as (order id, remaining), sorted, and its day (open, high, low, volume, value,
    /// last, last quantity).
    #[allow(clippy::type_complexity)]
    fn book(&self, product: &str)
            -> PyResult<(Vec<(String, i64)>, (Option<i64>, Option<i64>, Option<i64>, i128, i128, Option<i64>, i64))> {
        let pi = self.products.iter().position(|p| &*p.name == product).ok_or_else(|| bad("product"))?;
        let mut orders: Vec<(String, i64)> = self.ids.iter()
            .filter(|(_, &(p, s))| p as usize == pi && s != NOT_RESTING)
            .map(|(id, &(_, s))| (id.string(), self.slots[s as usize].remaining)).collect();
        orders.sort();
        let d = &self.products[pi].day;
        Ok((orders, (d.open, d.high, d.low, d.listing_volume, d.listing_value, d.last, d.last_quantity)))
    }

    /// How many positions wait for T+1 (the Python engine's `len(locked)`).
    fn locked_count(&self) -> usize {
        self.locked.len()
    }
}

#[pymodule]
fn certx_listing(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_class::<ListingEngine>()?;
    Ok(())
}
