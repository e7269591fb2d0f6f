/* Draw the dashboard's charts from the JSON the server rendered; clicks open the customers. */
(function () {
  "use strict";
  var dataEl = document.getElementById("dashboard-data");
  if (!dataEl || !window.echarts) { return; }
  var data = JSON.parse(dataEl.textContent);
  var labels = JSON.parse(document.getElementById("dashboard-labels").textContent);
  var charts = [];

  function draw(id, option, links) {
    var el = document.getElementById(id);
    if (!el) { return; }
    var chart = echarts.init(el, null, { renderer: "canvas" });
    option.animation = false;  // steady pictures, and kinder to readers who prefer less motion
    chart.setOption(option);
    if (links) {
      chart.on("click", function (p) {
        var url = links[p.dataIndex];
        if (url) { window.location.href = url; }
      });
    }
    charts.push(chart);
  }
  function col(rows, i) { return rows.map(function (r) { return r[i]; }); }
  var grid = { left: 8, right: 16, top: 16, bottom: 8, containLabel: true };

  if (data.stages.length) {
    draw("chart-stages", {
      tooltip: {}, grid: grid,
      xAxis: { type: "category", data: col(data.stages, 0), axisLabel: { interval: 0 } },
      yAxis: { type: "value" },
      series: [{ type: "bar", name: labels[0], data: col(data.stages, 1), itemStyle: { color: "#2f6fde" } }]
    }, col(data.stages, 2));
  }
  if (data.funnel.length) {
    draw("chart-funnel", {
      tooltip: { trigger: "item" },
      series: [{ type: "funnel", sort: "none", left: "5%", width: "90%", gap: 2, minSize: "25%",
        label: { position: "inside", formatter: "{b}: {c}", color: "#fff", fontWeight: 600 },
        data: data.funnel.map(function (r) { return { name: r[0], value: r[1] }; }) }]
    }, col(data.funnel, 2));
  }
  if (data.flows.length) {
    var names = {};
    data.flows.forEach(function (f) { names[f[0]] = 1; names[f[1]] = 1; });
    draw("chart-flows", {
      tooltip: { trigger: "item" },
      series: [{ type: "sankey", left: 8, right: 120, nodeAlign: "justify", emphasis: { focus: "adjacency" },
        data: Object.keys(names).map(function (n) { return { name: n }; }),
        links: data.flows.map(function (f) { return { source: f[0], target: f[1], value: f[2] }; }),
        lineStyle: { color: "gradient", opacity: 0.4 } }]
    });
  }
  if (data.cohorts) {
    var c = data.cohorts;
    // period 0 is 100% by definition: scale the colours to the later periods
    var top = c.cells.reduce(function (m, cell) { return cell[0] > 0 ? Math.max(m, cell[2]) : m; }, 0);
    top = Math.min(100, Math.max(10, Math.ceil(top / 10) * 10));
    draw("chart-cohorts", {
      tooltip: { position: "top", formatter: function (p) {
        return c.cohorts[p.value[1]] + " +" + c.periods[p.value[0]] + ": " + p.value[2] + "%"; } },
      grid: { left: 8, right: 72, top: 8, bottom: 40, containLabel: true },
      xAxis: { type: "category", name: labels[2], nameLocation: "center", nameGap: 24, data: c.periods },
      yAxis: { type: "category", data: c.cohorts, inverse: true },
      visualMap: { min: 0, max: top, orient: "vertical", right: 0, top: "middle",
        itemHeight: 160, text: [top + "%", "0%"], inRange: { color: ["#f0f4f8", "#2f6fde"] } },
      series: [{ type: "heatmap", data: c.cells, label: { show: c.periods.length <= 13, fontSize: 9 } }]
    });
  }
  if (data.rfm.length) {
    draw("chart-rfm", {
      tooltip: {}, grid: grid,
      xAxis: { type: "value" },
      yAxis: { type: "category", data: col(data.rfm, 0), inverse: true },
      series: [{ type: "bar", name: labels[0], data: col(data.rfm, 1), itemStyle: { color: "#38a169" } }]
    }, col(data.rfm, 2));
  }
  if (data.clv.length) {
    draw("chart-clv", {
      tooltip: {}, grid: grid,
      xAxis: { type: "category", data: col(data.clv, 0), axisLabel: { rotate: 40, fontSize: 10 } },
      yAxis: { type: "value" },
      series: [{ type: "bar", name: labels[0], data: col(data.clv, 1), itemStyle: { color: "#805ad5" } }]
    });
  }
  window.addEventListener("resize", function () { charts.forEach(function (ch) { ch.resize(); }); });
  window.clmCharts = charts;
})();
