// The market page: holds what the server sends on /stream (certx.web.board.View: the whole board first, then
// what changed), merged as Board.absorb merges it, and draws it. Everything from the feed is data: it goes into
// the page as textContent (or a number), never as markup. Times are the exchange's, shown in China time.
// With ?measure in the address, the page notes when it first drew each trade (window.certxShown: trade id ->
// Date.now()), for loadtest/web_bench.py.
"use strict";

const CHINA_MS = 8 * 3600e3;           // China has kept UTC+8 all year since 1991
const whole = new Intl.NumberFormat("en");
const measuring = new URLSearchParams(location.search).has("measure");
window.certxShown = {};
let held = fresh(null);
const cards = new Map();               // product -> its card's parts
const MARKETS = ["CEA", "CCER", "GEC"];  // the order of the cards: by market, then by product
const place = product => MARKETS.indexOf(held.quotes[product].market);

// Keyed by product (or market): objects with no prototype, so that a product called "constructor" or
// "__proto__" (any printable name may be listed) is a key like any other, not Object's own property.
function fresh(limits) {
  const table = () => Object.create(null);
  return {limits, quotes: table(), closes: table(), prints: table(), points: table(), settlements: table()};
}

function keep(list, item, limit) {
  list.push(item);
  if (list.length > limit) list.splice(0, list.length - limit);
}

// The merge of one message: Board.absorb, in JavaScript. Returns the products it touched.
function absorb(view) {
  if (view.reset) held = fresh(view.limits);
  const touched = new Set();
  for (const q of view.quotes) { held.quotes[q.product] = q; touched.add(q.product); }
  for (const d of view.closes) { held.closes[d.product] = d; touched.add(d.product); }
  for (const p of view.prints) {
    keep(held.prints[p.product] ??= [], p, held.limits.prints);
    touched.add(p.product);
  }
  for (const p of view.points) {
    keep(held.points[p.product] ??= [], p, held.limits.points);
    touched.add(p.product);
  }
  for (const s of view.settlements) keep(held.settlements[s.market] ??= [], s, held.limits.settlements);
  return touched;
}

// --- text ------------------------------------------------------------------------------------------------

const clock = ms => new Date(ms + CHINA_MS).toISOString().slice(11, 19);
const stamp = ms => new Date(ms + CHINA_MS).toISOString().slice(0, 19).replace("T", " ");
const money = v => (v === null || v === undefined) ? "–" : v;
const count = n => whole.format(n);
const grouped = yuan => yuan.replace(/^(-?\d+)/, digits => digits.replace(/\B(?=(\d{3})+$)/g, ","));
const band = b => b ? `${b[0]} – ${b[1]}` : "none";
const certificates = ranges => ranges.reduce((n, [a, b]) => n + b - a + 1, 0);

function el(tag, cls, text) {
  const node = document.createElement(tag);
  if (cls) node.className = cls;
  if (text !== undefined) node.textContent = text;
  return node;
}

function row(cells) {             // cells: [class, text]; a class with "text" aligns left
  const tr = document.createElement("tr");
  for (const [cls, text] of cells) tr.append(el("td", cls, text));
  return tr;
}

// --- a product's card ------------------------------------------------------------------------------------

function card(product) {
  let c = cards.get(product);
  if (c) return c;
  const node = document.getElementById("product-card").content.firstElementChild.cloneNode(true);
  node.dataset.product = product;
  const part = sel => node.querySelector(sel);
  c = {node, chart: null, part};
  part(".name").textContent = product;
  cards.set(product, c);
  const list = document.getElementById("products");
  const order = [...cards.keys()].sort((a, b) => place(a) - place(b) || (a < b ? -1 : 1));
  const next = order[order.indexOf(product) + 1];
  list.insertBefore(node, next === undefined ? document.getElementById("settlement") : cards.get(next).node);
  document.getElementById("empty").hidden = true;
  return c;
}

function draw(product) {
  const q = held.quotes[product];
  if (!q) return;                  // prints or a close before its first quote: drawn with the quote
  const c = card(product), part = c.part;
  c.node.dataset.seq = q.seq;
  part(".market").textContent = `${q.market} market`;
  const session = part(".session");
  session.dataset.session = q.session;
  session.textContent = `${q.session === "open" ? "open" : "closed"} · ${q.date ?? "no session yet"}`;
  part(".last-price").textContent = money(q.last);
  part(".last-quantity").textContent = q.last === null ? "no listing trade today" : `× ${count(q.last_quantity)}`;
  part(".open").textContent = money(q.open);
  part(".high").textContent = money(q.high);
  part(".low").textContent = money(q.low);
  const close = held.closes[product];
  part(".close").textContent = close ? `${money(close.close)} (${close.date})` : "–";
  part(".listing-band").textContent = band(q.listing_band);
  part(".block-band").textContent = band(q.block_band);
  part(".volume").textContent = `listing ${count(q.listing_volume)} · block ${count(q.block_volume)}` +
    (q.auction_volume ? ` · auction ${count(q.auction_volume)}` : "");
  book(part("table.book tbody"), q);
  tape(part("table.tape tbody"), held.prints[product] || []);
  lots(part("table.lots"), q.lots);
  chart(c, q, held.points[product] || []);
}

// The ladder as the exchange shows it: asks 5 to 1 above, bids 1 to 5 below, each level's quantity with a bar.
function book(body, q) {
  const rows = [];
  for (let i = 4; i >= 0; i--) rows.push(["ask", i, q.asks[i]]);
  for (let i = 0; i < 5; i++) rows.push(["bid", i, q.bids[i]]);
  const deepest = Math.max(1, ...rows.map(([, , l]) => l ? l[1] : 0));
  body.replaceChildren(...rows.map(([side, i, level]) => {
    const tr = row([["text side", `${side} ${i + 1}`], ["price", level ? level[0] : "–"], ["quantity", ""],
                    ["orders", level ? count(level[2]) : "–"]]);
    tr.dataset.side = side;
    tr.dataset.level = i + 1;
    const cell = tr.querySelector("td.quantity");
    if (level) {
      const bar = el("i");
      bar.style.width = `${(100 * level[1] / deepest).toFixed(1)}%`;
      cell.append(bar, el("span", null, count(level[1])));
    } else {
      cell.textContent = "–";
    }
    return tr;
  }));
}

function tape(body, prints) {
  const now = Date.now();
  body.replaceChildren(...prints.slice().reverse().map(p => {
    const tr = row([["text", clock(p.at)], ["price", p.price], ["quantity", count(p.quantity)], ["text", p.mode]]);
    tr.dataset.trade = p.trade_id;
    if (measuring && !(p.trade_id in window.certxShown)) window.certxShown[p.trade_id] = now;
    return tr;
  }));
}

function lots(table, cheapest) {
  table.hidden = !cheapest;
  if (!cheapest) return;
  table.querySelector("tbody").replaceChildren(...cheapest.map(([province, technology, price, quantity]) =>
    row([["text", province], ["text", technology], ["price", price], ["quantity", count(quantity)]])));
}

// The day's last prices (today's points only, since the band is today's) against the listing band (B1, shaded)
// and the day's high and low (dashed), drawn across the whole plot whatever the points' times.
function chart(c, q, points) {
  const today = points.filter(p => p.date === q.date);
  const data = [today.map(p => p.at / 1000), today.map(p => Number(p.price))];
  c.quote = q;
  if (c.chart) {
    c.chart.setData(data);
    return;
  }
  const figure = c.part("figure.chart");
  const num = v => v === null || v === undefined ? null : Number(v);
  const levels = () => {
    const b = c.quote.listing_band || [null, null];
    return {low: num(b[0]), high: num(b[1]), dayHigh: num(c.quote.high), dayLow: num(c.quote.low)};
  };
  const across = (u, y, stroke, dash) => {
    const ctx = u.ctx, top = u.valToPos(y, "y", true);
    ctx.save();
    ctx.strokeStyle = stroke;
    ctx.lineWidth = devicePixelRatio;
    ctx.setLineDash(dash.map(d => d * devicePixelRatio));
    ctx.beginPath();
    ctx.moveTo(u.bbox.left, top);
    ctx.lineTo(u.bbox.left + u.bbox.width, top);
    ctx.stroke();
    ctx.restore();
  };
  const underlay = u => {
    const l = levels();
    if (l.low !== null) {
      const top = u.valToPos(l.high, "y", true), bottom = u.valToPos(l.low, "y", true);
      u.ctx.fillStyle = "rgba(47,111,179,0.08)";
      u.ctx.fillRect(u.bbox.left, top, u.bbox.width, bottom - top);
      across(u, l.low, "rgba(47,111,179,0.9)", []);
      across(u, l.high, "rgba(47,111,179,0.9)", []);
    }
    if (l.dayHigh !== null) across(u, l.dayHigh, "#c0504d", [4, 3]);
    if (l.dayLow !== null) across(u, l.dayLow, "#3a9a5b", [4, 3]);
  };
  const price = (u, v) => v === null || v === undefined ? "–" : v.toFixed(2);
  c.chart = new uPlot({
    width: Math.max(300, c.node.clientWidth - 28), height: 170,
    tzDate: ts => uPlot.tzDate(new Date(ts * 1e3), "Asia/Shanghai"),
    scales: {
      x: {time: true, range: u => {
        const xs = u.data[0];
        if (!xs.length) return [0, 3600];
        const pad = Math.max(300, (xs[xs.length - 1] - xs[0]) * 0.04);   // a lone point still gets minutes
        return [xs[0] - pad, xs[xs.length - 1] + pad];
      }},
      y: {range: u => {
        const l = levels(), vs = [...u.data[1], l.low, l.high, l.dayHigh, l.dayLow].filter(v => v !== null);
        if (!vs.length) return [0, 1];
        const lo = Math.min(...vs), hi = Math.max(...vs), pad = Math.max((hi - lo) * 0.08, 0.05);
        return [lo - pad, hi + pad];
      }},
    },
    axes: [{space: 60, values: (u, ts) => ts.map(t => clock(t * 1000).slice(0, 5))},
           {size: 52, values: (u, vs) => vs.map(v => v.toFixed(2))}],
    series: [{label: "time", value: (u, t) => t === null ? "–" : clock(t * 1000)},
             {label: "last", stroke: "#1d232b", width: 1.5, value: price, points: {show: true, size: 4, fill: "#1d232b"}}],
    legend: {show: false},
    hooks: {drawClear: [underlay]},
  }, data, figure);
}

// --- settlement ------------------------------------------------------------------------------------------

// Each market's latest first, the markets in the cards' order.
function settlements() {
  const markets = Object.keys(held.settlements).sort((a, b) => MARKETS.indexOf(a) - MARKETS.indexOf(b));
  document.querySelector("table.settlements tbody").replaceChildren(...markets.flatMap(market =>
    held.settlements[market].slice().reverse().map(s => {
      const tr = s.type === "settled"
        ? row([["text", "settled"], ["text", s.trade_id], ["text", s.product], ["quantity", count(s.quantity)],
               ["price", s.price], ["cash", grouped(s.cash)], ["text", `${s.buyer} ← ${s.seller}`]])
        : row([["text", "GEC cancelled"], ["text", s.trade_id], ["text", "GEC"],
               ["quantity", count(certificates(s.serials))], ["price", ""], ["cash", ""],
               ["text", `${s.owner}, for ${s.beneficiary}`]]);
      tr.dataset.kind = s.type;
      tr.dataset.trade = s.trade_id;
      tr.dataset.market = market;
      return tr;
    })));
}

// --- the stream ------------------------------------------------------------------------------------------

function status(state, text) {
  const node = document.getElementById("status");
  node.dataset.state = state;
  node.textContent = text;
}

function receive(message) {
  const view = JSON.parse(message.data);
  const touched = absorb(view);
  for (const product of view.reset ? Object.keys(held.quotes) : touched) draw(product);
  if (view.reset || view.settlements.length) settlements();
  const latest = Math.max(0, ...Object.values(held.prints).map(ps => ps[ps.length - 1].at));
  if (latest) document.getElementById("as-of").textContent = `last trade ${stamp(latest)} China time`;
  document.documentElement.dataset.ready = "yes";
}

const stream = new EventSource("stream");
stream.onopen = () => status("live", "live");
stream.onerror = () => status("lost", "reconnecting…");      // EventSource reconnects by itself
stream.onmessage = receive;
// A page left for another (kept in the back-forward cache) lets go of its stream, and starts afresh if it comes back.
window.addEventListener("pagehide", () => stream.close());
window.addEventListener("pageshow", event => { if (event.persisted) location.reload(); });
window.addEventListener("resize", () => {
  for (const c of cards.values()) {
    if (c.chart) c.chart.setSize({width: Math.max(300, c.node.clientWidth - 28), height: 170});
  }
});
