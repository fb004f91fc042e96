// The Commonlake page: search, a project's key metrics and charts, comparison, SQL box.
"use strict";

const { lineChart, formatNumber } = window.commonlakeCharts;
const CHART_METRICS = [  // metric names of the marts (sqlmesh_project/oso_metrics/<name>.sql)
  ["commits", "Commits"],
  ["active_developers", "Active developers"],
  ["stars", "Stars"],
  ["forks", "Forks"],
  ["contributors", "Contributors"],
  ["opened_pull_requests", "Pull requests opened"],
  ["merged_pull_requests", "Pull requests merged"],
  ["opened_issues", "Issues opened"],
];
const $ = (id) => document.getElementById(id);
let currentProject = null;

$("api-key").value = localStorage.getItem("commonlake-api-key") || "";
$("api-key").addEventListener("change", () => localStorage.setItem("commonlake-api-key", $("api-key").value));

function headers(extra) {
  const key = $("api-key").value.trim();
  return Object.assign(key ? { Authorization: `Bearer ${key}` } : {}, extra || {});
}

async function api(path, options) {
  const response = await fetch(path, Object.assign({}, options, { headers: headers((options || {}).headers) }));
  if (!response.ok) {
    let message = `${response.status} ${response.statusText}`;
    try { message = (await response.json()).error || message; } catch (_) { /* not JSON */ }
    const error = new Error(message);
    error.status = response.status;
    throw error;
  }
  return response;
}

function text(tag, content, className) {
  const node = document.createElement(tag);
  node.textContent = content;
  if (className) node.className = className;
  return node;
}

async function search(event) {
  if (event) event.preventDefault();
  const list = $("search-results");
  list.replaceChildren(text("li", "Searching…", "muted"));
  try {
    const q = encodeURIComponent($("search-input").value.trim());
    const { projects } = await (await api(`/v1/projects?q=${q}&limit=20`)).json();
    list.replaceChildren();
    if (!projects.length) list.appendChild(text("li", "No project matches.", "muted"));
    for (const project of projects) {
      const item = document.createElement("li");
      const button = text("button", project.display_name || project.project_name, "link");
      button.dataset.project = project.project_name;
      button.addEventListener("click", () => showProject(project.project_name));
      item.append(button, text("span", ` ${project.project_name}`, "muted"));
      list.appendChild(item);
    }
    if (projects.length === 1) showProject(projects[0].project_name);
  } catch (error) {
    list.replaceChildren(text("li", error.message, "error"));
  }
}

async function showProject(name) {
  currentProject = name;
  $("project").hidden = false;
  $("project-title").textContent = name;
  $("project-description").textContent = "";
  const cards = $("key-metrics");
  cards.replaceChildren(text("p", "Loading…", "muted"));
  try {
    const body = await (await api(`/v1/projects/${encodeURIComponent(name)}`)).json();
    $("project-title").textContent = body.project.display_name || name;
    $("project-description").textContent = body.project.description || "";
    cards.replaceChildren();
    // All-time values first: they are what a project page leads with.
    const allTime = (m) => (m.metric_name.endsWith("_over_all_time") ? 0 : 1);
    const metrics = [...body.key_metrics].sort((a, b) => allTime(a) - allTime(b) || a.metric_name.localeCompare(b.metric_name));
    for (const metric of metrics.slice(0, 12)) {
      const card = document.createElement("div");
      card.className = "card";
      card.append(text("div", formatNumber(metric.amount), "value"), text("div", metric.display_name || metric.metric_name, "label"));
      cards.appendChild(card);
    }
    if (!body.key_metrics.length) cards.appendChild(text("p", "No key metrics yet.", "muted"));
  } catch (error) {
    cards.replaceChildren(text("p", error.message, "error"));
  }
  await drawCharts();
}

async function drawCharts() {
  if (!currentProject) return;
  const period = $("period").value;
  const charts = $("charts");
  charts.replaceChildren();
  await Promise.all(CHART_METRICS.map(async ([metric, label]) => {
    const box = document.createElement("div");
    box.className = "chart";
    box.id = `chart-${metric}`;
    charts.appendChild(box);
    try {
      const path = `/v1/projects/${encodeURIComponent(currentProject)}/metrics?metric=${metric}&period=${period}`;
      const body = await (await api(path)).json();
      lineChart(box, `${label} (${period})`, body.series.map((s) => ({ label: currentProject, points: s.points })));
    } catch (error) {
      if (error.status === 404) { box.remove(); return; }  // the marts have no such metric
      box.replaceChildren(text("h3", label), text("p", error.message, "error"));
    }
  }));
}

async function compare(event) {
  event.preventDefault();
  const names = $("compare-input").value.split(",").map((s) => s.trim()).filter(Boolean).slice(0, 6);
  const metric = $("compare-metric").value;
  const period = $("period").value;
  const box = $("compare-chart");
  box.replaceChildren(text("p", "Loading…", "muted"));
  const series = [];
  const problems = [];
  await Promise.all(names.map(async (name) => {
    try {
      const path = `/v1/projects/${encodeURIComponent(name)}/metrics?metric=${metric}&period=${period}`;
      const body = await (await api(path)).json();
      series.push({ label: name, points: body.series[0].points });
    } catch (error) {
      problems.push(`${name}: ${error.message}`);
    }
  }));
  series.sort((a, b) => names.indexOf(a.label) - names.indexOf(b.label));
  lineChart(box, `${metric} (${period})`, series);
  for (const problem of problems) box.appendChild(text("p", problem, "error"));
}

async function runSql() {
  const status = $("sql-status");
  const table = $("sql-results");
  status.textContent = "Running…";
  status.className = "muted";
  const started = performance.now();
  try {
    const response = await api("/v1/sql", {
      method: "POST",
      headers: { "Content-Type": "application/json" },
      body: JSON.stringify({ query: $("sql-input").value }),
    });
    const body = await response.json();
    const head = document.createElement("tr");
    for (const column of body.columns) head.appendChild(text("th", column));
    const rows = body.rows.map((row) => {
      const tr = document.createElement("tr");
      for (const value of row) tr.appendChild(text("td", value === null ? "∅" : typeof value === "object" ? JSON.stringify(value) : String(value)));
      return tr;
    });
    table.replaceChildren(head, ...rows);
    const ms = Math.round(performance.now() - started);
    status.textContent = `${body.rows.length} rows${body.truncated ? " (truncated)" : ""} · ${ms} ms${body.stats.cached ? " · cached" : ""}`;
  } catch (error) {
    table.replaceChildren();
    status.textContent = error.message;
    status.className = "error";
  }
}

async function downloadCsv() {
  const status = $("sql-status");
  try {
    const response = await api("/v1/sql", {
      method: "POST",
      headers: { "Content-Type": "application/json", Accept: "text/csv" },
      body: JSON.stringify({ query: $("sql-input").value }),
    });
    const url = URL.createObjectURL(await response.blob());
    const link = Object.assign(document.createElement("a"), { href: url, download: "commonlake-result.csv" });
    link.id = "csv-link";
    document.body.appendChild(link);
    link.click();
    setTimeout(() => { URL.revokeObjectURL(url); link.remove(); }, 1000);
  } catch (error) {
    status.textContent = error.message;
    status.className = "error";
  }
}

$("search-form").addEventListener("submit", search);
$("compare-form").addEventListener("submit", compare);
$("period").addEventListener("change", drawCharts);
$("sql-run").addEventListener("click", runSql);
$("sql-csv").addEventListener("click", downloadCsv);
