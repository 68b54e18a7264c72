/* TicketGuard monitoring page (spec 4.1): six sections, and the pricing experiment's (spec 1.5),
   from two JSON routes of the API,
   live figures every 5 s (../api/v1/admin/monitoring/live) and aggregates every minute
   (../api/v1/admin/monitoring/aggregates), with the admin ID token in the Authorization header.
   Every value is written with textContent: nothing from the data is parsed as HTML. */
"use strict";

(function () {
  const API = "../api/v1/admin/monitoring/";
  const SIGN_IN = "../local/admin/sign-in";
  const REFRESH = "../local/admin/refresh";
  const SESSION = "../api/v1/admin/session";
  const LIVE_MS = 5000;
  const AGGREGATES_MS = 60000;
  const TOKEN = "tgAdminIdToken";
  const REFRESH_TOKEN = "tgAdminRefreshToken";
  const DECISION_COLORS = { APPROVED: "#1f8a4c", REQUIRE_2FA: "#2458c6", MANUAL_REVIEW: "#c77700", BLOCKED: "#c62828" };
  const charts = {};
  const timers = [];
  let severities = null;

  const $ = (id) => document.getElementById(id);
  const fmt = (value, digits = 0, unit = "") =>
    value === null || value === undefined ? "-" : `${Number(value).toLocaleString("en-US", { maximumFractionDigits: digits, minimumFractionDigits: digits })}${unit}`;
  const pct = (ratio, digits = 1) => (ratio === null || ratio === undefined ? "-" : fmt(ratio * 100, digits, "%"));
  const time = (iso) => new Date(iso).toISOString().slice(5, 16).replace("T", " ");
  const hour = (iso) => new Date(iso).toISOString().slice(11, 16);
  const short = (text, keep = 10) => (text && text.length > keep + 4 ? `${text.slice(0, keep)}…` : text || "-");

  function setText(id, text) { $(id).textContent = text; }

  function banner(message) {
    const box = $("banner");
    box.textContent = message || "";
    box.hidden = !message;
  }

  function row(cells, classes = {}) {
    const tr = document.createElement("tr");
    cells.forEach((cell, index) => {
      const td = document.createElement("td");
      td.textContent = cell;
      if (classes[index]) td.className = classes[index];
      tr.appendChild(td);
    });
    return tr;
  }

  function fillTable(selector, rows) {
    const body = document.querySelector(`${selector} tbody`);
    body.replaceChildren(...rows);
  }

  function fillPairs(id, pairs) {
    const list = $(id);
    const nodes = [];
    for (const [name, value] of pairs) {
      const dt = document.createElement("dt");
      dt.textContent = name;
      const dd = document.createElement("dd");
      dd.textContent = value;
      nodes.push(dt, dd);
    }
    list.replaceChildren(...nodes);
  }

  function chart(id, config) {
    if (charts[id]) {
      charts[id].data.labels = config.data.labels;
      config.data.datasets.forEach((set, index) => {
        if (charts[id].data.datasets[index]) Object.assign(charts[id].data.datasets[index], { data: set.data });
      });
      charts[id].update("none");
      return;
    }
    config.options = Object.assign({ responsive: true, maintainAspectRatio: false, animation: false,
      plugins: { legend: { labels: { boxWidth: 10, font: { size: 11 } } } } }, config.options || {});
    charts[id] = new window.Chart($(id), config);
  }

  function ready(section, rows) {
    const node = $(section);
    node.dataset.state = "ready";
    node.dataset.rows = String(rows);
  }

  /* ------------------------------------------------------------ sections */

  function renderKpis(kpis) {
    const day = kpis.last_24h, last = kpis.last_hour;
    setText("kpi-tph", fmt(day.transactions_per_hour, 1));
    setText("kpi-tph-sub", `24 h; last hour ${fmt(last.transactions_per_hour, 0)}`);
    setText("kpi-fraud", fmt(day.fraud_rate_percent, 2, "%"));
    setText("kpi-fraud-sub", `${fmt(day.predictions)} decisions, 24 h`);
    setText("kpi-p95", fmt(day.p95_latency_ms, 1, " ms"));
    setText("kpi-p95-sub", `last hour ${fmt(last.p95_latency_ms, 1, " ms")}`);
    setText("kpi-revenue", fmt(day.revenue_per_hour, 2, " $"));
    setText("kpi-revenue-sub", `fees, 24 h; last hour ${fmt(last.revenue_per_hour, 2, " $")}`);
    const five = kpis.kpis_24h;
    fillPairs("kpi-five", [
      ["Fraud detection rate", pct(five.fraud_detection_rate)],
      ["False positive rate", pct(five.false_positive_rate, 2)],
      ["Resale velocity", fmt(five.resale_velocity_hours, 1, " h")],
      ["User engagement", fmt(five.user_engagement_score, 3)],
    ]);
    ready("kpis", day.predictions);
  }

  function renderFraud(fraud) {
    const histogram = fraud.histogram;
    chart("chart-score-histogram", {
      type: "bar",
      data: { labels: histogram.map((b) => `${b.from.toFixed(1)}–${b.to.toFixed(1)}`),
              datasets: [{ label: `Fraud scores, ${fraud.window_hours} h`, data: histogram.map((b) => b.count), backgroundColor: "#2458c6" }] },
      options: { scales: { y: { type: "logarithmic", title: { display: true, text: "decisions (log)" } } } },
    });
    chart("chart-score-series", {
      type: "bar",
      data: { labels: fraud.series.map((r) => hour(r.hour)),
              datasets: Object.keys(DECISION_COLORS).map((name) => ({ label: name, data: fraud.series.map((r) => r[name]), backgroundColor: DECISION_COLORS[name] })) },
      options: { scales: { x: { stacked: true }, y: { stacked: true, title: { display: true, text: "decisions per hour" } } } },
    });
    fillTable("#high-risk", fraud.high_risk.map((t) => row(
      [time(t.at), short(t.transaction_id, 12), short(t.wallet_address), fmt(t.fraud_score, 3), t.decision, t.reason, t.top_feature || "-"],
      { 4: `decision-${t.decision}` })));
    ready("fraud", histogram.reduce((sum, b) => sum + b.count, 0) + fraud.high_risk.length);
  }

  function renderTraffic(traffic) {
    if (!traffic.available) {
      setText("traffic-rpm", "-");
      setText("traffic-limits", traffic.detail);
      ready("traffic", 0);
      return;
    }
    setText("traffic-rpm", fmt(traffic.requests_per_minute));
    setText("traffic-hour", fmt(traffic.requests_last_hour));
    const limits = traffic.limits;
    setText("traffic-limits", `limits/min: IP ${limits.ip_per_minute}, user ${limits.user_per_minute}, purchase ${limits.purchase_per_minute}`);
    setText("traffic-violations", fmt(traffic.violations_last_hour));
    setText("traffic-rules", Object.entries(traffic.violations_by_rule).map(([rule, n]) => `${rule} ${n}`).join(", ") || "none");
    chart("chart-traffic", {
      type: "line",
      data: { labels: traffic.minutes.map((m) => hour(m.minute)),
              datasets: [{ label: "requests/min", data: traffic.minutes.map((m) => m.requests), borderColor: "#2458c6", pointRadius: 0 },
                         { label: "refused/min", data: traffic.minutes.map((m) => m.refused), borderColor: "#c62828", pointRadius: 0 }] },
    });
    fillTable("#top-ips", traffic.top_ips.map((ip) => row([ip.ip, fmt(ip.requests), fmt(ip.refused)])));
    ready("traffic", traffic.requests_last_hour);
  }

  function renderSystem(system) {
    const items = Object.entries(system.services).map(([name, check]) => {
      const li = document.createElement("li");
      li.className = check.status;
      li.textContent = `${name}: ${check.status}${check.latency_ms !== null && check.latency_ms !== undefined ? ` (${fmt(check.latency_ms, 1)} ms)` : ""}`;
      li.title = check.detail || check.version || "";
      return li;
    });
    $("services").replaceChildren(...items);
    const r = system.resources;
    const bytes = (n) => (n === null || n === undefined ? "-" : fmt(n / 1048576, 0, " MB"));
    fillPairs("resources", [
      ["Overall", system.status],
      ["CPU (load / cores)", `${fmt(r.cpu_percent, 1, "%")} (load ${fmt(r.load_1m, 2)}, ${r.cpu_count} cores)`],
      ["Memory used", `${fmt(r.memory_used_percent, 1, "%")} of ${bytes(r.memory_total_bytes)}`],
      ["Disk used", `${fmt(r.disk_used_percent, 1, "%")} of ${bytes(r.disk_total_bytes)}`],
      ["API process peak memory", bytes(r.process_max_rss_bytes)],
      ["PostgreSQL database", bytes(r.postgres_database_bytes)],
      ["Redis memory", bytes(r.redis_used_bytes)],
    ]);
    ready("system", items.length);
  }

  function renderSecurity(security) {
    if (severities === null) buildSeverityFilter(security.severities, security.selected);
    setText("security-counts", `${security.events.length} events shown (last ${security.window_hours} h): ` +
      Object.entries(security.counts).map(([name, n]) => `${name} ${n}`).join(", ") +
      `; from ${security.mode === "siem" ? "the SIEM" : "the system's own records (no SIEM events yet)"}: ${security.sources.join(", ")}`);
    fillTable("#security-events", security.events.map((e) => row(
      [time(e.at), e.severity, e.kind, e.subject || "-", e.detail || "", e.source], { 1: `sev-${e.severity}` })));
    ready("security", security.events.length);
  }

  function buildSeverityFilter(all, selected) {
    severities = new Set(selected);
    const box = $("severity-filter");
    for (const name of all) {
      const label = document.createElement("label");
      const input = document.createElement("input");
      input.type = "checkbox";
      input.value = name;
      input.checked = severities.has(name);
      input.addEventListener("change", () => {
        if (input.checked) severities.add(name); else severities.delete(name);
        refreshLive();
      });
      label.append(input, ` ${name}`);
      box.appendChild(label);
    }
  }

  function renderKpiHourly(rows) {
    chart("chart-kpi-hourly", {
      type: "line",
      data: { labels: rows.map((r) => time(r.hour).slice(0, 8) + "h"),
              datasets: [{ label: "transactions/hour", data: rows.map((r) => r.transactions), borderColor: "#2458c6", pointRadius: 0, yAxisID: "y" },
                         { label: "flagged % (not APPROVED)", data: rows.map((r) => r.flagged_percent), borderColor: "#c62828", pointRadius: 0, yAxisID: "rate" }] },
      options: { scales: { x: { ticks: { maxTicksLimit: 6, maxRotation: 0 } }, rate: { position: "right", grid: { drawOnChartArea: false } } } },
    });
  }

  function renderModel(quality, drift) {
    const served = quality.versions.find((v) => v.role === "served") || quality.versions[0];
    const cm = served ? served.confusion : { true_positive: null, false_negative: null, false_positive: null, true_negative: null };
    setText("confusion-title", `Confusion matrix (${quality.window_hours} h${served ? `, ${served.model_version}` : ""})`);
    setText("cm-tp", fmt(cm.true_positive)); setText("cm-fn", fmt(cm.false_negative));
    setText("cm-fp", fmt(cm.false_positive)); setText("cm-tn", fmt(cm.true_negative));
    fillTable("#quality", quality.versions.map((v) => row(
      [v.model_version, v.role, fmt(v.scored), pct(v.precision), pct(v.recall), pct(v.false_positive_rate, 2)])));
    setText("quality-note", `positive = ${quality.positive}; labels as known now (most settle within ${quality.label_delay_hours / 24} days)`);
    const points = drift.days.concat([Object.assign({}, drift.current, { label: "last 24 h" })]);
    chart("chart-drift", {
      type: "line",
      data: { labels: points.map((p) => p.label || time(new Date(new Date(p.end).getTime() - 86400000).toISOString()).slice(0, 5)),
              datasets: [{ label: `drift KL (max over features)${drift.served_version ? `, ${drift.served_version}` : ""}`, data: points.map((p) => p.kl_max), borderColor: "#6a3fc1", spanGaps: true },
                         { label: `alarm ${drift.threshold}`, data: points.map(() => drift.threshold), borderColor: "#c62828", borderDash: [6, 4], pointRadius: 0 }] },
      options: { scales: { y: { beginAtZero: true, title: { display: true, text: "nats" } } } },
    });
    const scored = quality.versions.reduce((sum, v) => sum + v.scored, 0);
    ready("model", scored + points.filter((p) => p.kl_max !== null).length);
  }

  function renderPricing(pricing) {
    setText("pricing-kill", pricing.kill_switch ? "ENGAGED" : "off");
    $("pricing-kill").className = pricing.kill_switch ? "value sev-HIGH" : "value";
    setText("pricing-kill-sub", pricing.kill_switch ? `every quote arm A: ${pricing.kill_reason || "no reason given"}` : "arms quoted as routed");
    setText("pricing-assigned", fmt(pricing.events_assigned));
    setText("pricing-best", `best arm ${pricing.best_arm}; statistics from ${pricing.statistics_source}`);
    setText("pricing-explore", pct(pricing.exploration_share));
    setText("pricing-epsilon", `epsilon ${fmt(pricing.epsilon, 2)} (${pricing.routing.replace("_", "-")})`);
    chart("chart-pricing-shares", {
      type: "bar",
      data: { labels: pricing.arms.map((a) => `${a.arm} ${a.strategy}`),
              datasets: [{ label: "events assigned", data: pricing.arms.map((a) => a.events_assigned), backgroundColor: "#2458c6" }] },
      options: { indexAxis: "y", scales: { x: { beginAtZero: true, ticks: { precision: 0 } } } },
    });
    fillTable("#pricing-arms", pricing.arms.map((a) => row(
      [a.arm, a.strategy, pct(a.share), fmt(a.events_settled), a.revenue_per_event === null ? "-" : fmt(a.revenue_per_event, 2, " $"),
       a.sell_through === null ? "-" : `${pct(a.sell_through)} (target ${pct(pricing.sell_through_target, 0)})`])));
    ready("pricing", pricing.events_assigned);
  }

  /* ------------------------------------------------------------ data */

  async function api(path, options = {}) {
    const token = sessionStorage.getItem(TOKEN);
    const headers = Object.assign({ Accept: "application/json", Authorization: token }, options.headers || {});
    let response = await fetch(path, Object.assign({}, options, { headers }));
    if (response.status === 401 && (await refreshToken())) {
      headers.Authorization = sessionStorage.getItem(TOKEN);
      response = await fetch(path, Object.assign({}, options, { headers }));
    }
    const body = await response.json().catch(() => ({}));
    if (!response.ok) {
      const error = new Error((body.error && body.error.message) || `${response.status}`);
      error.status = response.status;
      throw error;
    }
    return body;
  }

  async function refreshToken() {
    const refresh = sessionStorage.getItem(REFRESH_TOKEN);
    if (!refresh) return false;
    const response = await fetch(REFRESH, { method: "POST", headers: { "Content-Type": "application/json" }, body: JSON.stringify({ refresh_token: refresh }) });
    if (!response.ok) return false;
    sessionStorage.setItem(TOKEN, (await response.json()).IdToken);
    return true;
  }

  function failed(error, sections) {
    if (error.status === 401) return signOut(error.message);
    banner(`${error.message}`);
    for (const id of sections) $(id).dataset.state = "error";
  }

  async function refreshLive() {
    const query = severities ? `?severity=${encodeURIComponent([...severities].join(","))}` : "";
    try {
      const live = await api(`${API}live${query}`);
      banner("");
      renderKpis(live.kpis);
      renderFraud(live.fraud);
      renderTraffic(live.traffic);
      renderSystem(live.system);
      renderSecurity(live.security);
      setText("updated", `live ${new Date(live.generated_at).toLocaleTimeString("en-GB")}`);
    } catch (error) {
      failed(error, ["kpis", "fraud", "traffic", "system", "security"]);
    }
  }

  async function refreshAggregates() {
    try {
      const aggregates = await api(`${API}aggregates`);
      renderKpiHourly(aggregates.kpi_hourly);
      renderModel(aggregates.model_quality, aggregates.drift);
      renderPricing(aggregates.pricing);
    } catch (error) {
      failed(error, ["model", "pricing"]);
    }
  }

  /* ------------------------------------------------------------ session */

  async function start() {
    $("sign-in").hidden = true;
    $("dashboard").hidden = false;
    $("sign-out").hidden = false;
    try {
      const session = await api(SESSION);
      setText("who", `${session.username} (${session.roles.join(", ")})`);
    } catch (error) {
      if (error.status === 401) return signOut(error.message);
      setText("who", "signed in");
    }
    await Promise.all([refreshLive(), refreshAggregates()]);
    timers.push(setInterval(refreshLive, LIVE_MS), setInterval(refreshAggregates, AGGREGATES_MS));
  }

  function signOut(message) {
    timers.splice(0).forEach(clearInterval);
    sessionStorage.removeItem(TOKEN);
    sessionStorage.removeItem(REFRESH_TOKEN);
    $("dashboard").hidden = true;
    $("sign-out").hidden = true;
    $("sign-in").hidden = false;
    setText("who", "not signed in");
    banner(message || "");
  }

  async function signIn(event) {
    event.preventDefault();
    const form = new FormData(event.target);
    const response = await fetch(SIGN_IN, { method: "POST", headers: { "Content-Type": "application/json" },
      body: JSON.stringify({ username: form.get("username"), password: form.get("password"), code: form.get("code") }) });
    const body = await response.json().catch(() => ({}));
    if (!response.ok) return banner((body.error && body.error.message) || `sign-in failed (${response.status})`);
    sessionStorage.setItem(TOKEN, body.IdToken);
    if (body.RefreshToken) sessionStorage.setItem(REFRESH_TOKEN, body.RefreshToken);
    banner("");
    start();
  }

  document.addEventListener("DOMContentLoaded", () => {
    $("sign-in-form").addEventListener("submit", signIn);
    $("token-form").addEventListener("submit", (event) => {
      event.preventDefault();
      sessionStorage.setItem(TOKEN, new FormData(event.target).get("token").trim());
      start();
    });
    $("sign-out").addEventListener("click", () => signOut(""));
    if (sessionStorage.getItem(TOKEN)) start(); else signOut("");
  });
})();
