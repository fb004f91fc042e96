// Line charts as inline SVG, written by hand: a few dozen lines do what the page needs,
// and nothing has to come from a CDN.
(() => {
"use strict";

const SVG_NS = "http://www.w3.org/2000/svg";
const PALETTE = ["#2563eb", "#dc2626", "#16a34a", "#9333ea", "#ea580c", "#0891b2"];

function svgElement(name, attributes, text) {
  const node = document.createElementNS(SVG_NS, name);
  for (const [key, value] of Object.entries(attributes || {})) node.setAttribute(key, value);
  if (text !== undefined) node.textContent = text;
  return node;
}

function formatNumber(value) {
  if (Math.abs(value) >= 1e6) return (value / 1e6).toFixed(1) + "M";
  if (Math.abs(value) >= 1e3) return (value / 1e3).toFixed(1) + "k";
  return Number.isInteger(value) ? String(value) : value.toFixed(1);
}

// series: [{label, points: [{date: "YYYY-MM-DD", amount}]}]
function lineChart(container, title, series) {
  container.replaceChildren();
  const heading = document.createElement("h3");
  heading.textContent = title;
  container.appendChild(heading);
  const all = series.flatMap((s) => s.points);
  if (!all.length) {
    const empty = document.createElement("p");
    empty.className = "empty";
    empty.textContent = "No data for this period.";
    container.appendChild(empty);
    return;
  }
  const width = 560, height = 220, left = 48, right = 12, top = 10, bottom = 28;
  const times = all.map((p) => Date.parse(p.date));
  const minT = Math.min(...times), maxT = Math.max(...times);
  const maxY = Math.max(1, ...all.map((p) => p.amount));
  const x = (t) => left + (maxT === minT ? (width - left - right) / 2 : ((t - minT) / (maxT - minT)) * (width - left - right));
  const y = (v) => top + (1 - v / maxY) * (height - top - bottom);
  const svg = svgElement("svg", { viewBox: `0 0 ${width} ${height}`, role: "img", "aria-label": title });
  for (const fraction of [0, 0.5, 1]) {
    const value = maxY * fraction;
    svg.appendChild(svgElement("line", { x1: left, x2: width - right, y1: y(value), y2: y(value), class: "grid" }));
    svg.appendChild(svgElement("text", { x: left - 6, y: y(value) + 4, class: "axis", "text-anchor": "end" }, formatNumber(value)));
  }
  const first = new Date(minT).toISOString().slice(0, 10), last = new Date(maxT).toISOString().slice(0, 10);
  svg.appendChild(svgElement("text", { x: left, y: height - 8, class: "axis" }, first));
  svg.appendChild(svgElement("text", { x: width - right, y: height - 8, class: "axis", "text-anchor": "end" }, last));
  series.forEach((s, index) => {
    const color = PALETTE[index % PALETTE.length];
    const points = [...s.points].sort((a, b) => Date.parse(a.date) - Date.parse(b.date));
    const d = points.map((p, i) => `${i ? "L" : "M"}${x(Date.parse(p.date)).toFixed(1)},${y(p.amount).toFixed(1)}`).join(" ");
    svg.appendChild(svgElement("path", { d, class: "series", stroke: color, "data-label": s.label }));
    for (const p of points) {
      const dot = svgElement("circle", { cx: x(Date.parse(p.date)), cy: y(p.amount), r: 3, fill: color, class: "point" });
      dot.appendChild(svgElement("title", {}, `${s.label} ${p.date}: ${formatNumber(p.amount)}`));
      svg.appendChild(dot);
    }
  });
  container.appendChild(svg);
  if (series.length > 1) {
    const legend = document.createElement("div");
    legend.className = "legend";
    series.forEach((s, index) => {
      const item = document.createElement("span");
      item.style.setProperty("--swatch", PALETTE[index % PALETTE.length]);
      item.textContent = s.label;
      legend.appendChild(item);
    });
    container.appendChild(legend);
  }
}

window.commonlakeCharts = { lineChart, formatNumber };
})();
