// Draws the report from the figures embedded in the page (certx.report.figures), with uPlot.
// Money comes as the wire writes it ("44.22", yuan), dates as ISO strings. Time axes are in UTC, so a trading
// day stays the same day wherever the page is opened.
"use strict";

const F = JSON.parse(document.getElementById("figures").textContent);
const DAY = 86400;
const MODES = [["listing", "#2f6fb3"], ["block", "#e08a1e"], ["auction", "#3a9a5b"]];
const YEARS = ["#2f6fb3", "#c0504d", "#3a9a5b", "#8064a2", "#e08a1e", "#4bacc6", "#7f7f7f"];
const MONTHS = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"];
const UNIT_NAME = {t: "tonnes", certificates: "certificates"};
const HEIGHT = 320;
const whole = new Intl.NumberFormat("en");
const compact = new Intl.NumberFormat("en", {notation: "compact", maximumFractionDigits: 1});
const yuan = s => (s === null || s === undefined) ? null : Number(s);
const dayTime = iso => Date.UTC(+iso.slice(0, 4), +iso.slice(5, 7) - 1, +iso.slice(8, 10)) / 1000;
const utc = ts => uPlot.tzDate(new Date(ts * 1e3), "Etc/UTC");
const fromZero = {range: (u, min, max) => [0, max > 0 ? max * 1.08 : 1]};
const charts = [];

function el(tag, attrs, ...children) {
  const node = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) node.setAttribute(k, v);
  node.append(...children.filter(c => c !== null && c !== undefined));
  return node;
}

// --- axes and scales ---------------------------------------------------------------------------------------

// The x axis of day figures: one tick a day at the least, labelled by what the span needs.
const DAY_INCRS = [1, 2, 3, 4, 5, 7, 10, 15].map(n => n * DAY)
  .concat([1, 2, 3, 4, 6].map(n => n * 30 * DAY), [1, 2, 5, 10].map(n => n * 365 * DAY));

function dayLabel(t, incr) {
  const d = new Date(t * 1e3), month = MONTHS[d.getUTCMonth()], year = d.getUTCFullYear();
  if (incr >= 365 * DAY) return String(year);
  if (incr >= 30 * DAY) return `${month} ${year}`;
  return `${d.getUTCDate()} ${month} ${year}`;
}

const dayAxis = {label: "trading day", incrs: DAY_INCRS, space: 90,
                 values: (u, splits, ax, space, incr) => splits.map(t => dayLabel(t, incr))};

// A day scale spans the days given and half a day more on each side, so the first and last bars show whole.
const dayScale = xs => ({time: true, auto: false, range: [xs[0] - 0.6 * DAY, xs[xs.length - 1] + 0.6 * DAY]});

// The x axis of per-second figures: times of day in UTC, with the date under the first and at each midnight.
const two = n => String(n).padStart(2, "0");
const secondAxis = {label: "time (UTC)", space: 80, values: (u, splits, ax, space, incr) => splits.map((t, i) => {
  const d = new Date(t * 1e3), hm = `${two(d.getUTCHours())}:${two(d.getUTCMinutes())}`;
  const time = incr < 60 ? `${hm}:${two(d.getUTCSeconds())}` : hm;
  return i === 0 || t % DAY === 0 ? `${time}\n${d.toISOString().slice(0, 10)}` : time;
})};

// A chart in its figure. While the pointer is away, its legend reads the values at `rest` (the last day, say), so
// the page shows numbers before anyone hovers over it.
function chart(section, name, opts, data, rest = data[0].length - 1) {
  const fig = el("figure", {class: "chart", "data-chart": name});
  section.querySelector(".charts").append(fig);
  const atRest = u => { if (u.legend.idx === null || u.legend.idx === undefined) u.setLegend({idx: rest}); };
  const u = new uPlot({width: fig.clientWidth - 24, height: HEIGHT, tzDate: utc, hooks: {setLegend: [atRest]},
                       ...opts}, data, fig);
  atRest(u);
  charts.push([u, fig]);
}

function note(section, cls, text) {
  section.querySelector(".charts").before(el("p", {class: cls}, text));
}

// --- the overview ------------------------------------------------------------------------------------------

function overview() {
  const o = F.overview;
  const days = o.first_date === o.last_date ? o.first_date : `${o.first_date} to ${o.last_date}`;
  const trades = Object.entries(o.trades).map(([mode, n]) => `${mode} ${whole.format(n)}`).join(", ");
  document.getElementById("overview").textContent =
    `${o.source} · ${whole.format(o.events)} events · trading days ${days || "none"} · ` +
    `products ${o.products.join(", ") || "none"} · trades: ${trades || "none"}`;
}

// --- close against the bands (B1, B2, D4) ------------------------------------------------------------------

function closes() {
  const section = document.getElementById("closes");
  if (!F.closes.length) note(section, "missing", "No product with a price band had a day summary in this replay.");
  for (const p of F.closes) {
    // A band holds for its whole trading day: drawn as a flat step across the day, with the close at its middle.
    const xs = [], cols = [[], [], [], [], [], [], []];
    for (const d of p.days) {
      const t = dayTime(d.date), block = d.block_band || [null, null], listing = d.listing_band || [null, null];
      for (const [dx, middle] of [[-0.4 * DAY, false], [0, true], [0.4 * DAY, false]]) {
        xs.push(t + dx);
        [block[0], block[1], listing[0], listing[1]].forEach((v, i) => cols[i].push(yuan(v)));
        [d.close, d.high, d.low].forEach((v, i) => cols[4 + i].push(middle ? yuan(v) : null));
      }
    }
    // The ratios in force (B3 may change them): named in the title and legend when one held throughout.
    const ratio = mode => {
      const all = new Set(p.days.map(d => d[`${mode}_bps`]).filter(b => b !== null));
      return all.size === 1 ? [...all][0] / 100 : null;
    };
    const listingPct = ratio("listing"), blockPct = ratio("block");
    const band = (pct, mode) => pct === null ? mode : `±${pct}% ${mode}`;
    const limit = (pct, mode, sign) =>
      pct === null ? `${mode} ${sign === "+" ? "high" : "low"}` : `${mode} ${sign}${pct}%`;
    const price = (u, v) => v === null ? "--" : v.toFixed(2);
    const line = (label, color, dash) => ({label, stroke: color, width: 1, dash, value: price, points: {show: false}});
    // High and low: a ring on each day while the days are few enough to tell apart, else a thin line.
    const few = p.days.length <= 60;
    const marker = (label, color) => few
      ? {label, stroke: color, width: 2, value: price, paths: () => null, points: {show: true, size: 9, fill: "#fff"}}
      : {label, stroke: color, width: 1, value: price, spanGaps: true, points: {show: false}};
    chart(section, `close-${p.product}`, {
      title: `${p.product}: daily close against the ${band(listingPct, "listing")} and ` +
             `${band(blockPct, "block")} bands`,
      scales: {x: dayScale(p.days.map(d => dayTime(d.date)))},
      axes: [dayAxis, {label: "yuan per tonne", size: 64, values: (u, vs) => vs.map(v => v.toFixed(2))}],
      series: [
        {label: "day", value: (u, t) => t === null ? "--" : dayLabel(Math.round(t / DAY) * DAY, DAY)},
        line(limit(blockPct, "block", "−"), "rgba(224,138,30,0.9)", [4, 4]),
        line(limit(blockPct, "block", "+"), "rgba(224,138,30,0.9)", [4, 4]),
        line(limit(listingPct, "listing", "−"), "rgba(47,111,179,0.9)"),
        line(limit(listingPct, "listing", "+"), "rgba(47,111,179,0.9)"),
        {label: "close", stroke: "#1d232b", width: few ? 2 : 1.5, spanGaps: true, value: price,
         points: {show: few, size: 8, fill: "#1d232b"}},
        marker("high", "#c0504d"),
        marker("low", "#3a9a5b"),
      ],
      // The block band shaded outside the listing band only, so the two shades never mix.
      bands: [{series: [2, 4], fill: "rgba(224,138,30,0.13)"}, {series: [3, 1], fill: "rgba(224,138,30,0.13)"},
              {series: [4, 3], fill: "rgba(47,111,179,0.15)"}],
    }, [xs, ...cols], xs.length - 2);         // at rest: the last day's middle, its close
  }
}

// --- volume by mode (D5) -----------------------------------------------------------------------------------

function volumes() {
  const section = document.getElementById("volumes");
  if (!F.volumes.length) note(section, "missing", "No day summary in this replay.");
  for (const m of F.volumes) {
    const xs = m.days.map(d => dayTime(d.date));
    const unit = m.unit === "t" ? " t" : " certificates";
    // Stacked bars: each mode is drawn as its volume plus those below it, the tallest first, so each shows
    // above the one before; its legend reads its own volume.
    const layers = MODES.map(([mode, color], i) => ({
      series: {label: mode, fill: color, stroke: color, paths: uPlot.paths.bars({size: [0.7, 48]}),
               points: {show: false},
               value: (u, v, si, idx) => idx === null ? "--" : `${whole.format(m.days[idx][mode])}${unit}`},
      heights: m.days.map(d => MODES.slice(0, i + 1).reduce((sum, [below]) => sum + d[below], 0)),
    })).reverse();
    chart(section, `volume-${m.market}`, {
      title: `${m.market}: volume by trading mode per day (${UNIT_NAME[m.unit]})`,
      scales: {x: dayScale(xs), y: fromZero},
      axes: [dayAxis, {label: UNIT_NAME[m.unit], size: 64, values: (u, vs) => vs.map(v => compact.format(v))}],
      series: [{label: "day", value: (u, t) => t === null ? "--" : dayLabel(t, DAY)}, ...layers.map(l => l.series)],
    }, [xs, ...layers.map(l => l.heights)]);
  }
}

// --- the tide through each year ----------------------------------------------------------------------------

function tide() {
  const section = document.getElementById("tide");
  if (!F.tide.length) { note(section, "missing", "No CEA volume in this replay."); return; }
  // Every year on one calendar (2000, a leap year), so the years lie over each other.
  const onCalendar = iso => Date.UTC(2000, +iso.slice(5, 7) - 1, +iso.slice(8, 10)) / 1000;
  const month = t => MONTHS[new Date(t * 1e3).getUTCMonth()];
  const xs = [...new Set(F.tide.flatMap(y => y.days.map(d => onCalendar(d.date))))].sort((a, b) => a - b);
  const columns = F.tide.map(y => {
    const share = new Map(y.days.map(d => [onCalendar(d.date), d.share]));
    return xs.map(x => share.has(x) ? share.get(x) : null);
  });
  note(section, "note", F.tide.map(y => {
    const peak = y.months.reduce((a, b) => (b.volume > a.volume ? b : a));
    const name = MONTHS[+peak.month.slice(5, 7) - 1];
    return `${y.year}: ${compact.format(y.volume)} t; its busiest month, ${name}, held ${peak.share.toFixed(1)}%`;
  }).join(" · "));
  const color = i => YEARS[i % YEARS.length];
  chart(section, "tide-CEA", {
    title: "CEA: cumulative volume through the year (% of the year's volume)",
    scales: {x: {time: true, auto: false, range: [onCalendar("2000-01-01"), onCalendar("2000-12-31")]},
             y: {range: [0, 100]}},
    axes: [{label: "month of the year", values: (u, splits) => splits.map(month)},
           {label: "% of the year's volume", size: 56, values: (u, vs) => vs.map(v => `${v}%`)}],
    series: [{label: "day", value: (u, t) => t === null ? "--" : `${new Date(t * 1e3).getUTCDate()} ${month(t)}`},
             ...F.tide.map((y, i) => ({label: String(y.year), stroke: color(i), width: 2, spanGaps: true,
                                       value: (u, v) => v === null ? "--" : `${v.toFixed(1)}%`,
                                       points: {show: y.days.length < 40, size: 7, fill: color(i)}}))],
  }, [xs, ...columns]);
}

// --- latency and lag, from the measures file ---------------------------------------------------------------

function measures() {
  const section = document.getElementById("measures");
  const m = F.measures;
  if (!m) {
    note(section, "missing", "Not measured: no measures file was given (certx report --measures FILE, written by " +
         "the Kafka replay). An embedded replay runs no services, so it has no latency or lag to show.");
    return;
  }
  const p = m.peaks;
  const peak = (label, v, unit) =>
    el("div", {}, label, el("b", {}, v === null ? "not measured" : `${whole.format(v)} ${unit}`));
  section.querySelector(".charts").before(
    el("p", {class: "note"},
       `${m.source || "Measures"}: ${whole.format(m.samples.length)} samples, one a ${m.interval}.`),
    el("div", {class: "peaks"}, peak("worst p99", p.p99_ms, "ms"), peak("worst p99.9", p.p99_9_ms, "ms"),
       peak("worst max", p.max_ms, "ms"), peak("most matcher lag", p.matcher_lag, "records"),
       peak("most projector lag", p.projector_lag, "records"), peak("peak throughput", p.throughput, "commands/s")));
  const daily = m.interval === "day";
  const xs = m.samples.map(s => daily ? dayTime(s.at) : Date.parse(s.at) / 1000);
  const x = daily ? {scale: dayScale(xs), axis: dayAxis} : {scale: {time: true}, axis: secondAxis};
  const at = {label: daily ? "day" : "time (UTC)", value: (u, t) => t === null ? "--"
    : daily ? dayLabel(t, DAY) : new Date(t * 1e3).toISOString().slice(0, 19).replace("T", " ")};
  const column = f => m.samples.map(s => f(s) ?? null);
  const line = (label, color, unit) => ({label, stroke: color, width: 1.5,
                                         value: (u, v) => v === null ? "--" : `${whole.format(v)} ${unit}`});
  // A log scale has no place for zero: a 0 ms sample is left out.
  const latency = key => column(s => s.latency_ms && s.latency_ms[key] > 0 ? s.latency_ms[key] : null);
  chart(section, "latency", {
    title: "Latency percentiles (ms, log scale)", scales: {x: x.scale, y: {distr: 3}},
    axes: [x.axis, {label: "milliseconds", size: 64}],
    series: [at, line("p50", "#3a9a5b", "ms"), line("p99", "#2f6fb3", "ms"),
             line("p99.9", "#e08a1e", "ms"), line("max", "#c0504d", "ms")],
  }, [xs, latency("p50"), latency("p99"), latency("p99_9"), latency("max")]);
  chart(section, "lag", {
    title: "Lag (records not yet read)", scales: {x: x.scale, y: fromZero},
    axes: [x.axis, {label: "records", size: 64, values: (u, vs) => vs.map(v => compact.format(v))}],
    series: [at, line("matcher (certx.commands)", "#8064a2", "records"),
             line("projector (certx.events)", "#4bacc6", "records")],
  }, [xs, column(s => s.matcher_lag), column(s => s.projector_lag)]);
  chart(section, "throughput", {
    title: "Throughput (commands per second)", scales: {x: x.scale, y: fromZero},
    axes: [x.axis, {label: "commands/s", size: 64, values: (u, vs) => vs.map(v => compact.format(v))}],
    series: [at, line("matcher", "#1d2f45", "commands/s")],
  }, [xs, column(s => s.throughput)]);
}

// --- rejections by reason ----------------------------------------------------------------------------------

function rejections() {
  const section = document.getElementById("rejections");
  if (!F.rejections.length) { section.append(el("p", {class: "note"}, "No command was refused.")); return; }
  const most = Math.max(...F.rejections.map(r => r.count));
  const total = F.rejections.reduce((s, r) => s + r.count, 0);
  const head = el("tr", {}, el("th", {class: "text"}, "reason"), el("th", {class: "text"}, "market"),
                  el("th", {}, "count"), el("th", {}));
  const rows = F.rejections.map(r => el("tr", {},
    el("td", {class: "text"}, r.reason), el("td", {class: "text"}, r.market), el("td", {}, whole.format(r.count)),
    el("td", {class: "bar"}, el("span", {style: `width: ${Math.max(2, 100 * r.count / most)}%`}))));
  section.append(el("p", {class: "note"}, `${whole.format(total)} refused commands, each answered with its reason.`),
                 el("table", {"data-table": "rejections"}, head, ...rows));
}

// --- official statistics against the replay ---------------------------------------------------------------

const STATUS = {match: "match", mismatch: "mismatch", not_replayed: "not replayed",
                not_official: "not in the official data"};
const COMPARED = [["close", "close"], ["listing_volume", "listing volume"], ["block_volume", "block volume"]];

function comparisonTable(name, rows) {
  const value = (day, field) => {
    if (!day) return "";
    const v = day[field];
    return v === null ? "none" : typeof v === "number" ? whole.format(v) : v;
  };
  const head = el("tr", {}, ...["date", "product", "status"].map(h => el("th", {class: "text"}, h)),
    ...COMPARED.flatMap(([, h]) => [el("th", {}, `${h} (official)`), el("th", {}, "(replayed)")]),
    el("th", {class: "text"}, "mismatches: official / replayed"));
  return el("table", {"data-table": name}, head, ...rows.map(r => el("tr", {class: r.status},
    ...[r.date, r.product, STATUS[r.status]].map(text => el("td", {class: "text"}, text)),
    ...COMPARED.flatMap(([f]) => [el("td", {}, value(r.official, f)), el("td", {}, value(r.replayed, f))]),
    el("td", {class: "text"}, r.mismatches.map(m => `${m.field} ${m.official} / ${m.replayed}`).join("; ")))));
}

function official() {
  const section = document.getElementById("official");
  const c = F.official;
  if (!c) {
    section.append(el("p", {class: "missing"}, "No official statistics given (certx report --official FILE.csv)."));
    return;
  }
  section.append(el("p", {class: "note"},
    `${whole.format(c.compared)} replayed days of CEA products compared with the official rows: ` +
    `${whole.format(c.matched)} match in every field (open, high, low, close, volume and value of each mode); ` +
    `${whole.format(c.compared - c.matched)} differ; ${whole.format(c.not_replayed)} official rows not replayed; ` +
    `${whole.format(c.not_official)} replayed days not in the official data.`));
  const differs = c.rows.filter(r => r.status !== "match");
  if (differs.length) section.append(el("h3", {}, "Mismatches"), comparisonTable("mismatches", differs));
  else section.append(el("p", {}, "No mismatch."));
  const all = el("details", {}, el("summary", {}, `Every compared row (${c.rows.length})`),
                 comparisonTable("official", c.rows));
  if (c.rows.length <= 40) all.setAttribute("open", "");
  section.append(all);
}

// --- 24/7 matches (issue 13) -------------------------------------------------------------------------------

function matches() {
  const section = document.getElementById("matches");
  if (!F.matches.length) { note(section, "missing", "No 24/7 match in this replay."); return; }
  const pct = x => `${(100 * x).toFixed(1)}%`;
  for (const m of F.matches) {
    const [hourly, monthly, annual] = m.scores;
    note(section, "note", `${m.allocation_id}: ${m.account} for ${m.beneficiary} · load ${whole.format(m.load)} kWh · ` +
         `${whole.format(m.certificates)} certificates for ${m.cost} yuan (${m.method}) · matched hour by hour ` +
         `${pct(hourly)}, by month ${pct(monthly)}, by year ${pct(annual)} · inputs ${m.inputs_sha256.slice(0, 16)}…`);
    const xs = m.days.map(d => dayTime(d.date));
    chart(section, `match-${m.allocation_id}`, {
      title: `${m.allocation_id}: load and energy matched in the same hour, per day (kWh)`,
      scales: {x: dayScale(xs), y: fromZero},
      axes: [{...dayAxis, label: "day (China time)"}, {label: "kWh", size: 64, values: (u, vs) => vs.map(v => compact.format(v))}],
      series: [{label: "day", value: (u, t) => t === null ? "--" : dayLabel(t, DAY)},
               {label: "load", stroke: "#7f7f7f", width: 1.5, value: (u, v) => v === null ? "--" : whole.format(v)},
               {label: "matched", stroke: "#3a9a5b", fill: "rgba(58,154,91,0.25)", width: 1.5,
                value: (u, v) => v === null ? "--" : whole.format(v)}],
    }, [xs, m.days.map(d => d.load), m.days.map(d => d.matched)]);
  }
}

overview();
closes();
volumes();
tide();
measures();
rejections();
official();
matches();
window.addEventListener("resize", () => charts.forEach(([u, fig]) => u.setSize({width: fig.clientWidth - 24,
                                                                                 height: HEIGHT})));
document.documentElement.dataset.ready = "yes";
